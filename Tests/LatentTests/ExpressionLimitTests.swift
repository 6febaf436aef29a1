import XCTest
@testable import Latent

/// Issue 15: the recursive-descent parser had no depth limit and the expression no size bound.
/// On main the first test overflowed the stack (a crash of the whole test process, not a
/// failure) and the atom and constant tests failed: 1,001 atoms parsed, and `1e300*1e300*a`
/// parsed to an infinite coefficient.
final class ExpressionLimitTests: XCTestCase {
    func expectError(_ text: String, _ fragment: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try LatentExpression.parse(text), file: file, line: line) { error in
            guard let e = error as? ExpressionError else { return XCTFail("not an ExpressionError: \(error)", file: file, line: line) }
            XCTAssertTrue(e.message.contains(fragment), "message lacks '\(fragment)': \(e.message)", file: file, line: line)
            XCTAssertLessThan(e.description.count, 400, "a long source is shown as a window", file: file, line: line)
        }
    }

    func testTheIssuesInputsEndInErrors() {
        expectError(String(repeating: "(", count: 25_000) + "seed:1" + String(repeating: ")", count: 25_000), "the limit is 20000")
        expectError(String(repeating: "mean(", count: 20_000) + "seed:1" + String(repeating: ")", count: 20_000), "the limit is 20000")
        expectError(String(repeating: "-", count: 100_000) + "seed:1", "the limit is 20000")
        expectError((1...10_000).map { "seed:\($0)" }.joined(separator: "+"), "the limit is 20000")
    }

    func testDepthIsLimitedAndCounted() throws {
        let limit = LatentExpression.maxDepth
        XCTAssertNoThrow(try LatentExpression.parse(String(repeating: "(", count: limit) + "a" + String(repeating: ")", count: limit)))
        expectError(String(repeating: "(", count: limit + 1) + "a" + String(repeating: ")", count: limit + 1), "deeper than \(limit) levels")
        expectError(String(repeating: "mean(", count: limit + 1) + "a" + String(repeating: ")", count: limit + 1), "deeper than \(limit) levels")
        expectError(String(repeating: "-", count: limit + 1) + "a", "deeper than \(limit) levels")
        expectError(String(repeating: "+-", count: limit / 2 + 1) + "a", "deeper than \(limit) levels")
        // Siblings do not add up: only the nesting counts.
        let wide = (0..<200).map { _ in "(a)" }.joined(separator: " + ")
        XCTAssertEqual(try LatentExpression.parse(wide).atoms.count, 200)
        // The error's column points at the first level too deep.
        XCTAssertThrowsError(try LatentExpression.parse(String(repeating: "-", count: limit + 1) + "a")) {
            XCTAssertEqual(($0 as? ExpressionError)?.column, limit + 1)
        }
    }

    func testAtomsAreLimited() throws {
        let limit = LatentExpression.maxAtoms
        let ok = try LatentExpression.parse(Array(repeating: "a", count: limit).joined(separator: "+"))
        XCTAssertEqual(ok.atoms.count, limit)
        XCTAssertEqual(ok.operands.count, limit)
        expectError(Array(repeating: "a", count: limit + 1).joined(separator: "+"), "more than \(limit) latents")
        expectError("mean(" + Array(repeating: "seed:1", count: limit + 1).joined(separator: ",") + ")", "more than \(limit) latents")
    }

    func testConstantsMustStayFinite() throws {
        expectError("1e300*1e300*a", "the constant overflows")
        expectError("a*(1/1e-320)", "the constant overflows")
        expectError("(1e308 + 1e308)*a", "the constant overflows")
        // Scales of a latent multiply only at evaluation; the result must be a float32 latent.
        let e = try LatentExpression.parse("1e30*(1e30*a)")
        XCTAssertThrowsError(try e.evaluate { _ in [1] }) {
            XCTAssertTrue("\($0)".contains("not finite"), "\($0)")
        }
    }

    /// Found by `Tools/fuzz.sh expression` (Fuzz/crashes/expression/canonical-text-too-deep):
    /// the canonical text wrapped every sign in parentheses, so 80 nested minus signs printed
    /// as 159 levels and no longer parsed back. A chain of factors nested the same way.
    func testCanonicalTextStaysWithinTheLimits() throws {
        for text in [String(repeating: "-", count: 80) + "a*2 + b/4 - -c",
                     "a" + String(repeating: "*2", count: 150),
                     "2*" + String(repeating: "(-", count: 45) + "a" + String(repeating: ")", count: 45),
                     String(repeating: "-2*", count: 90) + "a"] {
            let e = try LatentExpression.parse(text)
            XCTAssertEqual(try LatentExpression.parse(e.description), e, text)
        }
        XCTAssertEqual(try LatentExpression.parse("a*2*3/4"), .scale(.atom(.name("a")), 1.5))
        XCTAssertEqual(try LatentExpression.parse("2*-a").description, "2*-a")
        XCTAssertEqual(try LatentExpression.parse("-(-a)").description, "--a")
        expectError("a" + String(repeating: "*1e300", count: 2), "the constant overflows")
    }

    func testLongSourcesShowAWindowAroundTheColumn() {
        let text = String(repeating: "a + ", count: 100) + "?" + String(repeating: " + a", count: 100)
        XCTAssertThrowsError(try LatentExpression.parse(text)) { error in
            let e = error as! ExpressionError
            XCTAssertEqual(e.column, 401)
            let lines = e.description.split(separator: "\n", omittingEmptySubsequences: false)
            XCTAssertEqual(lines.count, 3)
            let caret = lines[2].firstIndex(of: "^").map { lines[2].distance(from: lines[2].startIndex, to: $0) }
            let mark = lines[1].firstIndex(of: "?").map { lines[1].distance(from: lines[1].startIndex, to: $0) }
            XCTAssertEqual(caret, mark)
        }
    }
}

import XCTest
@testable import Latent

final class ExpressionTests: XCTestCase {
    /// seed:N resolves to [N, 2N, 1]; names to fixed vectors.
    func resolve(_ atom: LatentAtom) throws -> [Float] {
        switch atom {
        case .seed(let s): return [Float(s), Float(2 * s), 1]
        case .name("smile"): return [10, 0, -1]
        case .name("a"): return [1, 0, 0]
        case .name("b"): return [0, 1, 0]
        case .name("c"): return [0, 0, 1]
        case .name(let n): throw LatentError.notFound("no latent named \(n)")
        }
    }

    func eval(_ text: String) throws -> [Float] { try LatentExpression.parse(text).evaluate(resolve) }

    func testDCGANStyleExpression() throws {
        let text = "mean(seed:1,seed:2,seed:3) - mean(seed:4, seed:5) + 0.5*mean(seed:7,seed:8) + smile"
        let e = try LatentExpression.parse(text)
        // means: (2, 4, 1) - (4.5, 9, 1) + 0.5 (7.5, 15, 1) + (10, 0, -1)
        assertClose(try e.evaluate(resolve), [2 - 4.5 + 3.75 + 10, 4 - 9 + 7.5 + 0, 1 - 1 + 0.5 - 1], tolerance: 1e-5)
        let ops = e.operands
        assertClose(ops.map { Float($0.coefficient) }, [1, -1, 0.5, 1], tolerance: 1e-12)
        XCTAssertEqual(ops.map(\.exemplars.count), [3, 2, 2, 1])
        XCTAssertEqual(ops[1].exemplars, [.atom(.seed(4)), .atom(.seed(5))])
        XCTAssertEqual(ops[3].term, .atom(.name("smile")))
        XCTAssertEqual(e.atoms.count, 8)
    }

    func testPrecedenceAndScalars() throws {
        assertClose(try eval("a - b - c"), [1, -1, -1], tolerance: 1e-6)
        assertClose(try eval("a - (b - c)"), [1, -1, 1], tolerance: 1e-6)
        assertClose(try eval("-a*2 + b/4"), [-2, 0.25, 0], tolerance: 1e-6)
        assertClose(try eval("2*(a + b)*3"), [6, 6, 0], tolerance: 1e-6)
        assertClose(try eval("a*-1.5e0"), [-1.5, 0, 0], tolerance: 1e-6)
        assertClose(try eval("(2 - 0.5) * c + .5*a"), [0.5, 0, 1.5], tolerance: 1e-6)
        assertClose(try eval("+a"), [1, 0, 0], tolerance: 1e-6)
        let ops = try LatentExpression.parse("a - 0.5*(b + mean(c, a))").operands
        assertClose(ops.map { Float($0.coefficient) }, [1, -0.5, -0.5], tolerance: 1e-12)
        XCTAssertThrowsError(try eval("nobody"))
    }

    func testDescriptionParsesBack() throws {
        for text in ["mean(seed:1, seed:2) - 0.5*(a + b) + -c", "a - (b - c)", "-(a + b)", "3*smile/2"] {
            let e = try LatentExpression.parse(text)
            XCTAssertEqual(try LatentExpression.parse(e.description), e, text)
        }
    }

    func assertError(_ text: String, _ message: String, column: Int, file: StaticString = #filePath, line: UInt = #line) {
        do {
            _ = try LatentExpression.parse(text)
            XCTFail("'\(text)' parsed", file: file, line: line)
        } catch let error as ExpressionError {
            XCTAssertEqual(error.message, message, file: file, line: line)
            XCTAssertEqual(error.column, column, "'\(text)'", file: file, line: line)
        } catch {
            XCTFail("unexpected error \(error)", file: file, line: line)
        }
    }

    func testErrorColumns() {
        assertError("mean(seed:1, seed:2", "expected ',' or ')'", column: 20)
        assertError("(a + b", "expected ')'", column: 7)
        assertError("seed:x", "expected a seed number after 'seed:'", column: 6)
        assertError("seed:1.5", "a seed must be a whole number from 0 to 18446744073709551615", column: 6)
        assertError("a + * b", "expected a latent, a number or '('", column: 5)
        assertError("a b", "unexpected 'b'; expected +, -, *, / or the end", column: 3)
        assertError("a * b", "cannot multiply two latents; one side of '*' must be a number", column: 3)
        assertError("a / b", "'/' must be followed by a number", column: 5)
        assertError("a / 0", "division by zero", column: 5)
        assertError("a + 2", "cannot add a number and a latent; numbers only scale latents (use '*')", column: 3)
        assertError("a $ b", "unexpected character '$'", column: 3)
        assertError("mean()", "expected a latent, a number or '('", column: 6)
        assertError("mean(a, 2)", "mean(...) takes latents, not numbers", column: 9)
        assertError("", "expected a latent, a number or '('", column: 1)
        assertError("  2*3", "the expression is a number, not a latent", column: 3)
        assertError("1.2.3*a", "malformed number '1.2.3'", column: 1)
    }

    func testErrorDescriptionHasCaretLine() {
        do {
            _ = try LatentExpression.parse("mean(seed:1, seed:2")
            XCTFail("parsed")
        } catch {
            XCTAssertEqual("\(error)", "expected ',' or ')' at column 20\n  mean(seed:1, seed:2\n" + String(repeating: " ", count: 21) + "^")
        }
    }

    func testSizeMismatchDuringEvaluation() throws {
        let e = try LatentExpression.parse("a + bad")
        XCTAssertThrowsError(try e.evaluate { $0 == .name("a") ? [1, 2] : [1, 2, 3] })
    }
}

import XCTest
import Tensor

/// |actual - expected| <= tolerance, element by element.
func assertClose(_ actual: [Float], _ expected: [Float], tolerance: Float,
                 _ message: String = "", file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(actual.count, expected.count, "sizes differ \(message)", file: file, line: line)
    for (i, (a, e)) in zip(actual, expected).enumerated() where !(abs(a - e) <= tolerance) {
        XCTFail("component \(i): \(a) vs \(e) (tolerance \(tolerance)) \(message)", file: file, line: line)
        return
    }
}

func assertClose(_ actual: Double, _ expected: Double, tolerance: Double,
                 _ message: String = "", file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertTrue(abs(actual - expected) <= tolerance,
                  "\(actual) vs \(expected) (tolerance \(tolerance)) \(message)", file: file, line: line)
}

func assertClose(_ actual: Float, _ expected: Float, tolerance: Float,
                 _ message: String = "", file: StaticString = #filePath, line: UInt = #line) {
    assertClose(Double(actual), Double(expected), tolerance: Double(tolerance), message, file: file, line: line)
}

func norm(_ v: [Float]) -> Double { v.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot() }
func dot(_ a: [Float], _ b: [Float]) -> Double { zip(a, b).reduce(0) { $0 + Double($1.0) * Double($1.1) } }
func distance(_ a: [Float], _ b: [Float]) -> Double {
    zip(a, b).reduce(0) { $0 + (Double($1.0) - Double($1.1)) * (Double($1.0) - Double($1.1)) }.squareRoot()
}
func angle(_ a: [Float], _ b: [Float]) -> Double { acos(min(1, max(-1, dot(a, b) / (norm(a) * norm(b))))) }

/// SplitMix64 written again from the published constants (Steele, Lea, Flood 2014; Vigna's
/// splitmix64.c), independent of the library's copy.
struct ReferenceSplitMix {
    var x: UInt64
    mutating func next() -> UInt64 {
        x = x &+ 0x9E3779B97F4A7C15
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9
        z = (z ^ (z >> 27)) &* 0x94D049BB133111EB
        return z ^ (z >> 31)
    }
    mutating func unit() -> Double { Double(next() >> 11) / 9007199254740992.0 }   // 2^53
    /// Box-Muller, cosine branch, u1 taken as 1 - unit so the log is finite.
    mutating func normal() -> Double {
        let u1 = 1 - unit(), u2 = unit()
        return sqrt(-2 * log(u1)) * cos(2 * Double.pi * u2)
    }
}

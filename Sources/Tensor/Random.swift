import Foundation

/// A specified, platform-independent random generator: SplitMix64 (Steele, Lea, Flood 2014).
/// The same seed gives the same stream on every machine; the system RNG is never used.
public struct SplitMix64: RandomNumberGenerator, Sendable, Codable, Equatable {
    public private(set) var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 53 random bits.
    public mutating func nextUnit() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// Standard normal by Box-Muller; each call draws two uniforms and uses the cosine branch,
    /// so every value depends only on its own position in the stream.
    public mutating func nextNormal() -> Double {
        let u1 = 1.0 - nextUnit()          // (0, 1]: log is finite
        let u2 = nextUnit()
        return (-2.0 * Foundation.log(u1)).squareRoot() * Foundation.cos(2.0 * Double.pi * u2)
    }
}

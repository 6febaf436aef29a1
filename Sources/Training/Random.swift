import Foundation

/// SplitMix64 (Steele, Lea, Flood 2014), bit for bit the stream of `Latent.SplitMix64`.
/// Training sits beside Latent in the stack and cannot import it, so the dozen lines live here
/// too; `TrainingTests.testRandomStreamMatchesSplitMix64Reference` pins the published values.
public struct RandomStream: RandomNumberGenerator, Sendable, Equatable {
    public private(set) var state: UInt64

    public init(seed: UInt64) { state = seed }

    /// A stream for one (seed, purpose, index) triple, e.g. the noise of training step 1234:
    /// every step draws from its own stream, so resuming at step N needs only N.
    public init(seed: UInt64, purpose: UInt64, index: UInt64) {
        var mixer = RandomStream(seed: seed ^ (purpose &* 0xD6E8_FEB8_6659_FD93))
        _ = mixer.next()
        state = mixer.next() ^ (index &* 0x9E37_79B9_7F4A_7C15)
        _ = next()
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 53 random bits.
    public mutating func nextUnit() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// Standard normal by Box-Muller, cosine branch only (as `Latent.SplitMix64`).
    public mutating func nextNormal() -> Double {
        let u1 = 1.0 - nextUnit()
        let u2 = nextUnit()
        return (-2.0 * Foundation.log(u1)).squareRoot() * Foundation.cos(2.0 * Double.pi * u2)
    }

    /// A uniformly random index in 0..<n.
    public mutating func nextIndex(_ n: Int) -> Int { Int(next() % UInt64(n)) }

    /// Fisher-Yates permutation of 0..<n.
    public mutating func permutation(_ n: Int) -> [Int] {
        var p = Array(0..<n)
        if n < 2 { return p }
        for i in stride(from: n - 1, to: 0, by: -1) { p.swapAt(i, nextIndex(i + 1)) }
        return p
    }
}

/// Purposes for `RandomStream(seed:purpose:index:)`, so no two uses share a stream.
enum StreamPurpose: UInt64 {
    case initialiseGenerator = 1, initialiseDiscriminator, epochOrder, step, fixedNoise, toyData
}

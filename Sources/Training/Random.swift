import Foundation
import Tensor

/// Training's random streams: `Tensor.SplitMix64` (the generator seeds use everywhere in
/// Forger) with a derivation of one stream per (seed, purpose, index) and the draws the loop needs.
public struct RandomStream: RandomNumberGenerator, Sendable, Equatable {
    private var core: SplitMix64

    /// The generator's whole state (what a checkpoint stores).
    public var state: UInt64 { core.state }

    public init(seed: UInt64) { core = SplitMix64(seed: seed) }

    /// A stream for one (seed, purpose, index) triple, e.g. the noise of training step 1234:
    /// every step draws from its own stream, so resuming at step N needs only N.
    public init(seed: UInt64, purpose: UInt64, index: UInt64) {
        var mixer = SplitMix64(seed: seed ^ (purpose &* 0xD6E8_FEB8_6659_FD93))
        _ = mixer.next()
        core = SplitMix64(seed: mixer.next() ^ (index &* 0x9E37_79B9_7F4A_7C15))
        _ = core.next()
    }

    public mutating func next() -> UInt64 { core.next() }

    /// Uniform in [0, 1) with 53 random bits.
    public mutating func nextUnit() -> Double { core.nextUnit() }

    /// Standard normal by Box-Muller, cosine branch only.
    public mutating func nextNormal() -> Double { core.nextNormal() }

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
    /// Conditional training: the class embeddings' initial values and the fakes' classes.
    case initialiseEmbeddings, fakeLabels
    /// Projection: the random starting latents of each image.
    case projectionStarts
}

import CGemm
import Foundation

/// The channel-vector kernel (CGemm's `chanvec_body.h`) for `PhasedConv`'s phases with many output
/// channels: sums for 16, 32 or 64 output channels (1, 2 or 4 vectors) at up to 24, 13 or 6
/// consecutive output columns (AVX-512; fewer on AVX2 and NEON) stay in registers over each 16 KB
/// slice of the weights. The packed weights are the vector operand and the input values are
/// broadcast straight from the padded window, so no block of the input is packed (FastGemm's cost
/// that grows as the channels shrink).
/// `Tools/kernel_bench.sh` compares the two on benchmark A's and B's layer shapes.
enum ChannelVectors {
    /// Vectors a tile for `channels` output channels and phases whose rows have `columns`
    /// outputs: two or four, whichever keeps more sums in registers that are real outputs (lanes
    /// past the channels and columns the tiles split unevenly count for nothing), two on a tie
    /// (A's third layer: 159-169 against 156-164 GFLOP/s); one only for 16 channels or fewer (a
    /// vector of weights and a broadcast for each multiply-add: 140-154 GFLOP/s on A's third
    /// layer). `Tools/kernel_bench.sh` prints these figures.
    static func vectors(channels: Int, columns: [Int]) -> Int {
        if channels <= 16 { return 1 }
        var best = (vectors: 0, score: 0.0)
        for v in [2, 4] {
            let most = Int(forger_chanvec_most_columns(Int32(v)))
            let width = 16 * v
            let lanes = Double(channels) / Double((channels + width - 1) / width * width)
            // Average real columns a tile over the phases' rows.
            let tiles = columns.map { ($0 + most - 1) / most }
            let perTile = Double(columns.reduce(0, +)) / Double(max(1, tiles.reduce(0, +)))
            let score = lanes * Double(v) * perTile
            if score > best.score + 1e-9 { best = (v, score) }
        }
        return best.vectors
    }

    /// weight (channels x depth, row-major) packed for the kernel, 64-byte aligned.
    static func pack(channels: Int, depth: Int, vectors: Int, _ weight: [Float]) -> AlignedFloats {
        precondition(weight.count == channels * depth, "ChannelVectors.pack: \(weight.count) weights for \(channels) x \(depth)")
        let packed = AlignedFloats(count: forger_chanvec_packed_count(Int32(channels), Int32(depth), Int32(vectors)))
        weight.withUnsafeBufferPointer { forger_chanvec_pack(Int32(channels), Int32(depth), Int32(vectors), $0.baseAddress, packed.base) }
        return packed
    }
}

/// Floats on a 64-byte boundary (aligned vector loads: the kernel's weights straddled two cache
/// lines per load otherwise, and ran up to a third slower), immutable once filled.
final class AlignedFloats: @unchecked Sendable {
    let base: UnsafeMutablePointer<Float>
    let count: Int

    init(count: Int) {
        self.count = count
        base = UnsafeMutableRawPointer.allocate(byteCount: max(64, 4 * count), alignment: 64)
            .bindMemory(to: Float.self, capacity: max(16, count))
        base.initialize(repeating: 0, count: max(16, count))
    }

    deinit { base.deallocate() }
}

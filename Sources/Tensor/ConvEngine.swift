/// The kernel a `PhasedConv` runs its phases on, chosen once when it is built
/// (`choose(for:policy:)`). The first three need a vector path (`FastGemm.supported`); the last
/// two run on OpenBLAS. Each has its own file: `PhasedConv+Direct.swift`,
/// `PhasedConv+ChannelVectors.swift`, `PhasedConv+FastGemm.swift`, `PhasedConv+Shifted.swift`,
/// `PhasedConv+Im2col.swift`.
public enum ConvEngine: Sendable, Equatable {
    /// Few output channels: each phase as a direct correlation straight from the unpadded input
    /// (`forger_direct_phase`), sums held in registers; no product whose panels of eight rows
    /// would be mostly empty, no padded copy.
    case direct
    /// Many output channels whose outputs read consecutive input columns: the channel-vector
    /// kernel (`ChannelVectors`), `vectorsPerTile` vectors of 16 output channels a tile, over
    /// padded windows read in place. It adds in FastGemm's order, so the two give the same bits.
    case channelVectors(vectorsPerTile: Int)
    /// FastGemm: the summed kernel packed at build, the padded window read through tables, bias
    /// and activation fused into the store.
    case fastGemm
    /// Every axis reads consecutive input rows and columns and the padded window has little
    /// spare: one sgemm per tap straight on a zero-padded copy of the input, no column matrix.
    case shifted
    /// Gather a column matrix, one sgemm, fused write-back: everything else.
    case im2col

    /// Fewest output channels for FastGemm where the direct kernel does not take the layer: its
    /// panels are 8 rows, so few channels waste most of the multiply-adds (and still beat
    /// OpenBLAS's small kernels: 3 channels, on benchmark B's last layer).
    static let fastMinimumChannels = 3

    /// FastGemm or the channel-vector kernel: both read the zero-padded window of a group of
    /// images, and split a single image into stages (padding, then bands of each phase).
    public var readsPaddedGroups: Bool {
        switch self {
        case .fastGemm, .channelVectors: return true
        default: return false
        }
    }

    /// Vectors a tile of the channel-vector kernel; 0 on every other engine.
    var vectors: Int {
        if case .channelVectors(let v) = self { return v }
        return 0
    }

    /// The engine for phases of geometry `g` under `policy`.
    static func choose(for g: PhaseGeometry, policy: KernelPolicy) -> ConvEngine {
        let o = g.outChannels
        let vector = policy.usesFastGemm
        if vector && o <= policy.directMaximumChannels && g.consecutive && g.xs.allSatisfy({ $0.taps.count <= 16 }) {
            return .direct
        }
        // FastGemm's tables are 32-bit: a group's output and padded window must fit (a large
        // image falls back to OpenBLAS).
        let groupMost = 16 * max(o * g.outHeight * g.outWidth, g.inChannels * g.paddedHeight * g.paddedWidth)   // 16: the largest group
        if vector && o >= fastMinimumChannels && groupMost < Int(Int32.max) {
            if o >= policy.channelVectorMinimumChannels && g.xs.allSatisfy(PhaseGeometry.consecutive) {
                let v = ChannelVectors.vectors(channels: o, columns: g.xs.map(\.outCount))
                if v > 0 { return .channelVectors(vectorsPerTile: v) }
            }
            return .fastGemm
        }
        if g.consecutive && g.spareRatio <= policy.shiftedSpareLimit + 32 / Double(o) { return .shifted }
        return .im2col
    }
}

/// The tunables that decide which kernels a plan runs on, as one value passed where plans and
/// `PhasedConv`s are built (`InferencePlan`, the training kernels' `FastConv`), so that a test or
/// a benchmark asks for one engine by building with another policy instead of moving a global.
/// `default` is read when it is asked for: FastGemm on wherever a vector path is active (the CPU's
/// best, or the one FORGER_ISA names; FORGER_NO_FAST_GEMM=1 turns it off), one worker per core.
public struct KernelPolicy: Sendable, Equatable {
    /// Convolutions and dense steps on FastGemm and its sibling kernels (channel vectors,
    /// direct); false keeps im2col / shifted products on OpenBLAS. Has no effect where no vector
    /// path is active.
    public var fastGemm: Bool
    /// Workers a plan splits its work over.
    public var workers: Int
    /// Spare-window ratio up to which the shifted products win over gathering columns (plus
    /// 32 / output channels): the shifted products also compute the padded window's spare rows
    /// and columns, which on small images costs more than gathering does, the less so the more
    /// output channels share each gathered column (limits measured on benchmarks A, B and C).
    public var shiftedSpareLimit: Double
    /// Most output channels for the direct kernel. Up to four: B's last layer (three channels)
    /// runs about three times as fast on it as on FastGemm, whose panels of eight rows are then
    /// mostly empty (`Tools/kernel_bench.sh`).
    public var directMaximumChannels: Int
    /// Multiply-adds per image from which the direct kernel splits a single image over workers;
    /// below it a single image runs inline (handing a few microseconds of work to another core
    /// costs more than it saves).
    public var directSplitMultiplyAdds: Int
    /// Fewest output channels for the channel-vector kernel: below 16, most of its lanes would
    /// be empty (FastGemm's panels are 8 rows).
    public var channelVectorMinimumChannels: Int

    public init(fastGemm: Bool = FastGemm.supported, workers: Int = Parallel.workerCount,
                shiftedSpareLimit: Double = 1.2, directMaximumChannels: Int = 4,
                directSplitMultiplyAdds: Int = 1 << 20, channelVectorMinimumChannels: Int = 16) {
        self.fastGemm = fastGemm
        self.workers = max(1, workers)
        self.shiftedSpareLimit = shiftedSpareLimit
        self.directMaximumChannels = directMaximumChannels
        self.directSplitMultiplyAdds = directSplitMultiplyAdds
        self.channelVectorMinimumChannels = channelVectorMinimumChannels
    }

    /// The policy of this process as it stands: see the type's comment.
    public static var `default`: KernelPolicy { KernelPolicy() }

    /// FastGemm off: every convolution on im2col or the shifted products over OpenBLAS.
    public static var openBLAS: KernelPolicy { KernelPolicy(fastGemm: false) }

    /// Whether the FastGemm family of kernels runs: asked for, and a vector path active.
    public var usesFastGemm: Bool { fastGemm && FastGemm.supported }
}

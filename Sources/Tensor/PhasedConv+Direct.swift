import CGemm

/// The direct engine (`ConvEngine.direct`, CGemm's `direct_body.h`): each phase as a direct
/// correlation straight from the unpadded input, blocks of output rows by a vector of columns
/// held in registers, bias and activation applied in the store. No scratch.
extension PhasedConv {
    /// x (N, C, H, W) -> y (N, O, OH, OW): whole phases of an image each, claimed in turn. Fewer
    /// images than workers: inline when small (A's and C's last layers take a few microseconds,
    /// and handing half to another core cost 5-11% of images/s at batch 1), else bands of rows.
    func forwardDirect(_ x: UnsafePointer<Float>, count n: Int, into y: UnsafeMutablePointer<Float>, workers: Int) {
        let split = n < workers && directSplits
        let tasks = directTasks(split: split, workers: workers)
        Parallel.forClaims(n * tasks, maxWorkers: n < workers && !split ? 1 : workers) { task, _ in
            runDirectTask(task % tasks, of: tasks, image: task / tasks, x, y)
        }
    }

    /// The direct kernel's tasks per image: its phases, whole, or `split` into bands of rows so
    /// that each worker has one.
    func directTasks(split: Bool, workers: Int) -> Int {
        phases.count * (split ? (workers + phases.count - 1) / phases.count : 1)
    }

    /// Task `task` of an image's `tasks` on the direct kernel: a band of one phase's rows.
    func runDirectTask(_ task: Int, of tasks: Int, image: Int, _ x: UnsafePointer<Float>,
                       _ y: UnsafeMutablePointer<Float>) {
        let bands = tasks / phases.count
        let (p, b) = (task / bands, task % bands)
        let rows = phases[p].y.outCount
        runDirect(p, image: image, rows: (rows * b / bands)..<(rows * (b + 1) / bands), x, y)
    }

    /// One phase of one image, rows `rows`, as a direct correlation on the unpadded input.
    private func runDirect(_ p: Int, image: Int, rows: Range<Int>, _ x: UnsafePointer<Float>,
                           _ y: UnsafeMutablePointer<Float>) {
        if rows.isEmpty { return }
        let ph = phases[p], outPlane = outHeight * outWidth
        let (code, slope) = activation.kernelCode
        ph.weight.withUnsafeBufferPointer { w in
            bias.withUnsafeBufferPointer { b in
                var d = forger_direct_conv(
                    out_channels: Int32(outChannels), in_channels: Int32(inChannels),
                    height: Int32(inHeight), width: Int32(inWidth),
                    x: x + image * inChannels * inHeight * inWidth, weight: w.baseAddress ?? b.baseAddress,
                    taps_y: Int32(ph.y.taps.count), taps_x: Int32(ph.x.taps.count),
                    in_row: Int32(ph.y.inStart), in_column: Int32(ph.x.inStart), columns: Int32(ph.x.outCount),
                    y: y + image * outChannels * outPlane + ph.y.outStart * outWidth + ph.x.outStart,
                    y_plane: outPlane, y_row: ph.y.outStep * outWidth, y_column: ph.x.outStep,
                    bias: b.baseAddress, activation: code, slope: slope)
                let done = forger_direct_phase(&d, Int32(rows.lowerBound), Int32(rows.upperBound))
                precondition(done == 1, "the direct kernel refused a phase it was built for")
            }
        }
    }
}

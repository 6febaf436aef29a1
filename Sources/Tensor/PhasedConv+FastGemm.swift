/// The FastGemm engine (`ConvEngine.fastGemm`): each phase's summed kernel packed once into
/// FastGemm's panels of 8 rows; B read straight from the zero-padded window of a group of images
/// through tables (which channel and tap, which position), so there is no column matrix and no
/// spare position; bias, activation and the place in the output fused into the store.
extension PhasedConv {
    /// Builds each phase's tables and packed kernel, and lays out the scratch: the padded window of
    /// enough images per product to fill a few blocks of columns, then FastGemm's own scratch.
    static func prepareFastGemm(_ phases: inout [Phase], _ geo: PhaseGeometry, smallest: Int) -> Layout {
        let o = geo.outChannels, ow = geo.outWidth
        let plane = geo.paddedHeight * geo.paddedWidth
        let g = max(1, min(16, 512 / max(1, smallest)))
        let offset = geo.inChannels * plane * g + geo.paddedWidth + 64
        let outPlane = geo.outHeight * ow
        for i in phases.indices {
            let ph = phases[i]
            let (rows, cols) = (ph.y.outCount, ph.x.outCount)
            var map = [Int32](repeating: 0, count: g * rows * cols), at = map
            for gi in 0..<g {
                for t in 0..<rows {
                    let line = gi * o * outPlane + (ph.y.outStart + t * ph.y.outStep) * ow + ph.x.outStart
                    let source = gi * plane + (ph.y.inStart - geo.padTop + t * ph.y.inStep) * geo.paddedWidth
                        + ph.x.inStart - geo.padLeft
                    for u in 0..<cols {
                        let q = (gi * rows + t) * cols + u
                        map[q] = Int32(line + u * ph.x.outStep)
                        at[q] = Int32(source + u * ph.x.inStep)
                    }
                }
            }
            phases[i].columns = map
            phases[i].positions = at
            phases[i].packed = ph.weight.withUnsafeBufferPointer { wt in
                FastGemm.pack(m: o, k: ph.patch, wt.baseAddress!, lda: ph.patch)
            }
        }
        return Layout(imagesPerProduct: g, scratchPerWorker: offset + FastGemm.scratchCount(rows: o), gemmScratchOffset: offset)
    }

    /// Item `item` of a single image's phase stage: one phase split over the workers by bands of
    /// positions (whole blocks of columns) where there are enough, else by bands of output
    /// channels (whole panels of the packed weights); one band a worker and phase (two or four
    /// bands a worker cost more than they balance: 7-28% fewer images/s on A, B and C at batch 1).
    func runFastStage(_ item: Int, worker: Int, image: Int, into y: UnsafeMutablePointer<Float>,
                      scratch: UnsafeMutablePointer<Float>, workers: Int) {
        func band(_ b: Int, of count: Int, unit: Int) -> Range<Int> {
            func cut(_ k: Int) -> Int { min(count, (count * k / workers + unit - 1) / unit * unit) }
            return cut(b)..<cut(b + 1)
        }
        let (p, b) = (item / workers, item % workers)
        let positions = phases[p].y.outCount * phases[p].x.outCount
        let s = scratch + worker * scratchPerWorker + gemmScratchOffset
        if positions >= 2 * FastGemm.blockColumns * workers {
            runFast(p, images: image..<(image + 1), channels: 0..<outChannels,
                    columns: band(b, of: positions, unit: FastGemm.blockColumns), scratch, y, gemmScratch: s)
        } else {
            let channels = band(b, of: outChannels, unit: FastGemm.panelRows)
            if !channels.isEmpty { runFast(p, images: image..<(image + 1), channels: channels, scratch, y, gemmScratch: s) }
        }
    }

    /// One phase on padded images through FastGemm, output channels `channels` (a band starting
    /// on a panel of the packed weights): column q of the product is output position q of the
    /// group; row c * taps + e of B is channel c's window shifted by tap e, read at the phase's
    /// `positions`; bias, activation and the place in y are applied by the store.
    func runFast(_ p: Int, images: Range<Int>, channels: Range<Int>, columns: Range<Int>? = nil,
                 _ xp: UnsafeMutablePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                 gemmScratch: UnsafeMutablePointer<Float>) {
        let ph = phases[p]
        let g = images.count, plane = paddedHeight * paddedWidth
        let q = columns ?? 0..<(g * ph.y.outCount * ph.x.outCount)
        if q.isEmpty { return }
        let c0 = channels.lowerBound, outPlane = outHeight * outWidth
        withUnsafeTemporaryAllocation(of: Int.self, capacity: max(1, ph.patch)) { offsets in
            Self.tapOffsets(ph, channels: inChannels, channelStride: g * plane, rowStride: paddedWidth, into: offsets.baseAddress!)
            bias.withUnsafeBufferPointer { b in
                ph.packed.withUnsafeBufferPointer { a in
                    ph.positions.withUnsafeBufferPointer { at in
                        ph.columns.withUnsafeBufferPointer { map in
                            FastGemm.multiply(m: channels.count, n: q.count, k: ph.patch,
                                              packedA: (a.baseAddress ?? b.baseAddress!) + (a.isEmpty ? 0 : c0 * ph.patch),
                                              b: .implicit(xp, offsets: offsets.baseAddress!, positions: at.baseAddress! + q.lowerBound),
                                              into: .init(base: y + (images.lowerBound * outChannels + c0) * outPlane,
                                                          rowStride: outPlane, columns: map.baseAddress! + q.lowerBound,
                                                          bias: b.baseAddress! + c0, activation: activation),
                                              scratch: gemmScratch)
                        }
                    }
                }
            }
        }
    }
}

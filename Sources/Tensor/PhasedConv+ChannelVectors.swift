import CGemm

/// The channel-vector engine (`ConvEngine.channelVectors`, `ChannelVectors` over CGemm's
/// `chanvec_body.h`): tiles of 16, 32 or 64 output channels by a few consecutive output columns,
/// the packed weights the vector operand, input values broadcast straight from the padded windows
/// of a few images read in place. It adds in FastGemm's order, so the two give the same bits.
extension PhasedConv {
    /// Packs each phase's summed kernel for the kernel and its depth offsets, and lays out the
    /// scratch: padded windows of a few images, one after another, as many as fit in about 512 KB,
    /// so that they stay in L2 with a block of weights (up to 256 KB), which every image then
    /// reuses (A's first layer has 2 MB of weights, more than L2 holds with the rest; taken image
    /// by image, with no depth slices, A ran at 0.94x FastGemm's build).
    static func prepareChannelVectors(_ phases: inout [Phase], _ g: PhaseGeometry, vectors: Int) -> Layout {
        let c = g.inChannels, o = g.outChannels
        let plane = g.paddedHeight * g.paddedWidth, rowStride = g.paddedWidth
        let images = max(1, min(16, (1 << 17) / max(1, c * plane)))
        let offset = images * c * plane + g.paddedWidth + 64
        for i in phases.indices {
            let ph = phases[i]
            phases[i].vectorOffsets = [Int](unsafeUninitializedCapacity: ph.patch) { offsets, count in
                if let base = offsets.baseAddress { tapOffsets(ph, channels: c, channelStride: plane, rowStride: rowStride, into: base) }
                count = ph.patch
            }
            phases[i].vectorWeights = ChannelVectors.pack(channels: o, depth: ph.patch, vectors: vectors, ph.weight)
        }
        return Layout(imagesPerProduct: images, scratchPerWorker: offset, gemmScratchOffset: offset)
    }

    /// Rows times blocks of channels of phase `p` on the channel-vector kernel.
    func vectorTiles(_ p: Int) -> Int {
        phases[p].y.outCount * ((outChannels + 16 * vectors - 1) / (16 * vectors))
    }

    /// Item `item` of a single image's phase stage: the rows of each block of channels of one
    /// phase, block by block, in even bands, from the padded window at `scratch`.
    func runVectorStage(_ item: Int, image: Int, into y: UnsafeMutablePointer<Float>,
                        scratch: UnsafeMutablePointer<Float>, workers: Int) {
        let (p, b) = (item / workers, item % workers)
        let tiles = vectorTiles(p)
        runVectors(p, images: image..<(image + 1), tiles: (tiles * b / workers)..<(tiles * (b + 1) / workers), scratch, y)
    }

    /// Tiles `tiles` of phase `p` (of `vectorTiles(p)`: row t of block b is b * rows + t) of
    /// `images` on the channel-vector kernel, from their padded windows, one after another at `xp`.
    func runVectors(_ p: Int, images: Range<Int>, tiles: Range<Int>, _ xp: UnsafePointer<Float>,
                    _ y: UnsafeMutablePointer<Float>) {
        let ph = phases[p], rows = ph.y.outCount, outPlane = outHeight * outWidth
        let (code, slope) = activation.kernelCode
        ph.vectorOffsets.withUnsafeBufferPointer { offsets in
            bias.withUnsafeBufferPointer { b in
                var d = forger_chanvec_conv(
                    out_channels: Int32(outChannels), depth: Int32(ph.patch), vectors: Int32(vectors),
                    weight: ph.vectorWeights!.base, offsets: offsets.baseAddress, images: Int32(images.count),
                    x: xp + (ph.y.inStart - padTop) * paddedWidth + (ph.x.inStart - padLeft),
                    x_image: inChannels * paddedHeight * paddedWidth, x_row: ph.y.inStep * paddedWidth,
                    columns: Int32(ph.x.outCount),
                    y: y + images.lowerBound * outChannels * outPlane + ph.y.outStart * outWidth + ph.x.outStart,
                    y_image: outChannels * outPlane, y_plane: outPlane, y_row: ph.y.outStep * outWidth, y_column: ph.x.outStep,
                    bias: b.baseAddress, activation: code, slope: slope)
                var i = tiles.lowerBound
                while i < tiles.upperBound {
                    let (block, row) = i.quotientAndRemainder(dividingBy: rows)
                    let end = min(rows, row + tiles.upperBound - i)
                    let done = forger_chanvec_phase(&d, Int32(row), Int32(end), Int32(block), Int32(block + 1))
                    precondition(done == 1, "the channel-vector kernel refused a phase it was built for")
                    i += end - row
                }
            }
        }
    }
}

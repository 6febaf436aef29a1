/// The zero-padded window the gathering engines (FastGemm, channel vectors, shifted products)
/// read: rows padTop..<padTop+paddedHeight and columns padLeft..<padLeft+paddedWidth of each
/// input channel, zeros outside the input.
extension PhasedConv {
    /// Where each step of a phase's depth (channel c, tap ey, ex: c * taps + ey * taps.x + ex, the
    /// order of its summed kernel) reads a padded window, relative to the output position's place:
    /// FastGemm's rows of B and the channel-vector kernel's broadcasts.
    static func tapOffsets(_ ph: Phase, channels: Int, channelStride: Int, rowStride: Int,
                           into offsets: UnsafeMutablePointer<Int>) {
        let ty = ph.y.taps.count, tx = ph.x.taps.count
        for ch in 0..<channels {
            for ey in 0..<ty {
                for ex in 0..<tx { offsets[(ch * ty + ey) * tx + ex] = ch * channelStride + ey * rowStride + ex }
            }
        }
    }

    /// Copies channels `channels` of images into the zero-padded window, laid out (C, images,
    /// paddedHeight, paddedWidth), zeroing only what the copy leaves; the (one non-empty) band from
    /// channel 0 also zeroes the spare floats after the window that the shifted products read past
    /// its end.
    func pad(_ x: UnsafePointer<Float>, images: Range<Int>, channels: Range<Int>? = nil,
                     into xp: UnsafeMutablePointer<Float>) {
        let channels = channels ?? 0..<inChannels
        Self.copyWindow(x, images: images, channels: channels, of: (inChannels, inHeight, inWidth),
                        top: padTop, left: padLeft, height: paddedHeight, width: paddedWidth, into: xp, zeroing: true)
        if channels.lowerBound == 0 && !channels.isEmpty {
            (xp + inChannels * images.count * paddedHeight * paddedWidth).update(repeating: 0, count: paddedWidth + 64)
        }
    }

    /// Copies channels `channels` of images `images` of x (N, C, H, W) into a window laid out
    /// (C, images, height, width) whose row r, column u is input row top + r, column left + u.
    /// What falls outside the input is zeroed with `zeroing`, else left as it is (a window the
    /// caller zeroed first).
    static func copyWindow(_ x: UnsafePointer<Float>, images: Range<Int>, channels: Range<Int>,
                           of shape: (c: Int, h: Int, w: Int), top: Int, left: Int, height hp: Int, width wp: Int,
                           into xp: UnsafeMutablePointer<Float>, zeroing: Bool = false) {
        let (h, w) = (shape.h, shape.w)
        let plane = hp * wp, g = images.count
        var (rowLo, rowHi) = (max(0, top), min(h, top + hp))
        var (colLo, colHi) = (max(0, left), min(w, left + wp))
        if rowLo >= rowHi || colLo >= colHi { (rowLo, rowHi, colLo, colHi) = (top, top, left, left) }
        // The window's rows r0..<r1 and columns u0..<u1 come from the input.
        let (r0, r1, u0, u1) = (rowLo - top, rowHi - top, colLo - left, colHi - left)
        for (gi, img) in images.enumerated() {
            for c in channels {
                let src = x + (img * shape.c + c) * h * w
                let dst = xp + (c * g + gi) * plane
                if zeroing { dst.update(repeating: 0, count: r0 * wp) }
                for r in r0..<r1 {
                    let line = dst + r * wp
                    if zeroing { line.update(repeating: 0, count: u0) }
                    (line + u0).update(from: src + (r + top) * w + colLo, count: u1 - u0)
                    if zeroing { (line + u1).update(repeating: 0, count: wp - u1) }
                }
                if zeroing { (dst + r1 * wp).update(repeating: 0, count: (hp - r1) * wp) }
            }
        }
    }

}

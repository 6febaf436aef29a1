import Foundation

public enum ImageMetrics {
    /// Mean squared error over all samples of two same-shaped images.
    public static func meanSquaredError(_ a: PixelImage, _ b: PixelImage) -> Double {
        precondition(a.width == b.width && a.height == b.height && a.channels == b.channels, "images differ in shape")
        var sum = 0
        let rowBytes = a.width * a.channels
        for y in 0..<a.height {
            let oa = y * a.stride, ob = y * b.stride
            for i in 0..<rowBytes {
                let d = Int(a.pixels[oa + i]) - Int(b.pixels[ob + i])
                sum += d * d
            }
        }
        return Double(sum) / Double(rowBytes * a.height)
    }

    /// Peak signal-to-noise ratio in dB, `10 log10(255^2 / MSE)`; +infinity for identical images.
    public static func psnr(_ a: PixelImage, _ b: PixelImage) -> Double {
        let mse = meanSquaredError(a, b)
        return mse == 0 ? .infinity : 10 * log10(255 * 255 / mse)
    }

    /// PSNR over a whole sequence (MSE averaged over all frames, then converted).
    public static func psnr(_ a: [PixelImage], _ b: [PixelImage]) -> Double {
        precondition(a.count == b.count && !a.isEmpty, "sequences differ in length")
        let mse = zip(a, b).map { meanSquaredError($0, $1) }.reduce(0, +) / Double(a.count)
        return mse == 0 ? .infinity : 10 * log10(255 * 255 / mse)
    }
}

import Foundation
import CZlib
import Imaging
import Tensor

/// Why a dataset cannot be used; every message says what, where and what to do.
public enum DatasetError: Error, CustomStringConvertible, Equatable {
    case cannotRead(path: String, reason: String)
    case badFormat(path: String, reason: String)
    case empty(path: String, hint: String)
    case mixedSizes(path: String, first: String, other: String, otherPath: String)
    case labelMismatch(path: String, reason: String)

    public var description: String {
        switch self {
        case .cannotRead(let path, let reason): return "cannot read dataset \(path): \(reason)"
        case .badFormat(let path, let reason): return "\(path): \(reason)"
        case .empty(let path, let hint): return "dataset \(path) holds no images; \(hint)"
        case .mixedSizes(let path, let first, let other, let otherPath):
            return "images in \(path) have different sizes (\(first) and \(other) at \(otherPath)); pass --image-size N to resize them all"
        case .labelMismatch(let path, let reason): return "labels \(path): \(reason)"
        }
    }
}

/// Images for training, kept as bytes (N, C, H, W) planar so that large sets stay small in
/// memory; batches are converted to floats in the generator's output range on demand.
public struct ImageDataset: Sendable {
    public let count: Int
    public let channels: Int
    public let height: Int
    public let width: Int
    /// (N, C, H, W) bytes, 0 = the range's low end, 255 = its high end.
    public var pixels: [UInt8]
    /// One class per image for conditional models, or nil.
    public var labels: [Int]?
    /// Names of the classes when they came from folder names.
    public var classNames: [String]?
    /// Where the images came from, for the model card.
    public var source: String

    public init(channels: Int, height: Int, width: Int, pixels: [UInt8], labels: [Int]? = nil,
                classNames: [String]? = nil, source: String) {
        let plane = channels * height * width
        precondition(plane > 0 && pixels.count % plane == 0)
        self.count = pixels.count / plane
        self.channels = channels; self.height = height; self.width = width
        self.pixels = pixels; self.labels = labels; self.classNames = classNames; self.source = source
        precondition(labels == nil || labels!.count == count)
    }

    public var classCount: Int { labels.map { ($0.max() ?? -1) + 1 } ?? 0 }

    /// Images `indices` as floats (N, C, H, W) in `range`; `flip[i]` mirrors image i left-right.
    public func batch(_ indices: [Int], range: (Float, Float), flip: [Bool]? = nil) -> Tensor {
        let plane = channels * height * width
        var out = Tensor(zeros: [indices.count, channels, height, width])
        let scale = (range.1 - range.0) / 255
        pixels.withUnsafeBufferPointer { src in
            out.data.withUnsafeMutableBufferPointer { dst in
                for (b, index) in indices.enumerated() {
                    let s = src.baseAddress! + index * plane, d = dst.baseAddress! + b * plane
                    let mirror = flip?[b] ?? false
                    for row in 0..<(channels * height) {
                        for x in 0..<width {
                            let sx = mirror ? width - 1 - x : x
                            d[row * width + x] = range.0 + Float(s[row * width + sx]) * scale
                        }
                    }
                }
            }
        }
        return out
    }

    /// The same images resized (area average down, bilinear up) and/or converted to
    /// `channels` (1 = grey by BT.601 luma, 3 = colour).
    public func adapted(size: Int?, channels target: Int?) -> ImageDataset {
        let newH = size ?? height, newW = size ?? width, newC = target ?? channels
        if newH == height && newW == width && newC == channels { return self }
        var out = [UInt8](repeating: 0, count: count * newC * newH * newW)
        let plane = channels * height * width, newPlane = newC * newH * newW
        for i in 0..<count {
            var image = Self.pixelImage(Array(pixels[(i * plane)..<((i + 1) * plane)]), channels: channels, height: height, width: width)
            if newC != channels { image = image.converted(toChannels: newC) }
            if newH != height || newW != width { image = image.resized(width: newW, height: newH) }
            Self.planar(image, into: &out, at: i * newPlane)
        }
        return ImageDataset(channels: newC, height: newH, width: newW, pixels: out, labels: labels,
                            classNames: classNames, source: source)
    }

    static func pixelImage(_ planarBytes: [UInt8], channels: Int, height: Int, width: Int) -> PixelImage {
        var image = PixelImage(width: width, height: height, channels: channels)
        for c in 0..<channels { for y in 0..<height { for x in 0..<width {
            image[x, y, c] = planarBytes[(c * height + y) * width + x]
        } } }
        return image
    }

    static func planar(_ image: PixelImage, into out: inout [UInt8], at base: Int) {
        for c in 0..<image.channels { for y in 0..<image.height { for x in 0..<image.width {
            out[base + (c * image.height + y) * image.width + x] = image[x, y, c]
        } } }
    }
}

/// Readers for the dataset formats `forger train` accepts.
public enum DatasetLoader {
    // MARK: IDX (MNIST, Fashion-MNIST), gzipped or not

    /// An IDX image file (N, H, W) of unsigned bytes, with an optional IDX label file (N).
    public static func idx(images: URL, labels: URL? = nil) throws -> ImageDataset {
        let (dims, body) = try readIDX(images)
        guard dims.count == 3 || dims.count == 4 else {
            throw DatasetError.badFormat(path: images.path, reason: "IDX images must have 3 dimensions (N, H, W), this file has \(dims.count): \(dims); is it a label file?")
        }
        let (n, h, w, c) = dims.count == 3 ? (dims[0], dims[1], dims[2], 1) : (dims[0], dims[1], dims[2], dims[3])
        guard n > 0 else { throw DatasetError.empty(path: images.path, hint: "the IDX header declares 0 images") }
        guard h > 0, w > 0 else {
            throw DatasetError.badFormat(path: images.path, reason: "the IDX header declares images of \(h)x\(w) pixels; an image needs at least one")
        }
        guard c == 1 || c == 3 else {
            throw DatasetError.badFormat(path: images.path, reason: "the IDX header declares \(c) channels (the 4th dimension); use 1 (grey) or 3 (RGB)")
        }
        var pixels = body
        if c > 1 {  // (N, H, W, C) interleaved -> planar
            pixels = [UInt8](repeating: 0, count: body.count)
            for i in 0..<n { for y in 0..<h { for x in 0..<w { for ch in 0..<c {
                pixels[((i * c + ch) * h + y) * w + x] = body[((i * h + y) * w + x) * c + ch]
            } } } }
        }
        let labelValues = try labels.map { try idxLabels($0, imageCount: n, images: images.path) }
        return ImageDataset(channels: c, height: h, width: w, pixels: pixels, labels: labelValues, source: images.path)
    }

    /// An IDX label file (N) of unsigned bytes, one class per image of `images` (which holds `imageCount`).
    public static func idxLabels(_ url: URL, imageCount n: Int, images: String) throws -> [Int] {
        let (ldims, lbody) = try readIDX(url)
        guard ldims.count == 1 else {
            throw DatasetError.labelMismatch(path: url.path, reason: "an IDX label file has 1 dimension, this one has \(ldims.count); did you swap images and labels?")
        }
        guard ldims[0] == n else {
            throw DatasetError.labelMismatch(path: url.path, reason: "\(ldims[0]) labels for \(n) images in \(images); use the label file that belongs to the images")
        }
        return lbody.map(Int.init)
    }

    /// Largest IDX file read, after decompression: every size the header declares is checked
    /// against it before the data is decompressed or copied.
    static let maxIDXBytes = 1 << 31

    /// The dimensions an IDX header declares and the file size they make (header included),
    /// once `bytes` hold the whole header; nil before that. Throws when the dimensions
    /// multiply past `maxIDXBytes`.
    static func idxHeader(_ bytes: [UInt8], path: String) throws -> (dims: [Int], size: Int)? {
        guard bytes.count >= 4 else { return nil }
        let rank = Int(bytes[3])
        guard bytes.count >= 4 + 4 * rank else { return nil }
        let dims = (0..<rank).map { d in
            let o = 4 + 4 * d
            return Int(bytes[o]) << 24 | Int(bytes[o + 1]) << 16 | Int(bytes[o + 2]) << 8 | Int(bytes[o + 3])
        }
        var total = 1
        for dim in dims {
            let (m, overflow) = total.multipliedReportingOverflow(by: dim)
            guard !overflow, m <= maxIDXBytes else {
                throw DatasetError.badFormat(path: path, reason: "IDX header declares dimensions \(dims), more than Forger's limit of \(maxIDXBytes) bytes; the file is corrupt or not IDX")
            }
            total = m
        }
        return (dims, 4 + 4 * rank + total)
    }

    /// Reads an unsigned-byte IDX file: (dimensions, data).
    static func readIDX(_ url: URL) throws -> ([Int], [UInt8]) {
        var bytes = try readBytes(url)
        if bytes.count >= 2, bytes[0] == 0x1F, bytes[1] == 0x8B {
            // Stop decompressing one byte past what the header declares (so a longer file is
            // still refused below), and never past maxIDXBytes.
            // Data that do not start like IDX stop at once, for the checks below to name.
            bytes = try gunzip(bytes, path: url.path) { prefix in
                if prefix.count >= 3, prefix[0..<3] != [0, 0, 0x08] { return nil }
                return try idxHeader(prefix, path: url.path).map { $0.size + 1 } ?? maxIDXBytes
            }
        }
        guard bytes.count >= 4, bytes[0] == 0, bytes[1] == 0 else {
            throw DatasetError.badFormat(path: url.path, reason: "not an IDX file (the first two bytes must be zero); MNIST files are named like train-images-idx3-ubyte[.gz]")
        }
        guard bytes[2] == 0x08 else {
            throw DatasetError.badFormat(path: url.path, reason: "IDX element type 0x\(String(bytes[2], radix: 16)) is not supported; only unsigned bytes (0x08)")
        }
        let rank = Int(bytes[3])
        guard rank >= 1, bytes.count >= 4 + 4 * rank else {
            throw DatasetError.badFormat(path: url.path, reason: "IDX header truncated (\(bytes.count) bytes)")
        }
        let (dims, size) = try idxHeader(bytes, path: url.path)!  // the whole header is there (checked above)
        let start = 4 + 4 * rank, need = size - start
        guard bytes.count - start == need else {
            throw DatasetError.badFormat(path: url.path, reason: "IDX header declares \(dims) = \(need) bytes but the file holds \(bytes.count - start); the file is truncated or corrupt, download it again")
        }
        return (dims, Array(bytes[start...]))
    }

    /// Decompresses gzip data; `limit` gives, for the output so far, how long it may grow
    /// (checked after every chunk, so at most one chunk is decompressed past it), or nil to
    /// stop and return the output so far.
    static func gunzip(_ input: [UInt8], path: String, limit: ([UInt8]) throws -> Int?) throws -> [UInt8] {
        var stream = z_stream()
        guard inflateInit2_(&stream, 16 + MAX_WBITS, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw DatasetError.badFormat(path: path, reason: "zlib could not start")
        }
        defer { inflateEnd(&stream) }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        var input = input
        var status: Int32 = Z_OK
        var tooLong = false, stopped = false
        try input.withUnsafeMutableBufferPointer { src in
            stream.next_in = src.baseAddress
            stream.avail_in = uInt(src.count)
            repeat {
                chunk.withUnsafeMutableBufferPointer { dst in
                    stream.next_out = dst.baseAddress
                    stream.avail_out = uInt(dst.count)
                    status = inflate(&stream, Z_NO_FLUSH)
                    output += dst[0..<(dst.count - Int(stream.avail_out))]
                }
                guard let allowed = try limit(output) else { stopped = true; return }
                tooLong = output.count > allowed
            } while status == Z_OK && !tooLong
        }
        if stopped { return output }
        if tooLong {
            throw DatasetError.badFormat(path: path, reason: "the gzip data decompress to more than the IDX header declares (or over \(maxIDXBytes) bytes); the file is corrupt, download it again")
        }
        guard status == Z_STREAM_END else {
            throw DatasetError.badFormat(path: path, reason: "gzip data is corrupt or truncated (zlib status \(status)); download the file again")
        }
        return output
    }

    // MARK: NumPy

    /// A float .npy array (N, H, W) or (N, C, H, W). Values are read as [-1, 1] when any is
    /// negative, [0, 1] when all are at most 1, and [0, 255] otherwise.
    public static func npy(_ url: URL, labels: [Int]? = nil) throws -> ImageDataset {
        let t: Tensor
        do { t = try NPY.read(url) } catch { throw DatasetError.cannotRead(path: url.path, reason: "\(error)") }
        guard t.rank == 3 || t.rank == 4 else {
            throw DatasetError.badFormat(path: url.path, reason: "expected an array (N, H, W) or (N, C, H, W), got shape \(t.shape)")
        }
        guard t.shape[0] > 0 else { throw DatasetError.empty(path: url.path, hint: "the array has 0 rows") }
        guard t.isFinite else { throw DatasetError.badFormat(path: url.path, reason: "the array holds NaN or infinite values") }
        let (c, h, w) = t.rank == 3 ? (1, t.shape[1], t.shape[2]) : (t.shape[1], t.shape[2], t.shape[3])
        guard c == 1 || c == 3 else { throw DatasetError.badFormat(path: url.path, reason: "\(c) channels; use 1 (grey) or 3 (RGB)") }
        let lo: Float = (t.data.min() ?? 0) < 0 ? -1 : 0
        let hi: Float = (t.data.max() ?? 0) <= 1 ? 1 : 255
        let pixels = t.data.map { v -> UInt8 in UInt8(max(0, min(255, ((v - lo) / (hi - lo) * 255).rounded()))) }
        if let labels, labels.count != t.shape[0] {
            throw DatasetError.labelMismatch(path: url.path, reason: "\(labels.count) labels for \(t.shape[0]) images")
        }
        return ImageDataset(channels: c, height: h, width: w, pixels: pixels, labels: labels, source: url.path)
    }

    // MARK: A folder of PNGs

    /// Every .png under `folder`, recursively, in sorted path order. When every image sits in a
    /// first-level subfolder, those folder names become the class labels (sorted).
    /// - Parameters:
    ///   - size: resize every image to size x size; without it all images must share one size.
    ///   - channels: 1 or 3; without it the first image decides (grey stays grey).
    public static func folder(_ folder: URL, size: Int? = nil, channels: Int? = nil) throws -> ImageDataset {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDir), isDir.boolValue else {
            throw DatasetError.cannotRead(path: folder.path, reason: "no such folder; give a folder of .png images (subfolders become class labels)")
        }
        guard let walker = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: nil) else {
            throw DatasetError.cannotRead(path: folder.path, reason: "cannot list the folder; check its permissions")
        }
        var files: [String] = []
        let root = folder.standardizedFileURL.path
        for case let url as URL in walker where url.pathExtension.lowercased() == "png" {
            let full = url.standardizedFileURL.path
            files.append(full.hasPrefix(root + "/") ? String(full.dropFirst(root.count + 1)) : url.lastPathComponent)
        }
        files.sort()
        guard !files.isEmpty else {
            throw DatasetError.empty(path: folder.path, hint: "put .png files in it (any depth); other formats are not read")
        }
        let classed = files.allSatisfy { $0.contains("/") }
        let classNames = classed ? Array(Set(files.map { String($0.split(separator: "/")[0]) })).sorted() : nil
        let classIndex = Dictionary(uniqueKeysWithValues: (classNames ?? []).enumerated().map { ($1, $0) })
        var pixels: [UInt8] = []
        var labels: [Int] = []
        var shape: (c: Int, h: Int, w: Int)? = nil
        var firstPath = ""
        for file in files {
            let url = folder.appendingPathComponent(file)
            var image: PixelImage
            do { image = try PNG.read(url) } catch {
                throw DatasetError.cannotRead(path: url.path, reason: "\(error); remove or fix the file")
            }
            image = image.removingAlpha()
            let c = channels ?? shape?.c ?? (image.isGrey ? 1 : 3)
            if image.channels != c { image = image.converted(toChannels: c) }
            if let size, image.width != size || image.height != size { image = image.resized(width: size, height: size) }
            if let s = shape {
                guard s.h == image.height && s.w == image.width else {
                    throw DatasetError.mixedSizes(path: folder.path, first: "\(s.w)x\(s.h) at \(firstPath)",
                                                  other: "\(image.width)x\(image.height)", otherPath: url.path)
                }
            } else {
                shape = (c, image.height, image.width); firstPath = url.path
            }
            let base = pixels.count
            pixels += [UInt8](repeating: 0, count: c * image.height * image.width)
            ImageDataset.planar(image, into: &pixels, at: base)
            if classed { labels.append(classIndex[String(file.split(separator: "/")[0])]!) }
        }
        return ImageDataset(channels: shape!.c, height: shape!.h, width: shape!.w, pixels: pixels,
                            labels: classed ? labels : nil, classNames: classNames, source: folder.path)
    }

    static func readBytes(_ url: URL) throws -> [UInt8] {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw DatasetError.cannotRead(path: url.path, reason: "no such file; check the path")
        }
        do { return [UInt8](try Data(contentsOf: url)) } catch {
            throw DatasetError.cannotRead(path: url.path, reason: error.localizedDescription)
        }
    }
}

import Foundation
import Imaging
import Safety

/// The GIF encoding benchmark behind `Tools/bench-imaging.sh` (and later `forger bench imaging`).
///
/// Makes 64 deterministic 256x256 RGB frames (smooth moving sine gradients plus uniform noise of
/// +-6 levels) and 64 224x224 grey frames (a moving radial gradient plus noise of +-8), encodes
/// them with Forger, and, where installed, with Pillow (`/usr/bin/python3` with PIL; a script
/// written to the output directory times `Image.save(save_all=True)` only, frames already in
/// memory) and ImageMagick (`/usr/bin/convert`, timed as a whole process including reading the
/// PPM/PGM frames). Every GIF is decoded with `GIF.read`, and PSNR is measured against the
/// sources over all frames. Returns a table; ratios are peer / Forger (time) and Forger / peer (size).
public enum ImagingBenchmark {
    public struct Row: Sendable {
        public var set: String, tool: String, seconds: Double, bytes: Int, psnr: Double
    }

    public static func run(outputDirectory: URL, frameCount: Int = 64) throws -> String {
        try FileManager.default.createDirectory(at: outputDirectory, withIntermediateDirectories: true)
        var rows: [Row] = []
        var notes: [String] = []
        let sets: [(String, [PixelImage])] = [("rgb 256x256", rgbFrames(count: frameCount)), ("grey 224x224", greyFrames(count: frameCount))]
        for (name, frames) in sets {
            let tag = frames[0].channels == 1 ? "grey" : "rgb"
            let variants: [(String, GIFOptions)] = frames[0].channels == 1
                ? [("forger", GIFOptions())]
                : [("forger (no dither)", GIFOptions(dither: .none)), ("forger (ordered)", GIFOptions(dither: .ordered))]
            for (tool, options) in variants {
                let url = outputDirectory.appendingPathComponent("\(tag)-\(tool.replacingOccurrences(of: " ", with: "_").filter { $0.isLetter || $0 == "_" || $0 == "-" }).gif")
                let start = Date()
                try GIF.write(frames: frames, fps: 10, to: url, options: options)
                let seconds = Date().timeIntervalSince(start)
                rows.append(try measure(set: name, tool: tool, seconds: seconds, url: url, sources: frames))
            }
            // Source frames for the peers.
            let frameDirectory = outputDirectory.appendingPathComponent("frames-\(tag)")
            try FileManager.default.createDirectory(at: frameDirectory, withIntermediateDirectories: true)
            var paths: [String] = []
            for (i, frame) in frames.enumerated() {
                let path = frameDirectory.appendingPathComponent(String(format: "%03d.%@", i, frame.channels == 1 ? "pgm" : "ppm")).path
                try AtomicFile.write(netpbm(frame), to: URL(fileURLWithPath: path))
                paths.append(path)
            }
            // Pillow.
            if FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") {
                let script = outputDirectory.appendingPathComponent("bench_imaging_peers.py")
                try AtomicFile.write(Array(pillowScript.utf8), to: script)
                let out = outputDirectory.appendingPathComponent("\(tag)-pillow.gif")
                let (status, text) = try runProcess("/usr/bin/python3", [script.path, out.path] + paths)
                if status == 0, let seconds = Double(text.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").last ?? "") {
                    rows.append(try measure(set: name, tool: "pillow", seconds: seconds, url: out, sources: frames))
                } else {
                    notes.append("pillow skipped for \(name): \(text.prefix(200))")
                }
            }
            // ImageMagick.
            if FileManager.default.isExecutableFile(atPath: "/usr/bin/convert") {
                let out = outputDirectory.appendingPathComponent("\(tag)-imagemagick.gif")
                let start = Date()
                let (status, text) = try runProcess("/usr/bin/convert", ["-delay", "10", "-loop", "0"] + paths + [out.path])
                let seconds = Date().timeIntervalSince(start)
                if status == 0 {
                    rows.append(try measure(set: name, tool: "imagemagick", seconds: seconds, url: out, sources: frames))
                } else {
                    notes.append("imagemagick failed for \(name): \(text.prefix(200))")
                }
            } else {
                notes.append("imagemagick not installed (apt-get install imagemagick)")
            }
        }
        return table(rows) + notes.map { "note: \($0)\n" }.joined()
    }

    static func measure(set: String, tool: String, seconds: Double, url: URL, sources: [PixelImage]) throws -> Row {
        let bytes = (try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? NSNumber)?.intValue ?? 0
        let decoded = try GIF.read(url)
        guard decoded.frames.count == sources.count else {
            return Row(set: set, tool: tool + " (\(decoded.frames.count) frames!)", seconds: seconds, bytes: bytes, psnr: .nan)
        }
        let frames = zip(decoded.frames, sources).map { $0.channels == $1.channels ? $0 : $0.converted(toChannels: $1.channels) }
        return Row(set: set, tool: tool, seconds: seconds, bytes: bytes, psnr: ImageMetrics.psnr(frames, sources))
    }

    static func table(_ rows: [Row]) -> String {
        func pad(_ text: String, _ width: Int, left: Bool = false) -> String {
            let fill = String(repeating: " ", count: max(0, width - text.count))
            return left ? text + fill : fill + text
        }
        func line(_ cells: [String]) -> String {
            pad(cells[0], 13, left: true) + " " + pad(cells[1], 19, left: true) + pad(cells[2], 9) + pad(cells[3], 11)
                + pad(cells[4], 9) + pad(cells[5], 13) + pad(cells[6], 13) + "\n"
        }
        var out = line(["set", "encoder", "time s", "bytes", "PSNR dB", "time peer/f", "size f/peer"])
        for row in rows {
            let reference = rows.first { $0.set == row.set && $0.tool.hasPrefix("forger") }
            var speed = "", size = ""
            if let reference, !row.tool.hasPrefix("forger") {
                speed = String(format: "%.1fx", row.seconds / reference.seconds)
                size = String(format: "%.3f", Double(reference.bytes) / Double(row.bytes))
            }
            out += line([row.set, row.tool, String(format: "%.3f", row.seconds), "\(row.bytes)", String(format: "%.2f", row.psnr), speed, size])
        }
        return out + "ratios compare with the first forger row of each set (for RGB: no dither, like Pillow's default)\n"
    }

    /// 256x256 RGB: three moving sine gradients plus uniform noise in -6...6.
    public static func rgbFrames(count: Int = 64) -> [PixelImage] {
        var rng: UInt64 = 0x5EED_0001
        return (0..<count).map { t in
            var image = PixelImage(width: 256, height: 256, channels: 3)
            let ft = Double(t)
            for y in 0..<256 {
                for x in 0..<256 {
                    let fx = Double(x), fy = Double(y)
                    let r = 128 + 110 * sin(fx * 2 * .pi / 256 + ft * 0.10)
                    let g = 128 + 110 * sin(fy * 3 * .pi / 256 - ft * 0.07)
                    let b = 128 + 110 * sin((fx + fy) * .pi / 256 + ft * 0.05)
                    let o = (y * 256 + x) * 3
                    image.pixels[o] = UInt8(clamping: Int(r.rounded()) + noise(&rng, 6))
                    image.pixels[o + 1] = UInt8(clamping: Int(g.rounded()) + noise(&rng, 6))
                    image.pixels[o + 2] = UInt8(clamping: Int(b.rounded()) + noise(&rng, 6))
                }
            }
            return image
        }
    }

    /// 224x224 grey: a radial gradient whose centre moves, plus uniform noise in -8...8.
    public static func greyFrames(count: Int = 64) -> [PixelImage] {
        var rng: UInt64 = 0x5EED_0002
        return (0..<count).map { t in
            var image = PixelImage(width: 224, height: 224, channels: 1)
            let cx = 112 + 60 * cos(Double(t) * 0.1), cy = 112 + 60 * sin(Double(t) * 0.1)
            for y in 0..<224 {
                for x in 0..<224 {
                    let d = ((Double(x) - cx) * (Double(x) - cx) + (Double(y) - cy) * (Double(y) - cy)).squareRoot()
                    let v = 128 + 120 * cos(d / 20)
                    image.pixels[y * 224 + x] = UInt8(clamping: Int(v.rounded()) + noise(&rng, 8))
                }
            }
            return image
        }
    }

    /// Uniform integer noise in -amplitude...amplitude from a SplitMix64 stream.
    @inline(__always) static func noise(_ state: inout UInt64, _ amplitude: Int) -> Int {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Int(z % UInt64(2 * amplitude + 1)) - amplitude
    }

    static func netpbm(_ image: PixelImage) -> [UInt8] {
        let header = "\(image.channels == 1 ? "P5" : "P6")\n\(image.width) \(image.height)\n255\n"
        return Array(header.utf8) + image.packed().pixels
    }

    static func runProcess(_ executable: String, _ arguments: [String]) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// Times Pillow's GIF save of frames already loaded in memory; prints the seconds.
    static let pillowScript = """
    # Written by Forger's ImagingBenchmark: encode the given frames as one GIF with Pillow.
    # Usage: python3 bench_imaging_peers.py OUT.gif FRAME...
    import sys, time
    from PIL import Image
    out, paths = sys.argv[1], sys.argv[2:]
    frames = []
    for p in paths:
        im = Image.open(p)
        im.load()
        frames.append(im)
    start = time.perf_counter()
    frames[0].save(out, save_all=True, append_images=frames[1:], duration=100, loop=0)
    print(time.perf_counter() - start)
    """
}

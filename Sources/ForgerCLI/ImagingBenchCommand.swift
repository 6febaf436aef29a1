import ArgumentParser
import Foundation
import Benchmarks
import Imaging

struct ImagingBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-imaging",
        abstract: "Benchmark GIF encoding against Pillow and ImageMagick on the same frames (when installed).",
        discussion: """
        Makes 64 deterministic frames of 256x256 RGB (smooth gradients plus noise) and 64 of \
        224x224 grey, encodes them with Forger, Pillow (python3-pil) and ImageMagick (convert), and \
        prints time, file size and PSNR of the decoded frames against the sources, with ratios.
        """)

    @Option(help: "Folder for the frames and GIFs.")
    var out = "/tmp/forger-bench-imaging"
    @Option(help: "Frames per set.")
    var frames = 64

    func run() throws {
        let dir = URL(fileURLWithPath: out)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        print(try ImagingBenchmark.run(outputDirectory: dir, frameCount: frames))
    }
}

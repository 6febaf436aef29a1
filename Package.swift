// swift-tools-version: 6.0
import PackageDescription

// Linux only (Debian): the engine links OpenBLAS and LAPACK, and reads /proc for its own
// executable and memory figures. macOS is not supported.
// One target per level of the stack; each imports only what is below it.
//   CBLAS/CGemm/CPNG/CGIF/CZlib/CSHA256 -> Tensor -> NN -> ModelIO -> Latent/Training -> ForgerCLI -> forger
// Imaging sits beside the stack and imports only the C shims and Safety (atomic files, size
// limits), which sits under Tensor and Imaging and imports nothing.

let package = Package(
    name: "Forger",
    products: [
        .executable(name: "forger", targets: ["forger"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
    ],
    targets: [
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS"),
        .systemLibrary(name: "CGIF", path: "Sources/CGIF"),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        .target(name: "CPNG", path: "Sources/CPNG", linkerSettings: [.linkedLibrary("png16")]),
        .target(name: "CSHA256", path: "Sources/CSHA256"),
        .target(name: "Safety", exclude: ["README.md"]),
        // The GEMM kernels are optimised in debug builds too, so that tests run at speed.
        .target(name: "CGemm", path: "Sources/CGemm", cSettings: [.unsafeFlags(["-O2"])]),

        .target(name: "Tensor", dependencies: ["CBLAS", "CGemm", "Safety"], exclude: ["README.md"]),
        .target(name: "NN", dependencies: ["Tensor", "Safety"], exclude: ["README.md"]),
        .target(name: "ModelIO", dependencies: ["Tensor", "NN", "CZlib", "CSHA256", "Safety"], exclude: ["README.md"]),
        .target(name: "Latent", dependencies: ["CBLAS", "Tensor", "NN", "ModelIO", "Safety"], exclude: ["README.md"]),
        .target(name: "Imaging", dependencies: ["CPNG", "CGIF", "Safety"], exclude: ["README.md"]),
        .target(name: "Render", dependencies: ["Tensor", "NN", "ModelIO", "Imaging", "Safety"], exclude: ["README.md"]),
        .target(name: "Training", dependencies: ["Tensor", "NN", "ModelIO", "Imaging", "Safety"], exclude: ["README.md"]),
        .target(name: "Evaluation", dependencies: ["Tensor", "NN", "ModelIO", "Training", "Latent", "Imaging"], exclude: ["README.md"]),
        // The explorer's web server: the only target (with ForgerCLI's `serve`) that imports Hummingbird.
        .target(name: "Explorer", dependencies: [
            "Tensor", "NN", "ModelIO", "Latent", "Imaging", "Render", "Safety", "Training",
            .product(name: "Hummingbird", package: "hummingbird"),
        ], exclude: ["README.md"]),
        // Speed benchmarks and the client of their peers (PyTorch, Pillow, ImageMagick), apart
        // from the product targets; `forger bench` and `forger bench-imaging` call them.
        .target(name: "Benchmarks", dependencies: ["Tensor", "NN", "ModelIO", "Imaging", "Training", "Safety"], exclude: ["README.md"]),
        .target(name: "ForgerCLI", dependencies: [
            "Tensor", "NN", "ModelIO", "Latent", "Imaging", "Render", "Training", "Evaluation", "Safety", "Explorer", "Benchmarks",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "forger", dependencies: ["ForgerCLI"]),
        // Fuzz targets, one per reader of untrusted input; `Tools/fuzz.sh` builds forger-fuzz
        // against libFuzzer in .build-fuzz, the ordinary build makes it a replay tool.
        .target(name: "FuzzTargets", dependencies: ["Tensor", "NN", "ModelIO", "Latent", "Imaging", "Render", "Training"], exclude: ["README.md"]),
        .executableTarget(name: "forger-fuzz", dependencies: ["FuzzTargets"]),

        .testTarget(name: "TensorTests", dependencies: ["Tensor"]),
        .testTarget(name: "NNTests", dependencies: ["Tensor", "NN", "ModelIO"], resources: [.copy("Fixtures")]),
        .testTarget(name: "ModelIOTests", dependencies: ["Tensor", "NN", "ModelIO"], resources: [.copy("Fixtures")]),
        .testTarget(name: "ImagingTests", dependencies: ["Imaging"]),
        .testTarget(name: "LatentTests", dependencies: ["Tensor", "NN", "ModelIO", "Latent"], resources: [.copy("Fixtures")]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "Tensor", "NN", "ModelIO"], resources: [.copy("Fixtures")]),
        .testTarget(name: "EvaluationTests", dependencies: ["Evaluation", "Tensor", "Training"], resources: [.copy("Fixtures")]),
        .testTarget(name: "FuzzTargetsTests", dependencies: ["FuzzTargets"]),
        .testTarget(name: "BenchmarksTests", dependencies: ["Benchmarks", "Training", "Imaging", "Tensor"]),
        .testTarget(name: "CLITests", dependencies: ["ForgerCLI", "Benchmarks", "ModelIO", "Imaging", "Tensor"]),
        .testTarget(name: "ExplorerTests", dependencies: [
            "Explorer", "ForgerCLI", "ModelIO", "Render", "Latent", "Tensor", "Imaging",
            .product(name: "Hummingbird", package: "hummingbird"),
        ]),
    ],
    // Swift 5 mode: the engine shares buffers across worker threads by design (disjoint ranges).
    swiftLanguageModes: [.v5]
)

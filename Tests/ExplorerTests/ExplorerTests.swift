import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import XCTest
@testable import Explorer
@testable import ForgerCLI
import Imaging
import Latent
import Render
import Tensor

/// The explorer's API over a real loopback server (port 0), started once with the shipped
/// `mnist` and `faces64` and shared by the tests: every endpoint, every refusal, and byte
/// equality with the CLI.
final class ExplorerTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let mnist = root.appendingPathComponent("Models/mnist").path
    static let faces64 = root.appendingPathComponent("Models/faces64").path

    struct Running {
        let base: URL
        let exports: URL
        let catalogue: Catalogue
    }

    /// One server for the whole class; models load once.
    static let shared: Running = {
        let exports = FileManager.default.temporaryDirectory.appendingPathComponent("forger-explorer-\(UUID().uuidString)")
        let catalogue = try! Catalogue.load(folders: [URL(fileURLWithPath: mnist), URL(fileURLWithPath: faces64)])
        let port = start(try! ExplorerServer(catalogue: catalogue, configuration: .init(port: 0, exports: exports)))
        return Running(base: URL(string: "http://127.0.0.1:\(port)")!, exports: exports, catalogue: catalogue)
    }()

    /// Starts `server` on a free loopback port and returns the port once it listens.
    static func start(_ server: ExplorerServer) -> Int {
        let ready = DispatchSemaphore(value: 0)
        let port = PortBox()
        let app = server.application { p in port.value = p; ready.signal() }
        Task { try await app.run() }
        ready.wait()
        return port.value
    }

    final class PortBox: @unchecked Sendable { var value = 0 }

    static let session: URLSession = {
        let c = URLSessionConfiguration.ephemeral
        c.urlCache = nil
        c.requestCachePolicy = .reloadIgnoringLocalCacheData
        return URLSession(configuration: c)
    }()

    struct Answer {
        let status: Int
        let body: Data
        let headers: [String: String]
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
        var error: String { json["error"] as? String ?? "" }
    }

    func call(_ path: String, method: String = "GET", body: Data? = nil, headers: [String: String] = [:],
              on base: URL = ExplorerTests.shared.base) async throws -> Answer {
        var request = URLRequest(url: URL(string: base.absoluteString + path)!)
        request.httpMethod = method
        request.httpBody = body
        if body != nil { request.setValue("application/json", forHTTPHeaderField: "Content-Type") }
        for (k, v) in headers { request.setValue(v, forHTTPHeaderField: k) }
        let (data, response) = try await Self.session.data(for: request)
        let http = response as! HTTPURLResponse
        var fields: [String: String] = [:]
        for (k, v) in http.allHeaderFields { fields["\(k)".lowercased()] = "\(v)" }
        return Answer(status: http.statusCode, body: data, headers: fields)
    }

    func post(_ path: String, _ object: Any) async throws -> Answer {
        try await call(path, method: "POST", body: try JSONSerialization.data(withJSONObject: object))
    }

    func seedLatent(_ model: String, _ seed: Int) async throws -> [Float] {
        let a = try await call("/api/latent?model=\(model)&seed=\(seed)")
        XCTAssertEqual(a.status, 200)
        return try LatentCodec.decode(a.json["latent"] as! String, size: Self.size(model), field: "latent")
    }

    static func size(_ model: String) -> Int { shared.catalogue.models[model]!.latentSize }

    func query(_ s: String) -> String { s.addingPercentEncoding(withAllowedCharacters: .alphanumerics)! }

    /// `forger sample MODEL --latents z.npy --no-labels --scale S -o out.png`, in-process.
    func cliPNG(_ model: String, _ z: [Float], scale: Int, extra: [String] = []) throws -> Data {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("forger-explorer-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try NPY.write(Tensor(latentRows: [z], size: z.count), to: dir.appendingPathComponent("z.npy"))
        var command = try Forger.parseAsRoot(["sample", model, "--latents", dir.appendingPathComponent("z.npy").path, "--no-labels",
                                              "--scale", String(scale), "-o", dir.appendingPathComponent("out.png").path, "-q"] + extra)
        try command.run()
        return try Data(contentsOf: dir.appendingPathComponent("out.png"))
    }

    func testModelsListsTheCatalogueWithDirections() async throws {
        let a = try await call("/api/models")
        XCTAssertEqual(a.status, 200)
        let models = a.json["models"] as! [[String: Any]]
        XCTAssertEqual(models.map { $0["name"] as! String }, ["faces64", "mnist"])
        let faces = models[0]
        XCTAssertEqual(faces["latentSize"] as? Int, 100)
        XCTAssertEqual((faces["output"] as! [String: Int]), ["channels": 3, "height": 64, "width": 64])
        XCTAssertEqual(faces["directionSource"] as? String, "sefa")
        let directions = faces["directions"] as! [[String: Any]]
        XCTAssertEqual(directions.count, ExplorerModel.maximumDirections)
        XCTAssertEqual(directions[0]["name"] as? String, "sefa-0")
        XCTAssertEqual((directions[0]["vector"] as! [Double]).count, 100)
        let index = try await call("/api")
        XCTAssertEqual(index.status, 200)
        XCTAssertNotNil((index.json["endpoints"] as? [String: String])?["POST /api/export"])
    }

    func testPageAndAssetsAreServed() async throws {
        let page = try await call("/")
        XCTAssertEqual(page.status, 200)
        XCTAssertTrue(page.headers["content-type"]!.hasPrefix("text/html"))
        let html = String(decoding: page.body, as: UTF8.self)
        XCTAssertTrue(html.contains("/explorer.js") && html.contains("id=\"drop\""))
        // Nothing from another origin: every script and stylesheet is served here.
        XCTAssertFalse(html.contains("http://") || html.contains("https://"))
        let script = try await call("/explorer.js")
        XCTAssertEqual(script.status, 200)
        XCTAssertFalse(String(decoding: script.body, as: UTF8.self).contains("https://"))
        let css = try await call("/explorer.css")
        XCTAssertEqual(css.status, 200)
    }

    func testRenderGivesTheCLIsBytes() async throws {
        for (name, path) in [("faces64", Self.faces64), ("mnist", Self.mnist)] {
            let z = try await seedLatent(name, 3)
            XCTAssertEqual(z, LatentSampler.sample(seed: 3, size: Self.size(name), prior: .normal))
            let b64 = query(LatentCodec.encode(z))
            let get = try await call("/api/render?model=\(name)&latent=\(b64)&scale=2")
            XCTAssertEqual(get.status, 200, get.error)
            XCTAssertEqual(get.headers["content-type"], "image/png")
            XCTAssertEqual(get.body, try cliPNG(path, z, scale: 2), "\(name): the API's PNG differs from forger sample --latents")
            let post = try await post("/api/render", ["model": name, "latent": LatentCodec.encode(z), "scale": 2])
            XCTAssertEqual(post.body, get.body)
        }
        // Truncation scales the latent before drawing: psi 0.5 of z is the CLI's picture of 0.5 z.
        let z = try await seedLatent("faces64", 5)
        let half = try await call("/api/render?model=faces64&latent=\(query(LatentCodec.encode(z)))&truncation=0.5")
        XCTAssertEqual(half.status, 200, half.error)
        XCTAssertEqual(half.body, try cliPNG(Self.faces64, z.map { $0 * 0.5 }, scale: 1))
    }

    func testRendersAreCacheable() async throws {
        let z = try await seedLatent("mnist", 1)
        let path = "/api/render?model=mnist&latent=\(query(LatentCodec.encode(z)))"
        let first = try await call(path)
        let tag = try XCTUnwrap(first.headers["etag"])
        XCTAssertTrue(first.headers["cache-control"]!.contains("max-age"))
        let again = try await call(path)
        XCTAssertEqual(again.body, first.body)
        XCTAssertEqual(again.headers["etag"], tag)
        let cached = try await call(path, headers: ["If-None-Match": tag])
        XCTAssertEqual(cached.status, 304)
    }

    func testAnimateExportAndRenderRedrawTheSameBytes() async throws {
        let a = try await seedLatent("faces64", 1), b = try await seedLatent("faces64", 2)
        let walk: [String: Any] = ["model": "faces64", "keyframes": [LatentCodec.encode(a), LatentCodec.encode(b)], "frames": 4, "loop": true]
        let gif = try await post("/api/animate", walk)
        XCTAssertEqual(gif.status, 200, gif.error)
        XCTAssertEqual(gif.headers["content-type"], "image/gif")
        XCTAssertEqual(Array(gif.body.prefix(6)), Array("GIF89a".utf8))
        let exported = try await post("/api/export", ["gif": walk])
        XCTAssertEqual(exported.status, 200, exported.error)
        let files = exported.json["files"] as! [String]
        XCTAssertEqual(files.count, 2)
        XCTAssertTrue(files[0].hasPrefix("walk-") && files[0].hasSuffix(".gif"))
        XCTAssertEqual(files[1], files[0] + ".recipe.json")
        let exports = Self.shared.exports
        XCTAssertEqual(try Data(contentsOf: exports.appendingPathComponent(files[0])), gif.body)
        let download = try await call("/exports/\(files[0])")
        XCTAssertEqual(download.body, gif.body)
        // forger render of the exported recipe draws the same bytes.
        let redrawn = FileManager.default.temporaryDirectory.appendingPathComponent("forger-explorer-\(UUID().uuidString).gif")
        defer { try? FileManager.default.removeItem(at: redrawn) }
        var render = try Forger.parseAsRoot(["render", exports.appendingPathComponent(files[1]).path, "-o", redrawn.path, "-q"])
        try render.run()
        XCTAssertEqual(try Data(contentsOf: redrawn), gif.body)

        let png = try await post("/api/export", ["png": ["model": "faces64", "latent": LatentCodec.encode(a), "scale": 2]])
        XCTAssertEqual(png.status, 200, png.error)
        let pngName = (png.json["files"] as! [String])[0]
        XCTAssertTrue(pngName.hasPrefix("latent-") && pngName.hasSuffix(".png"))
        XCTAssertEqual(try Data(contentsOf: exports.appendingPathComponent(pngName)), try cliPNG(Self.faces64, a, scale: 2))
        // A second export takes the next name; nothing is overwritten.
        let second = try await post("/api/export", ["gif": walk])
        XCTAssertNotEqual((second.json["files"] as! [String])[0], files[0])
    }

    /// Each refusal: status, a JSON message naming the problem, and the server serves on.
    func testEveryRefusalIsA4xxJSONAndTheServerServesOn() async throws {
        let z = LatentCodec.encode(try await seedLatent("mnist", 0))
        var nan = [Float](repeating: 0, count: Self.size("mnist")); nan[7] = .nan
        let cases: [(String, String, Any?, Int, String)] = [
            ("GET", "/api/render?model=nope&latent=\(query(z))", nil, 404, "no model 'nope'"),
            ("GET", "/api/render?model=..%2F..%2Fetc&latent=\(query(z))", nil, 404, "no model"),
            ("GET", "/api/render?model=\(query(Self.mnist))&latent=\(query(z))", nil, 404, "no model"),
            ("GET", "/api/render?latent=\(query(z))", nil, 400, "name a model"),
            ("GET", "/api/render?model=mnist&latent=\(query(LatentCodec.encode([1, 2, 3])))", nil, 400, "\(Self.size("mnist") * 4) bytes"),
            ("GET", "/api/render?model=mnist&latent=\(query(LatentCodec.encode(nan)))", nil, 400, "value 7 is nan"),
            ("GET", "/api/render?model=mnist&latent=@@@@", nil, 400, "not base64"),
            ("GET", "/api/render?model=mnist&latent=\(query(z))&scale=0", nil, 400, "scale 0"),
            ("GET", "/api/render?model=mnist&latent=\(query(z))&scale=99", nil, 400, "scale 99"),
            ("GET", "/api/render?model=mnist&latent=\(query(z))&scale=x", nil, 400, "not a number"),
            ("GET", "/api/render?model=mnist&latent=\(query(z))&class=1", nil, 400, "not conditional"),
            ("GET", "/api/render?model=mnist&latent=\(query(z))&truncation=2", nil, 400, "truncation"),
            ("GET", "/api/latent?model=mnist&seed=-1", nil, 400, "seed"),
            ("POST", "/api/render", "{not json", 400, "not the JSON"),
            ("POST", "/api/render", ["model": "mnist"], 400, "'latent' is missing"),
            ("POST", "/api/animate", ["model": "mnist", "keyframes": [z]], 400, "2 to 64"),
            ("POST", "/api/animate", ["model": "mnist", "keyframes": [z, z], "frames": 61], 400, "frames 61"),
            ("POST", "/api/animate", ["model": "mnist", "keyframes": [String](repeating: z, count: 60), "frames": 60], 400, "at most 600"),
            ("POST", "/api/animate", ["model": "mnist", "keyframes": [z, z], "interpolation": "cubic"], 400, "slerp or lerp"),
            ("POST", "/api/export", ["png": ["model": "mnist", "latent": z], "gif": ["model": "mnist", "keyframes": [z, z]]], 400, "exactly one"),
            ("GET", "/exports/..%2F..%2Fetc%2Fpasswd", nil, 404, "no export"),
            ("GET", "/exports/walk-999.gif", nil, 404, "no export"),
            ("GET", "/exports/", nil, 404, "no such page"),
            ("GET", "/exports", nil, 404, "no such page"),
            ("GET", "/Models/mnist/model.json", nil, 404, "no such page"),
            ("DELETE", "/api/models", nil, 404, "no such page"),
        ]
        for (method, path, body, status, part) in cases {
            let data: Data? = body.map { ($0 as? String).map { Data($0.utf8) } ?? (try! JSONSerialization.data(withJSONObject: $0)) }
            let a = try await call(path, method: method, body: data)
            XCTAssertEqual(a.status, status, "\(method) \(path): \(a.error)")
            XCTAssertTrue(a.headers["content-type"]?.hasPrefix("application/json") ?? false, "\(method) \(path)")
            XCTAssertTrue(a.error.contains(part), "\(method) \(path): '\(a.error)' lacks '\(part)'")
        }
        // Bodies over the caps: JSON (1 MiB) and uploads (8 MiB).
        let big = try await call("/api/render", method: "POST", body: Data(repeating: 32, count: (1 << 20) + 1))
        XCTAssertEqual(big.status, 413, big.error)
        XCTAssertFalse(big.error.isEmpty)
        let photo = try await call("/api/project?model=mnist", method: "POST", body: Data(repeating: 0, count: (8 << 20) + 1))
        XCTAssertEqual(photo.status, 413, photo.error)
        let project = try await call("/api/project?model=mnist", method: "POST", body: Data(repeating: 0, count: 100))
        XCTAssertEqual(project.status, 400)
        XCTAssertTrue(project.error.contains("no PNG signature"), project.error)
        // Still serving.
        let ok = try await call("/api/render?model=mnist&latent=\(query(z))")
        XCTAssertEqual(ok.status, 200)
    }

    // MARK: Projection

    static let condFixture = root.appendingPathComponent("Tests/LatentTests/Fixtures/directions/linear_cond")

    /// A PNG the model drew itself from seed `seed`, at its own size (no padding).
    func drawn(_ model: String, seed: UInt64) throws -> Data {
        let m = Self.shared.catalogue.models[model]!
        let z = LatentSampler.sample(seed: seed, size: m.latentSize, prior: m.prior)
        let plan = RenderPlan(format: .png, latents: [z], frames: [.init(tiles: [0])], layout: .init(columns: 1, scale: 1))
        return Data(try PNG.encode(try m.renderer.images([0], of: plan)[0]))
    }

    func upload(_ png: Data, _ query: String, on base: URL = ExplorerTests.shared.base) async throws -> Answer {
        try await call("/api/project?\(query)", method: "POST", body: png, headers: ["Content-Type": "image/png"], on: base)
    }

    /// A picture mnist drew from seed 3 is found again at the default step count: PSNR above
    /// 30 dB (8-bit pixels), and the latent renders.
    func testProjectionRecoversAPictureTheModelDrew() async throws {
        let png = try drawn("mnist", seed: 3)
        let started = Date()
        let a = try await upload(png, "model=mnist")
        XCTAssertEqual(a.status, 200, a.error)
        let psnr = a.json["psnr"] as? Double ?? 0, steps = a.json["steps"] as? Int ?? 0
        print(String(format: "mnist projection: %d steps, PSNR %.2f dB, %.2f s in the queue, %.2f s round trip",
                     steps, psnr, a.json["seconds"] as? Double ?? 0, Date().timeIntervalSince(started)))
        XCTAssertEqual(steps, ExplorerServer.projectionSteps)
        XCTAssertGreaterThan(psnr, 30)
        let z = try LatentCodec.decode(a.json["latent"] as? String ?? "", size: Self.size("mnist"), field: "latent")
        let again = try await call("/api/render?model=mnist&latent=\(query(LatentCodec.encode(z)))")
        XCTAssertEqual(again.status, 200, again.error)
        // A colour picture into a grey model, and a bounded step count.
        let face = try drawn("faces64", seed: 1)
        let b = try await upload(face, "model=mnist&steps=5")
        XCTAssertEqual(b.status, 200, b.error)
        XCTAssertEqual(b.json["steps"] as? Int, 5)
    }

    /// Not a PNG, a corrupt PNG, too large (bytes or pixels), bad steps, an unknown or
    /// conditional model: each a 4xx JSON answer, and the server serves on.
    func testProjectionRefusals() async throws {
        let png = try drawn("mnist", seed: 4)
        var huge = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13] + Array("IHDR".utf8))
        huge += Data([0, 0, 0x27, 0x10, 0, 0, 0x27, 0x10, 8, 6, 0, 0, 0, 0, 0, 0, 0])      // 10000 x 10000 RGBA
        let cases: [(Data, String, Int, String)] = [
            (Data("hello".utf8), "model=mnist", 400, "no PNG signature"),
            (png.prefix(png.count / 2), "model=mnist", 400, "not a readable PNG"),
            (Data(), "model=mnist", 400, "no data"),
            (huge, "model=mnist", 413, "too large"),
            (Data(repeating: 0, count: (8 << 20) + 1), "model=mnist", 413, "cap"),
            (png, "model=mnist&steps=0", 400, "steps 0"),
            (png, "model=mnist&steps=1001", 400, "steps 1001"),
            (png, "model=mnist&steps=x", 400, "not a number"),
            (png, "model=nope", 404, "no model 'nope'"),
            (png, "", 400, "name a model"),
        ]
        for (body, q, status, part) in cases {
            let a = try await upload(body, q)
            XCTAssertEqual(a.status, status, "\(q) \(body.count) bytes: \(a.error)")
            XCTAssertTrue(a.headers["content-type"]?.hasPrefix("application/json") ?? false, q)
            XCTAssertTrue(a.error.contains(part), "\(q): '\(a.error)' lacks '\(part)'")
        }
        let conditional = try ExplorerModel(name: "linear_cond", directory: Self.condFixture)
        let port = Self.start(try ExplorerServer(catalogue: Catalogue([conditional]), configuration: .init(port: 0)))
        let c = try await upload(png, "model=linear_cond", on: URL(string: "http://127.0.0.1:\(port)")!)
        XCTAssertEqual(c.status, 422, c.error)
        XCTAssertTrue(c.error.contains("class-conditional"), c.error)
        let ok = try await call("/api/render?model=mnist&latent=\(query(LatentCodec.encode(try await seedLatent("mnist", 4))))")
        XCTAssertEqual(ok.status, 200)
    }

    /// One projection at a time: a second upload while one runs is a 429, renders go on
    /// beside it, and the server projects again afterwards.
    func testOneProjectionAtATime() async throws {
        let server = try ExplorerServer(catalogue: Self.shared.catalogue, configuration: .init(port: 0))
        let base = URL(string: "http://127.0.0.1:\(Self.start(server))")!
        let png = try drawn("mnist", seed: 5)
        let long = Task { try await self.upload(png, "model=mnist&steps=400", on: base) }
        while server.queue.load.running == 0 { try await Task.sleep(nanoseconds: 1_000_000) }
        let second = try await upload(png, "model=mnist&steps=1", on: base)
        XCTAssertEqual(second.status, 429, second.error)
        XCTAssertTrue(second.error.contains("a projection is running"), second.error)
        let z = LatentCodec.encode(try await seedLatent("mnist", 5))
        let render = try await call("/api/render?model=mnist&latent=\(query(z))", on: base)
        XCTAssertEqual(render.status, 200, render.error)
        let first = try await long.value
        XCTAssertEqual(first.status, 200, first.error)
        let after = try await upload(png, "model=mnist&steps=1", on: base)
        XCTAssertEqual(after.status, 200, after.error)
    }

    func testExportsAreOffWithoutAFolder() async throws {
        let port = Self.start(try ExplorerServer(catalogue: Self.shared.catalogue, configuration: .init(port: 0)))
        let base = URL(string: "http://127.0.0.1:\(port)")!
        let z = LatentCodec.encode([Float](repeating: 0, count: Self.size("mnist")))
        let a = try await call("/api/export", method: "POST",
                               body: try JSONSerialization.data(withJSONObject: ["png": ["model": "mnist", "latent": z]]), on: base)
        XCTAssertEqual(a.status, 403)
        XCTAssertTrue(a.error.contains("--exports"))
    }

    /// A model directory's directions.json (made for its weights) gives the sliders; SeFa is
    /// only the stand-in.
    func testDirectionsFileOfTheModelIsUsed() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("forger-explorer-\(UUID().uuidString)/mnist")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir.deletingLastPathComponent()) }
        for file in ["model.json", "weights.safetensors"] {
            try FileManager.default.copyItem(atPath: Self.mnist + "/" + file, toPath: dir.appendingPathComponent(file).path)
        }
        let library = dir.appendingPathComponent(ExplorerModel.directionsFile).path
        var command = try Forger.parseAsRoot(["directions", dir.path, "--method", "sefa", "--name", "axis", "-o", library, "-q"])
        try command.run()
        let model = try ExplorerModel(name: "mnist", directory: dir)
        XCTAssertEqual(model.directionSource, ExplorerModel.directionsFile)
        XCTAssertEqual(model.directionFiles, [ExplorerModel.directionsFile])
        XCTAssertEqual(model.directions.first?.name, "axis-0")
        XCTAssertEqual(model.directions.count, min(ExplorerModel.maximumDirections, model.latentSize))
    }

    func testServeOptionsAreChecked() {
        XCTAssertThrowsError(try Forger.parseAsRoot(["serve", "--port", "70000"]))
        XCTAssertThrowsError(try Forger.parseAsRoot(["serve", "--workers", "0"]))
        XCTAssertNoThrow(try Forger.parseAsRoot(["serve", "--models", Self.mnist, Self.faces64, "--port", "0"]))
    }

    /// `forger serve` through the built binary: a non-loopback --host is warned about, the
    /// default loopback address is not.
    func testNonLoopbackHostIsWarnedAbout() throws {
        let beside = Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("forger")
        let candidates = [Bundle.main.bundleURL.appendingPathComponent("forger"), beside]
        guard let binary = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
            throw XCTSkip("the forger binary was not found beside the test bundle")
        }
        func startup(_ host: [String]) throws -> String {
            let p = Process()
            p.executableURL = binary
            p.arguments = ["serve", "--port", "0", "--models", Self.mnist] + host
            let err = Pipe()
            p.standardError = err
            p.standardOutput = FileHandle.nullDevice
            try p.run()
            defer { p.terminate(); p.waitUntilExit() }
            var text = ""
            while !text.contains("http://") {
                let data = err.fileHandleForReading.availableData
                if data.isEmpty { break }
                text += String(decoding: data, as: UTF8.self)
            }
            return text
        }
        let open = try startup(["--host", "0.0.0.0"])
        XCTAssertTrue(open.contains("warning: listening on 0.0.0.0, not loopback"), open)
        XCTAssertTrue(open.contains("http://0.0.0.0:"), open)
        let local = try startup([])
        XCTAssertFalse(local.contains("warning"), local)
        XCTAssertTrue(local.contains("http://127.0.0.1:"), local)
    }

    func testLoopbackAddresses() {
        XCTAssertTrue(ExplorerServer.isLoopback("127.0.0.1"))
        XCTAssertTrue(ExplorerServer.isLoopback("localhost"))
        XCTAssertTrue(ExplorerServer.isLoopback("::1"))
        XCTAssertFalse(ExplorerServer.isLoopback("0.0.0.0"))
        XCTAssertFalse(ExplorerServer.isLoopback("192.168.1.2"))
    }

    func testLatentCodecRoundTripsAndChecks() throws {
        let z: [Float] = [0, -1.5, 3.25, .leastNonzeroMagnitude]
        XCTAssertEqual(try LatentCodec.decode(LatentCodec.encode(z), size: 4, field: "z"), z)
        // URL-safe, unpadded form too.
        let safe = LatentCodec.encode(z).replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
        XCTAssertEqual(try LatentCodec.decode(safe, size: 4, field: "z"), z)
        XCTAssertThrowsError(try LatentCodec.decode(LatentCodec.encode([1, .infinity, 0, 0]), size: 4, field: "z"))
        XCTAssertThrowsError(try LatentCodec.decode(LatentCodec.encode([1, 2000, 0, 0]), size: 4, field: "z"))
        XCTAssertThrowsError(try LatentCodec.decode(LatentCodec.encode(z), size: 5, field: "z"))
    }

    /// The queue: a client's waiting request is dropped for its newer one (409), and a full
    /// queue refuses (429) instead of growing.
    func testQueueDropsStaleRequestsAndStaysBounded() async throws {
        let queue = RenderQueue(workers: 1, capacity: 2)
        let gate = DispatchSemaphore(value: 0)
        let busy = Task { try await queue.run(client: nil) { gate.wait(); return 0 } }
        while queue.load.running == 0 { try await Task.sleep(nanoseconds: 1_000_000) }
        let stale = Task { try await queue.run(client: "a") { 1 } }
        while queue.load.waiting == 0 { try await Task.sleep(nanoseconds: 1_000_000) }
        let other = Task { try await queue.run(client: "b") { 2 } }
        while queue.load.waiting < 2 { try await Task.sleep(nanoseconds: 1_000_000) }
        let newer = Task { try await queue.run(client: "a") { 3 } }
        do { _ = try await stale.value; XCTFail("the stale request ran") } catch let e as ExplorerError {
            XCTAssertEqual(e.status, .conflict)
        }
        while queue.load.waiting < 2 { try await Task.sleep(nanoseconds: 1_000_000) }
        do { _ = try await queue.run(client: "c") { 4 }; XCTFail("the full queue took more") } catch let e as ExplorerError {
            XCTAssertEqual(e.status, .tooManyRequests)
        }
        gate.signal()
        let results = try await [busy.value, other.value, newer.value]
        XCTAssertEqual(results, [0, 2, 3])
        XCTAssertEqual(queue.load.running, 0)
    }
}

import Foundation
import Hummingbird
import Imaging
import Latent
import ModelIO
import Render
import Safety
import Training

/// `forger serve`: the explorer's page and its JSON/PNG/GIF API over one catalogue of models.
/// Rendering is stateless: a request carries its latents, so the same request gives the same
/// bytes, and those are the bytes the CLI writes for the same plan.
public final class ExplorerServer: @unchecked Sendable {
    public struct Configuration: Sendable {
        public var host: String
        public var port: Int
        /// Where exports go; nil turns the export endpoint off.
        public var exports: URL?
        /// Renders at once and renders waiting (see `RenderQueue`).
        public var workers: Int
        public var queueCapacity: Int
        /// Cap on a JSON request body, bytes.
        public var bodyLimit: Int
        /// Cap on an uploaded photo, bytes.
        public var uploadLimit: Int

        public init(host: String = "127.0.0.1", port: Int = 8080, exports: URL? = nil, workers: Int = 2,
                    queueCapacity: Int = 32, bodyLimit: Int = 1 << 20, uploadLimit: Int = 8 << 20) {
            self.host = host; self.port = port; self.exports = exports; self.workers = workers
            self.queueCapacity = queueCapacity; self.bodyLimit = bodyLimit; self.uploadLimit = uploadLimit
        }
    }

    public let catalogue: Catalogue
    public let configuration: Configuration
    public let queue: RenderQueue
    let exports: ExportFolder?
    /// Private folder for GIFs on their way to a response (the GIF writer streams to a file).
    let scratch: URL

    public init(catalogue: Catalogue, configuration: Configuration) throws {
        self.catalogue = catalogue
        self.configuration = configuration
        queue = RenderQueue(workers: configuration.workers, capacity: configuration.queueCapacity)
        exports = try configuration.exports.map { try ExportFolder($0) }
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("forger-serve-\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    }

    deinit { try? FileManager.default.removeItem(at: scratch) }

    /// True for addresses only this machine can reach.
    public static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    public func application(onRunning: @escaping @Sendable (Int) -> Void = { _ in }) -> some ApplicationProtocol {
        Application(router: router(), configuration: .init(address: .hostname(configuration.host, port: configuration.port),
                                                          serverName: "forger"),
                    onServerRunning: { channel in onRunning(channel.localAddress?.port ?? 0) })
    }

    public func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: JSONErrorMiddleware())
        router.get("/") { _, _ in Self.page(ExplorerPage.html, type: "text/html; charset=utf-8") }
        router.get("/explorer.js") { _, _ in Self.page(ExplorerPage.script, type: "text/javascript; charset=utf-8") }
        router.get("/explorer.css") { _, _ in Self.page(ExplorerPage.style, type: "text/css; charset=utf-8") }
        router.get("/api") { _, _ in JSONBody.response(["endpoints": Self.endpoints]) }
        router.get("/api/models") { [self] _, _ in JSONBody.response(["models": catalogue.names.map { ModelInfo(catalogue.models[$0]!) }]) }
        router.get("/api/latent") { [self] request, _ in try latent(request) }
        router.get("/api/render") { [self] request, _ in
            let q = request.uri.queryParameters
            let fields = PictureFields(model: q.get("model") ?? "", scale: try Self.number(q, "scale"),
                                       label: try Self.number(q, "class"), truncation: try Self.number(q, "truncation"))
            return try await render(RenderRequest(picture: fields, latent: q.get("latent") ?? ""), request: request)
        }
        router.post("/api/render") { [self] request, _ in
            try await render(try await body(RenderRequest.self, request), request: request)
        }
        router.post("/api/animate") { [self] request, _ in
            try await animate(try await body(AnimateRequest.self, request), request: request)
        }
        router.post("/api/export") { [self] request, _ in
            try await export(try await body(ExportRequest.self, request), request: request)
        }
        router.get("/exports/{name}") { [self] _, context in try download(context.parameters.get("name") ?? "") }
        router.post("/api/project") { [self] request, _ in try await project(request) }
        return router
    }

    /// What `GET /api` answers: each endpoint and what it takes.
    static let endpoints: [String: String] = [
        "GET /api/models": "the models: name, latent size, output shape, classes, direction files, slider directions",
        "GET /api/latent?model=M&seed=N": "the latent of seed N under the model's prior, base64 float32 LE",
        "GET /api/render?model=M&latent=B64&scale=S&class=K&truncation=PSI": "one latent as a PNG (cacheable)",
        "POST /api/render": "the same from JSON {model, latent, scale, class, truncation}",
        "POST /api/animate": "a looping GIF through {keyframes: [B64...], frames, loop, interpolation, fps} plus the render fields",
        "POST /api/export": "{png: render request} or {gif: animate request} into the exports folder with its recipe",
        "GET /exports/NAME": "a file the export endpoint wrote",
        "POST /api/project?model=M&steps=N": "a photo (PNG body, up to 8 MiB) to {latent: B64, psnr, steps, seconds}; one at a time",
    ]

    static func page(_ text: String, type: String) -> Response {
        Response(status: .ok, headers: [.contentType: type, .cacheControl: "no-cache"],
                 body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static func number<T: LosslessStringConvertible>(_ q: Parameters, _ name: String) throws -> T? {
        guard let text = q.get(name) else { return nil }
        guard let value = T(text) else { throw ExplorerError(.badRequest, "\(name) '\(text.prefix(32))' is not a number") }
        return value
    }

    /// A JSON body of at most `bodyLimit` bytes.
    func body<T: Decodable>(_ type: T.Type, _ request: Request) async throws -> T {
        let buffer = try await request.body.collect(upTo: configuration.bodyLimit)
        return try JSONDecoder().decode(T.self, from: Data(buffer.readableBytesView))
    }

    /// The client a request comes from, for dropping its stale renders: `X-Forger-Client` or `?client=`.
    static func client(_ request: Request) -> String? {
        let header = request.headers.first { $0.name.canonicalName == "x-forger-client" }?.value
        let id = header ?? request.uri.queryParameters.get("client")
        return id.map { String($0.prefix(64)) }
    }

    func latent(_ request: Request) throws -> Response {
        let q = request.uri.queryParameters
        let model = try catalogue.model(q.get("model"))
        guard let text = q.get("seed"), let seed = UInt64(text) else {
            throw ExplorerError(.badRequest, "seed: give a whole number from 0 to \(UInt64.max), e.g. seed=7")
        }
        let z = LatentSampler.sample(seed: seed, size: model.latentSize, prior: model.prior)
        return JSONBody.response(["name": "seed:\(seed)", "latent": LatentCodec.encode(z)])
    }

    func render(_ r: RenderRequest, request: Request) async throws -> Response {
        let model = try catalogue.model(r.picture.model)
        let plan = try r.plan(model)
        return try await answer(plan, of: model, request: request, type: "image/png") { try model.renderer.encodePNG(plan) }
    }

    func animate(_ r: AnimateRequest, request: Request) async throws -> Response {
        let model = try catalogue.model(r.picture.model)
        let plan = try r.plan(model)
        let file = scratch.appendingPathComponent("\(UUID().uuidString).gif")
        return try await answer(plan, of: model, request: request, type: "image/gif") {
            defer { try? FileManager.default.removeItem(at: file) }
            try model.renderer.render(plan, to: file)
            return try AtomicFile.readBytes(file)
        }
    }

    /// 304 when the client holds the plan's bytes already; else `draw` on the render queue.
    func answer(_ plan: RenderPlan, of model: ExplorerModel, request: Request, type: String,
                draw: @escaping @Sendable () throws -> [UInt8]) async throws -> Response {
        let tag = Self.entityTag(model, plan)
        if request.headers[.ifNoneMatch] == tag {
            return Response(status: .notModified, headers: [.eTag: tag, .cacheControl: Self.cacheable])
        }
        let bytes = try await queue.run(client: Self.client(request), draw)
        return Response(status: .ok, headers: [.contentType: type, .cacheControl: Self.cacheable, .eTag: tag],
                        body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    func export(_ r: ExportRequest, request: Request) async throws -> Response {
        guard let exports else {
            throw ExplorerError(.forbidden, "exports are off: start forger serve with --exports DIR")
        }
        let model: ExplorerModel, plan: RenderPlan, stem: String
        switch (r.png, r.gif) {
        case (let png?, nil): model = try catalogue.model(png.picture.model); plan = try png.plan(model); stem = "latent"
        case (nil, let gif?): model = try catalogue.model(gif.picture.model); plan = try gif.plan(model); stem = "walk"
        default: throw ExplorerError(.badRequest, "give exactly one of png (a render request) or gif (an animate request)")
        }
        try model.renderer.validate(plan)
        let names = try await queue.run(client: nil) { try exports.write(plan, model: model, stem: stem) }
        return JSONBody.response(["files": names])
    }

    func download(_ name: String) throws -> Response {
        guard let exports else { throw ExplorerError(.notFound, "exports are off: start forger serve with --exports DIR") }
        let (bytes, type) = try exports.read(name)
        return Response(status: .ok, headers: [.contentType: type, .cacheControl: "no-cache",
                                               .contentDisposition: "attachment; filename=\"\(name)\""],
                        body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// Adam steps of an upload's projection unless `?steps=` says otherwise, and the most it may
    /// ask for (docs/explorer.md: about 3 s for `faces64` at the default in a release build).
    public static let projectionSteps = 200
    public static let maxProjectionSteps = 1000
    /// Decoded pixels allowed in an upload (checked from the PNG header before decoding).
    public static let maxUploadPixels = 16 << 20

    private let projectionLock = NSLock()
    private var projecting = false

    /// False when a projection is running already.
    private func beginProjection() -> Bool {
        projectionLock.lock(); defer { projectionLock.unlock() }
        if projecting { return false }
        projecting = true
        return true
    }

    private func endProjection() {
        projectionLock.lock(); projecting = false; projectionLock.unlock()
    }

    /// What `POST /api/project` answers.
    struct ProjectionAnswer: Encodable {
        var latent: String
        var psnr: Double
        var steps: Int
        var seconds: Double
    }

    /// A PNG fitted to the model as `forger project` fits it, projected with the library's
    /// defaults but `steps`, on the render queue; one projection at a time, others get a 429.
    func project(_ request: Request) async throws -> Response {
        let q = request.uri.queryParameters
        let model = try catalogue.model(q.get("model"))
        let steps: Int = try Self.number(q, "steps") ?? Self.projectionSteps
        guard (1...Self.maxProjectionSteps).contains(steps) else {
            throw ExplorerError(.badRequest, "steps \(steps): use 1 to \(Self.maxProjectionSteps)")
        }
        let m = model.loaded.manifest
        let generator: DifferentiableGenerator
        do { generator = try DifferentiableGenerator(model.loaded.inferenceGenerator, name: model.name) } catch let e as ProjectionError {
            throw ExplorerError(.unprocessableContent, "cannot project into \(model.name): \(e)")
        }
        let bytes = Array(try await request.body.collect(upTo: configuration.uploadLimit).readableBytesView)
        let target: PixelImage
        do {
            target = try PNG.fitted(bytes, width: m.outputWidth, height: m.outputHeight, maxPixels: Self.maxUploadPixels)
                .image.converted(toChannels: m.outputChannels)
        } catch let e as ImagingError {
            if case .invalidArgument = e { throw ExplorerError(.contentTooLarge, "the photo is too large: \(e)") }
            throw ExplorerError(.badRequest, "send a PNG: \(e)")
        }
        guard beginProjection() else { throw ExplorerError(.tooManyRequests, "a projection is running; try again when it has finished") }
        defer { endProjection() }
        let answer = try await queue.run(client: nil) { () throws -> ProjectionAnswer in
            var settings = ProjectionSettings()
            settings.steps = steps
            settings.batchSize = settings.restarts + 1
            let result = try Projection(generator: generator, prior: m.distribution, settings: settings)
                .run(targets: Projection.targets([target], manifest: m))
            let plan = RenderPlan(format: .png, latents: result.latents, frames: [.init(tiles: [0])], layout: .init(columns: 1, scale: 1))
            let psnr = ImageMetrics.psnr(target, try model.renderer.images([0], of: plan)[0])
            return ProjectionAnswer(latent: LatentCodec.encode(result.latents[0]), psnr: min(psnr, 100),
                                    steps: result.evaluations - 1, seconds: result.seconds)
        }
        return JSONBody.response(answer)
    }

    static let cacheable = "public, max-age=86400"

    /// The answer's identity without drawing it: rendering is deterministic, so the weights,
    /// the plan and the format fix the bytes.
    static func entityTag(_ model: ExplorerModel, _ plan: RenderPlan) -> String {
        var hash = SHA256()
        hash.update(Array(model.loaded.weightsHash.utf8))
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        hash.update(Array((try? encoder.encode(plan)) ?? Data()))
        return "\"" + SHA256.hex(hash.finalize().prefix(16)) + "\""
    }
}

/// A model as `GET /api/models` describes it.
struct ModelInfo: Encodable {
    struct Output: Encodable { var channels, height, width: Int }
    var name: String
    var latentSize: Int
    var output: Output
    var classes: Int?
    var classLabels: [String]?
    var prior: String
    var directionSource: String
    var directionFiles: [String]
    var directions: [ExplorerModel.Direction]

    init(_ model: ExplorerModel) {
        let m = model.loaded.manifest
        name = model.name
        latentSize = m.latentSize
        output = .init(channels: m.outputChannels, height: m.outputHeight, width: m.outputWidth)
        classes = m.conditioning?.classes
        classLabels = m.conditioning?.labels
        switch model.prior {
        case .normal: prior = "normal"
        case .uniform(let low, let high): prior = "uniform:\(low):\(high)"
        }
        directionSource = model.directionSource
        directionFiles = model.directionFiles
        directions = model.directions
    }
}

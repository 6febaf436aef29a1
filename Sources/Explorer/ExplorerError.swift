import Foundation
import Hummingbird

/// A refused request: its HTTP status (always 4xx for what a client got wrong) and a message
/// that says what was wrong and what to send instead. Sent as `{"error": "..."}`.
public struct ExplorerError: Error, CustomStringConvertible, HTTPResponseError {
    public let status: HTTPResponse.Status
    public let message: String

    public init(_ status: HTTPResponse.Status, _ message: String) {
        self.status = status
        self.message = message
    }

    public var description: String { message }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        JSONBody.response(["error": message], status: status)
    }
}

/// JSON responses: sorted keys, so equal answers are equal bytes.
enum JSONBody {
    static func data<T: Encodable>(_ value: T) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)) ?? Data(#"{"error":"could not encode the answer"}"#.utf8)
    }

    static func response<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json; charset=utf-8", .cacheControl: "no-store"],
                 body: .init(byteBuffer: ByteBuffer(bytes: data(value))))
    }
}

/// Turns every error a route or the router throws into a JSON answer, so a client always
/// gets `{"error": ...}` with a 4xx for its own mistakes (unknown path, body too large, bad
/// JSON), and the server carries on.
struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as ExplorerError {
            return JSONBody.response(["error": error.message], status: error.status)
        } catch let error as any HTTPResponseError {
            // The router's own refusals: no route, a body over its cap, a wrong method.
            let message: String
            switch error.status {
            case .notFound: message = "no such page or endpoint: \(request.uri.path.prefix(128)); GET /api lists the endpoints"
            case .contentTooLarge: message = "the request body is over this endpoint's cap"
            case .methodNotAllowed: message = "\(request.method) is not allowed on \(request.uri.path.prefix(128))"
            default: message = (error as? HTTPError)?.body ?? error.status.reasonPhrase
            }
            return JSONBody.response(["error": message], status: error.status)
        } catch let error as DecodingError {
            return JSONBody.response(["error": "the request body is not the JSON this endpoint takes: \(Self.describe(error))"],
                                     status: .badRequest)
        } catch {
            return JSONBody.response(["error": "\(error)"], status: .internalServerError)
        }
    }

    static func describe(_ error: DecodingError) -> String {
        switch error {
        case .keyNotFound(let key, _): return "'\(key.stringValue)' is missing"
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .dataCorrupted(let c):
            let path = c.codingPath.map(\.stringValue).joined(separator: ".")
            return path.isEmpty ? c.debugDescription : "'\(path)': \(c.debugDescription)"
        @unknown default: return "\(error)"
        }
    }
}

import XCTest
import Foundation
@testable import ForgerCLI

/// What command tests share: a fresh temporary folder per test, commands run in-process
/// (parse, then run), and runs of the built binary for exit codes and messages.
class CommandTestCase: XCTestCase {
    var tmp: URL!

    override func setUpWithError() throws {
        tmp = FileManager.default.temporaryDirectory.appendingPathComponent("forger-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: tmp) }

    func run(_ args: [String]) throws {
        var command = try Forger.parseAsRoot(args)
        try command.run()
    }

    /// The `forger` executable SwiftPM built beside the test bundle.
    static var binary: URL? {
        var dirs = [Bundle.main.bundleURL, Bundle.main.bundleURL.deletingLastPathComponent()]
        if let exe = Bundle.main.executableURL { dirs.append(exe.deletingLastPathComponent()) }
        for candidate in dirs.map({ $0.appendingPathComponent("forger") }) {
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        return nil
    }

    func path(_ name: String) -> String { tmp.appendingPathComponent(name).path }
    func bytes(_ name: String) throws -> Data { try Data(contentsOf: tmp.appendingPathComponent(name)) }

    /// Runs the command in-process and checks that it fails with a message containing `part`.
    func expectError(_ args: [String], _ part: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try run(args), file: file, line: line) { error in
            let message = "\(error)".contains(part) ? "\(error)" : Forger.message(for: error)
            XCTAssertTrue(message.contains(part), "'\(message)' lacks '\(part)'", file: file, line: line)
        }
    }

    func exec(_ args: [String], in directory: URL? = nil, environment: [String: String] = [:]) throws -> (code: Int32, out: String, err: String) {
        guard let binary = Self.binary else { throw XCTSkip("the forger binary was not found beside the test bundle") }
        let p = Process()
        p.executableURL = binary
        p.arguments = args
        if let directory { p.currentDirectoryURL = directory }
        if !environment.isEmpty { p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }
}

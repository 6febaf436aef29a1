import Foundation
import FuzzTargets

// Built two ways. By `Tools/fuzz.sh` with `-sanitize=fuzzer,address -DFORGER_LIBFUZZER`:
// `main` hands over to libFuzzer's driver (`LLVMFuzzerRunDriver`, so that SwiftPM's own entry
// point stays; libFuzzer's `main` would clash with it), which calls `fuzzOneInput` with each
// input on the target named by $FORGER_FUZZ_TARGET. In the ordinary build (no libFuzzer to
// link) it is a replay tool: `forger-fuzz TARGET FILE...` runs each file through the target once.

#if FORGER_LIBFUZZER
typealias FuzzCallback = @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: FuzzCallback) -> CInt

private let selected: FuzzTarget = {
    let name = ProcessInfo.processInfo.environment["FORGER_FUZZ_TARGET"] ?? ""
    guard let target = FuzzTarget(rawValue: name) else {
        let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
        fputs("forger-fuzz: set FORGER_FUZZ_TARGET to one of: \(names)\n", stderr)
        exit(2)
    }
    return target
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    selected.run(UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size))
    return 0
}

@main
enum LibFuzzerMain {
    static func main() {
        _ = selected
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzOneInput))
    }
}
#else
@main
enum Replay {
    static func main() {
        let args = Array(CommandLine.arguments.dropFirst())
        guard let name = args.first, let target = FuzzTarget(rawValue: name), args.count >= 2 else {
            let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
            fputs("usage: forger-fuzz TARGET FILE...   (TARGET: \(names))\n", stderr)
            exit(2)
        }
        for path in args.dropFirst() {
            guard let data = FileManager.default.contents(atPath: path) else {
                fputs("forger-fuzz: cannot read \(path)\n", stderr)
                exit(1)
            }
            target.run([UInt8](data))
            print("\(path): ok")
        }
    }
}
#endif

/// Bounds on every size a user or a file controls, checked before anything is allocated, so a
/// careless option or a hostile file is refused with a message instead of exhausting memory.
/// Each limit is far above what the tool's own models and figures need.
public enum Limits {
    /// Latents one command works with at once (samples, sweep cells, walk frames).
    public static let maximumLatents = 1_000_000
    /// Pixels of one picture (a PNG grid or one GIF frame): 16384 x 16384.
    public static let maximumPixels = 1 << 28
    /// Width or height of one picture.
    public static let maximumSide = 65_535
    /// Frames of one GIF.
    public static let maximumFrames = 100_000
    /// Frame periods one GIF frame is held.
    public static let maximumHold = 10_000
    /// Integer enlargement of a generated image.
    public static let maximumScale = 64
    /// Grid columns.
    public static let maximumColumns = 4096
    /// Padding between tiles, in pixels.
    public static let maximumPadding = 256
    /// Images computed at once.
    public static let maximumBatchSize = 4096
    /// Values of one tensor a command or file asks for: 2^30 floats, 4 GiB.
    public static let maximumElements = 1 << 30
    /// Values of one stage of a generator for one image: 2^27 floats, 512 MiB.
    public static let maximumStageElements = 1 << 27
    /// Memory the stages of one batch may take; larger batches are split to stay below it.
    public static let forwardBudgetBytes = 2 << 30

    public struct Exceeded: Error, CustomStringConvertible, Equatable {
        public let message: String
        public var description: String { message }
        public init(_ message: String) { self.message = message }
    }

    /// Throws unless `value` lies in `range`, naming the option.
    public static func check<T: Comparable>(_ value: T, _ range: ClosedRange<T>, _ name: String) throws {
        guard range.contains(value) else {
            throw Exceeded("\(name) must be \(range.lowerBound) to \(range.upperBound), got \(value)")
        }
    }

    /// The product of `factors`, or nil when it overflows `Int`.
    public static func product(_ factors: [Int]) -> Int? {
        var total = 1
        for f in factors {
            guard f >= 0 else { return nil }
            let (m, overflow) = total.multipliedReportingOverflow(by: f)
            if overflow { return nil }
            total = m
        }
        return total
    }
}

import Foundation

/// The report as the plain-text table `forger evaluate` prints.
public enum EvaluationTable {
    public static func render(_ r: EvaluationReport) -> String {
        var lines: [String] = []
        func row(_ name: String, _ value: String) { lines.append(name.padding(toLength: 34, withPad: " ", startingAt: 0) + value) }
        func f(_ v: Double, _ digits: Int = 3) -> String { String(format: "%.\(digits)f", v) }
        lines.append("evaluation of \(r.model) (\(r.samples) samples, seed \(r.seed), \(Int(r.seconds)) s)")
        if let c = r.classifierMetrics {
            let acc = c.classifierTestAccuracy.map { ", test accuracy \(f(100 * $0, 2))%" } ?? ""
            row("classifier", c.classifier + acc)
            row("class shares", c.classShares.map { "\($0.label): \(f(100 * $0.share, 1))%" }.joined(separator: "  "))
            let shares = c.classShares.map(\.share)
            let uniform = 1 / Double(max(1, shares.count))
            let balanced = shares.allSatisfy { $0 >= 0.5 * uniform && $0 <= 1.5 * uniform }
            row("  min / max share", "\(f(100 * (shares.min() ?? 0), 1))% / \(f(100 * (shares.max() ?? 0), 1))%"
                + " (every class within \(f(50 * uniform, 1))-\(f(150 * uniform, 1))%: \(balanced ? "yes" : "no"))")
            row("mean top-class confidence", f(c.meanConfidence))
            if let agreement = c.requestedClassAgreement {
                row("asked-for class recognised", agreement.map { "\($0.label): \(f(100 * $0.share, 1))%" }.joined(separator: "  "))
                let shares = agreement.map(\.share)
                row("  min / mean", "\(f(100 * (shares.min() ?? 0), 1))% / \(f(100 * shares.reduce(0, +) / Double(max(1, shares.count)), 1))%")
            }
            row("Fréchet distance (features)", "\(f(c.frechetDistance)) vs \(c.frechetReference)")
            if let floor = c.frechetFloor { row("  floor (real train vs same)", f(floor)) }
        }
        let levels = r.swd.levels.map { "\($0.resolution)px \(f($0.distance, 2))" }.joined(separator: ", ")
        row("SWD x1e3 (\(r.swd.images) images)", "avg \(f(r.swd.average, 2))  [\(levels)]")
        if let floor = r.swdFloor {
            row("  floor (real vs real)", "avg \(f(floor.average, 2))  [" + floor.levels.map { "\($0.resolution)px \(f($0.distance, 2))" }.joined(separator: ", ") + "]")
        }
        row("nearest training image (L2)", "median \(f(r.nearest.medianSampleDistance)), min \(f(r.nearest.minimumSampleDistance)) over \(r.nearest.pairs) samples")
        if let real = r.nearest.medianRealDistance { row("  real test images", "median \(f(real))") }
        if let j = r.twoSample {
            row("real-vs-generated judge", "held-out accuracy \(f(100 * j.accuracy, 1))% (50% = cannot tell them apart)")
            row("  real / generated right", "\(f(100 * j.realAccuracy, 1))% / \(f(100 * j.generatedAccuracy, 1))%; trained on \(j.trainImages) + \(j.trainImages), \(j.epochs) epochs, tested on \(j.testImages) + \(j.testImages)")
        }
        return lines.joined(separator: "\n")
    }
}

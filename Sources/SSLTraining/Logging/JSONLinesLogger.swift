import Foundation

/// Appends one JSON object per logged row to `metrics.jsonl`
/// (`{"epoch":0,"step":50,"train/loss_step":4.1}`), and writes `hparams.json`.
public final class JSONLinesLogger: MetricsLogger {
    public let path: String
    public let hyperparameterPath: String
    private var pending = ""

    public init(directory: String) {
        path = (directory as NSString).appendingPathComponent("metrics.jsonl")
        hyperparameterPath = (directory as NSString).appendingPathComponent("hparams.json")
    }

    public func logHyperparameters(_ values: [String: String]) throws {
        let data = try JSONSerialization.data(withJSONObject: values, options: [.prettyPrinted, .sortedKeys])
        try AtomicWrite.write(data, to: hyperparameterPath)
    }

    public func logMetrics(_ metrics: [String: Float], step: Int, epoch: Int) throws {
        guard !metrics.isEmpty else { return }
        var object: [String: Any] = ["epoch": epoch, "step": step]
        for (key, value) in metrics { object[key] = value.isFinite ? Double(value) : String(describing: value) }
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        pending += String(decoding: data, as: UTF8.self) + "\n"
    }

    public func truncate(toRowCount count: Int) throws {
        guard FileManager.default.fileExists(atPath: path) else { return }
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw TrainingError.badFile(path: path, problem: "cannot be read: \(error.localizedDescription)")
        }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: true)
        guard lines.count > count else { return }
        let kept = lines.prefix(count).map { $0 + "\n" }.joined()
        try AtomicWrite.write(Data(kept.utf8), to: path)
    }

    public func flush() throws {
        guard !pending.isEmpty else { return }
        if !FileManager.default.fileExists(atPath: path) {
            _ = FileManager.default.createFile(atPath: path, contents: nil)   // a failure surfaces just below
        }
        guard let handle = FileHandle(forWritingAtPath: path) else {
            throw TrainingError.badFile(path: path, problem: "cannot be opened for appending")
        }
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(pending.utf8))
        pending = ""
    }
}

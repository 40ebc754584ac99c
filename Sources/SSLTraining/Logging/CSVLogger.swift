import Foundation

/// Writes `metrics.csv` in Lightning's `CSVLogger` layout: columns `epoch`, `step`, then every
/// metric name seen (sorted), one row per logged step or epoch with empty cells for metrics
/// not logged in that row. The file is rewritten atomically on each flush; a run resumed into
/// the same directory keeps the earlier rows.
///
/// ```swift
/// let logger = try CSVLogger(directory: "runs/simclr/version_0")
/// ```
public final class CSVLogger: MetricsLogger {
    public let path: String
    private var rows: [MetricRecord] = []
    private var columns = Set<String>()

    /// A logger writing `<directory>/metrics.csv`, continuing an existing file there.
    public init(directory: String) throws {
        path = (directory as NSString).appendingPathComponent("metrics.csv")
        if FileManager.default.fileExists(atPath: path) {
            rows = try Self.parse(path)
            for row in rows { columns.formUnion(row.values.keys) }
        }
    }

    /// The rows logged so far (including earlier runs' rows from the file).
    public var records: [MetricRecord] { rows }

    public func logHyperparameters(_ values: [String: String]) throws {}

    public func logMetrics(_ metrics: [String: Float], step: Int, epoch: Int) throws {
        guard !metrics.isEmpty else { return }
        rows.append(MetricRecord(step: step, epoch: epoch, values: metrics))
        columns.formUnion(metrics.keys)
    }

    public func truncate(toRowCount count: Int) throws {
        guard rows.count > count else { return }
        rows.removeLast(rows.count - count)
        columns = Set(rows.flatMap(\.values.keys))
        try flush()
    }

    public func flush() throws {
        let names = columns.sorted()
        var text = (["epoch", "step"] + names.map(Self.escape)).joined(separator: ",") + "\n"
        for row in rows {
            let cells = names.map { name in row.values[name].map { Self.format($0) } ?? "" }
            text += ([String(row.epoch), String(row.step)] + cells).joined(separator: ",") + "\n"
        }
        try AtomicWrite.write(Data(text.utf8), to: path)
    }

    static func format(_ value: Float) -> String {
        if value.isNaN { return "nan" }
        if value.isInfinite { return value > 0 ? "inf" : "-inf" }
        return "\(value)"
    }

    static func escape(_ name: String) -> String {
        name.contains(",") || name.contains("\"") ? "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : name
    }

    static func parse(_ path: String) throws -> [MetricRecord] {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw TrainingError.badFile(path: path, problem: "cannot be read: \(error.localizedDescription)")
        }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
        guard !lines.isEmpty else { return [] }
        let header = splitRow(lines.removeFirst())
        guard header.count >= 2, header[0] == "epoch", header[1] == "step" else {
            throw TrainingError.badFile(path: path, problem: "does not start with the columns epoch,step")
        }
        var records: [MetricRecord] = []
        for (lineNumber, line) in lines.enumerated() {
            let cells = splitRow(line)
            guard cells.count == header.count, let epoch = Int(cells[0]), let step = Int(cells[1]) else {
                throw TrainingError.badFile(path: path, problem: "row \(lineNumber + 2) does not match the header")
            }
            var values: [String: Float] = [:]
            for index in 2..<cells.count where !cells[index].isEmpty {
                guard let value = Float(cells[index]) else {
                    throw TrainingError.badFile(path: path, problem: "row \(lineNumber + 2) has a non-numeric value \"\(cells[index])\"")
                }
                values[header[index]] = value
            }
            records.append(MetricRecord(step: step, epoch: epoch, values: values))
        }
        return records
    }

    static func splitRow(_ line: String) -> [String] {
        var cells: [String] = []
        var current = ""
        var quoted = false
        var iterator = line.makeIterator()
        while let character = iterator.next() {
            if quoted {
                if character == "\"" {
                    if let next = iterator.next() {
                        if next == "\"" { current.append("\"") } else { quoted = false; if next == "," { cells.append(current); current = "" } else { current.append(next) } }
                    } else { quoted = false }
                } else { current.append(character) }
            } else if character == "\"" {
                quoted = true
            } else if character == "," {
                cells.append(current)
                current = ""
            } else {
                current.append(character)
            }
        }
        cells.append(current)
        return cells
    }
}

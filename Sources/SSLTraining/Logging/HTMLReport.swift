import Foundation

/// A self-contained HTML page (no scripts, no external files) with one SVG line chart per
/// logged metric, the hyperparameters and the final values; extra sections (for example a 2-D
/// map of embeddings) can be added as SVG. The Trainer writes `report.html` at the end of
/// every fit.
///
/// ```swift
/// var report = HTMLReport(title: "simclr", records: trainer.metricsHistory)
/// report.addSection(title: "Embeddings", svg: scatterPlotSVG)
/// try report.write(to: "runs/simclr/version_0/report.html")
/// ```
public struct HTMLReport {
    public var title: String
    public var records: [MetricRecord]
    public var hyperparameters: [String: String]
    public private(set) var sections: [(title: String, svg: String)] = []

    public init(title: String, records: [MetricRecord], hyperparameters: [String: String] = [:]) {
        self.title = title
        self.records = records
        self.hyperparameters = hyperparameters
    }

    /// Adds a section with an SVG drawing.
    public mutating func addSection(title: String, svg: String) { sections.append((title, svg)) }

    /// The page.
    public func render() -> String {
        var names = Set<String>()
        for record in records { names.formUnion(record.values.keys) }
        var body = "<h1>\(escape(title))</h1>\n"
        if let last = lastValues(), !last.isEmpty {
            body += "<h2>Final values</h2>\n<table>\n"
            for key in last.keys.sorted() { body += "<tr><td>\(escape(key))</td><td>\(last[key].map { "\($0)" } ?? "")</td></tr>\n" }
            body += "</table>\n"
        }
        body += "<h2>Metrics</h2>\n<div class=\"charts\">\n"
        for chart in Self.chartGroups(names) {
            let series = chart.series.map { series in
                (name: series.label, points: records.compactMap { record in record.values[series.metric].map { (Double(record.step), Double($0)) } })
            }
            body += "<figure><figcaption>\(escape(chart.title))</figcaption>\n\(Self.lineChart(series: series))</figure>\n"
        }
        body += "</div>\n"
        for section in sections { body += "<h2>\(escape(section.title))</h2>\n\(section.svg)\n" }
        if !hyperparameters.isEmpty {
            body += "<h2>Hyperparameters</h2>\n<table>\n"
            for key in hyperparameters.keys.sorted() {
                body += "<tr><td>\(escape(key))</td><td>\(escape(hyperparameters[key] ?? ""))</td></tr>\n"
            }
            body += "</table>\n"
        }
        return """
            <!DOCTYPE html>
            <html><head><meta charset="utf-8"><title>\(escape(title))</title>
            <style>
            body { font-family: sans-serif; margin: 2em; color: #222; }
            .charts { display: flex; flex-wrap: wrap; gap: 1em; }
            figure { margin: 0; border: 1px solid #ddd; padding: 0.5em; }
            figcaption { font-weight: bold; margin-bottom: 0.3em; }
            table { border-collapse: collapse; } td { border: 1px solid #ddd; padding: 0.2em 0.6em; }
            </style></head><body>
            \(body)</body></html>
            """
    }

    /// Writes the page atomically.
    public func write(to path: String) throws {
        try AtomicWrite.write(Data(render().utf8), to: path)
    }

    private func lastValues() -> [String: Float]? {
        var result: [String: Float] = [:]
        for record in records { for (key, value) in record.values { result[key] = value } }
        return result
    }

    private func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    /// One chart per quantity: `train/loss_step`, `train/loss_epoch` and `val/loss` share the
    /// chart "loss", each a series named by its stage (and step or epoch aggregate).
    static func chartGroups(_ names: Set<String>) -> [(title: String, series: [(metric: String, label: String)])] {
        var groups: [String: [(metric: String, label: String)]] = [:]
        for name in names.sorted() {
            var quantity = name, stage = ""
            for prefix in ["train/", "val/", "test/"] where name.hasPrefix(prefix) {
                stage = String(prefix.dropLast())
                quantity = String(name.dropFirst(prefix.count))
            }
            var aggregate = ""
            for suffix in ["_step", "_epoch"] where quantity.hasSuffix(suffix) {
                aggregate = String(suffix.dropFirst())
                quantity = String(quantity.dropLast(suffix.count))
            }
            let label = [stage, aggregate.isEmpty ? "" : "(\(aggregate))"].filter { !$0.isEmpty }.joined(separator: " ")
            groups[quantity, default: []].append((name, label.isEmpty ? name : label))
        }
        return groups.keys.sorted().map { (title: $0, series: groups[$0] ?? []) }
    }

    static let seriesColours = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"]

    /// An SVG line chart of (x, y) points with axes and min/max labels.
    public static func lineChart(_ points: [(Double, Double)], width: Int = 360, height: Int = 220) -> String {
        lineChart(series: [(name: "", points: points)], width: width, height: height)
    }

    /// An SVG line chart of one or more series against the optimizer step, with round-number
    /// ticks and grid lines on both axes and a legend when there is more than one series.
    public static func lineChart(series: [(name: String, points: [(Double, Double)])], width: Int = 380, height: Int = 240) -> String {
        let finite = series.map { (name: $0.name, points: $0.points.filter { $0.0.isFinite && $0.1.isFinite }) }
        let all = finite.flatMap(\.points)
        let left = 58.0, right = 12.0, top = 12.0, bottom = 44.0
        let plotWidth = Double(width) - left - right, plotHeight = Double(height) - top - bottom
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\" font-family=\"sans-serif\">"
        svg += "<rect x=\"\(left)\" y=\"\(top)\" width=\"\(plotWidth)\" height=\"\(plotHeight)\" fill=\"#fafafa\" stroke=\"#bbb\"/>"
        guard let first = all.first else {
            return svg + "<text x=\"\(left + 8)\" y=\"\(top + 20)\" font-size=\"12\">no finite values</text></svg>"
        }
        var minX = first.0, maxX = first.0, minY = first.1, maxY = first.1
        for (x, y) in all {
            minX = Swift.min(minX, x); maxX = Swift.max(maxX, x)
            minY = Swift.min(minY, y); maxY = Swift.max(maxY, y)
        }
        if maxX == minX { maxX = minX + 1 }
        if maxY == minY { maxY = minY + 1; minY -= 1 }
        func px(_ x: Double) -> Double { left + (x - minX) / (maxX - minX) * plotWidth }
        func py(_ y: Double) -> Double { top + (1 - (y - minY) / (maxY - minY)) * plotHeight }
        for tick in ticks(from: minY, to: maxY) {
            let y = py(tick)
            svg += String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>", left, y, left + plotWidth, y)
            svg += String(format: "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" text-anchor=\"end\">", left - 4, y + 3) + label(tick) + "</text>"
        }
        for tick in ticks(from: minX, to: maxX) {
            let x = px(tick)
            svg += String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>", x, top, x, top + plotHeight)
            svg += String(format: "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" text-anchor=\"middle\">", x, top + plotHeight + 13) + label(tick) + "</text>"
        }
        svg += "<text x=\"\(left + plotWidth / 2)\" y=\"\(top + plotHeight + 27)\" font-size=\"10\" text-anchor=\"middle\">step</text>"
        for (index, line) in finite.enumerated() where !line.points.isEmpty {
            let colour = seriesColours[index % seriesColours.count]
            let path = line.points.map { String(format: "%.1f,%.1f", px($0.0), py($0.1)) }.joined(separator: " ")
            svg += "<polyline fill=\"none\" stroke=\"\(colour)\" stroke-width=\"1.5\" points=\"\(path)\"/>"
            if line.points.count <= 12 {
                for point in line.points {
                    svg += String(format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%@\"/>", px(point.0), py(point.1), colour)
                }
            }
        }
        if finite.count > 1 {
            var x = left
            for (index, line) in finite.enumerated() {
                let colour = seriesColours[index % seriesColours.count]
                svg += "<rect x=\"\(x)\" y=\"\(Double(height) - 11)\" width=\"10\" height=\"3\" fill=\"\(colour)\"/>"
                svg += "<text x=\"\(x + 13)\" y=\"\(Double(height) - 7)\" font-size=\"10\">\(line.name.replacingOccurrences(of: "<", with: "&lt;"))</text>"
                x += 20 + Double(line.name.count) * 6
            }
        }
        return svg + "</svg>"
    }

    /// Round-number tick positions (1, 2 or 5 × 10ⁿ apart) covering [low, high], about five.
    static func ticks(from low: Double, to high: Double, target: Int = 5) -> [Double] {
        let span = high - low
        guard span > 0, span.isFinite else { return [low] }
        let raw = span / Double(target)
        let magnitude = pow(10, (log10(raw)).rounded(.down))
        let step = [1.0, 2.0, 5.0, 10.0].map { $0 * magnitude }.first { $0 >= raw } ?? 10 * magnitude
        var tick = (low / step).rounded(.up) * step
        var result: [Double] = []
        while tick <= high + step * 1e-9 && result.count < 50 {
            result.append(abs(tick) < step * 1e-9 ? 0 : tick)
            tick += step
        }
        return result
    }

    static func label(_ value: Double) -> String {
        String(format: Swift.abs(value) >= 10000 || (Swift.abs(value) < 0.01 && value != 0) ? "%.3g" : "%.4g", value)
    }
}

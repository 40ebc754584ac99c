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
        for name in names.sorted() {
            let points = records.compactMap { record in record.values[name].map { (Double(record.step), Double($0)) } }
            body += "<figure><figcaption>\(escape(name))</figcaption>\n\(Self.lineChart(points))</figure>\n"
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

    /// An SVG line chart of (x, y) points with axes and min/max labels.
    public static func lineChart(_ points: [(Double, Double)], width: Int = 360, height: Int = 220) -> String {
        let finite = points.filter { $0.0.isFinite && $0.1.isFinite }
        let left = 56.0, right = 10.0, top = 10.0, bottom = 28.0
        let plotWidth = Double(width) - left - right, plotHeight = Double(height) - top - bottom
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\">"
        svg += "<rect x=\"\(left)\" y=\"\(top)\" width=\"\(plotWidth)\" height=\"\(plotHeight)\" fill=\"#fafafa\" stroke=\"#bbb\"/>"
        guard let first = finite.first else {
            return svg + "<text x=\"\(left + 8)\" y=\"\(top + 20)\" font-size=\"12\">no finite values</text></svg>"
        }
        var minX = first.0, maxX = first.0, minY = first.1, maxY = first.1
        for (x, y) in finite {
            minX = Swift.min(minX, x); maxX = Swift.max(maxX, x)
            minY = Swift.min(minY, y); maxY = Swift.max(maxY, y)
        }
        if maxX == minX { maxX = minX + 1 }
        if maxY == minY { maxY = minY + 1; minY -= 1 }
        func px(_ x: Double) -> Double { left + (x - minX) / (maxX - minX) * plotWidth }
        func py(_ y: Double) -> Double { top + (1 - (y - minY) / (maxY - minY)) * plotHeight }
        let path = finite.map { String(format: "%.1f,%.1f", px($0.0), py($0.1)) }.joined(separator: " ")
        svg += "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.5\" points=\"\(path)\"/>"
        if finite.count == 1 {
            svg += String(format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"#1f77b4\"/>", px(first.0), py(first.1))
        }
        func label(_ value: Double) -> String { String(format: Swift.abs(value) >= 1000 || (Swift.abs(value) < 0.01 && value != 0) ? "%.3g" : "%.4g", value) }
        svg += "<text x=\"\(left - 4)\" y=\"\(top + 10)\" font-size=\"10\" text-anchor=\"end\">\(label(maxY))</text>"
        svg += "<text x=\"\(left - 4)\" y=\"\(top + plotHeight)\" font-size=\"10\" text-anchor=\"end\">\(label(minY))</text>"
        svg += "<text x=\"\(left)\" y=\"\(Double(height) - 10)\" font-size=\"10\">\(label(minX))</text>"
        svg += "<text x=\"\(left + plotWidth)\" y=\"\(Double(height) - 10)\" font-size=\"10\" text-anchor=\"end\">\(label(maxX))</text>"
        svg += "<text x=\"\(left + plotWidth / 2)\" y=\"\(Double(height) - 10)\" font-size=\"10\" text-anchor=\"middle\">step</text>"
        return svg + "</svg>"
    }
}

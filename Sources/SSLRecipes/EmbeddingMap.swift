import Foundation
import SSLMethods
import SSLTensor

/// A 2-D picture of embeddings: the first two principal components, one colour per class, as an
/// SVG scatter plot (at most 3 000 points).
public enum EmbeddingMap {
    static let palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]

    /// The scatter plot; the legend names each class by `classNames` (else "class i").
    public static func svg(features: Tensor, labels: [Int], classCount: Int, classNames: [String] = [], size: Int = 420) -> String {
        let points = project(features)
        let step = Swift.max(1, points.count / 3000)
        let shown = stride(from: 0, to: points.count, by: step).map { ($0, points[$0]) }
        let xs = shown.map { $0.1.0 }, ys = shown.map { $0.1.1 }
        guard let minX = xs.min(), let maxX = xs.max(), let minY = ys.min(), let maxY = ys.max() else {
            return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(size)\" height=\"40\"><text x=\"4\" y=\"20\">no embeddings</text></svg>"
        }
        let spanX = Swift.max(maxX - minX, 1e-9), spanY = Swift.max(maxY - minY, 1e-9)
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(size + 120)\" height=\"\(size)\" viewBox=\"0 0 \(size + 120) \(size)\">"
        svg += "<rect width=\"\(size)\" height=\"\(size)\" fill=\"#fafafa\" stroke=\"#bbb\"/>"
        for (index, point) in shown {
            let x = 8 + (point.0 - minX) / spanX * Double(size - 16)
            let y = 8 + (1 - (point.1 - minY) / spanY) * Double(size - 16)
            let colour = palette[labels[index] % palette.count]
            svg += String(format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"1.6\" fill=\"%@\" fill-opacity=\"0.7\"/>", x, y, colour)
        }
        for label in 0..<Swift.min(classCount, palette.count) {
            svg += "<rect x=\"\(size + 10)\" y=\"\(10 + label * 18)\" width=\"10\" height=\"10\" fill=\"\(palette[label])\"/>"
            let name = label < classNames.count ? classNames[label] : "class \(label)"
            let escaped = name.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            svg += "<text x=\"\(size + 26)\" y=\"\(19 + label * 18)\" font-size=\"11\">\(escaped)</text>"
        }
        return svg + "</svg>"
    }

    /// Rows projected on the two leading principal components (power iteration with deflation).
    static func project(_ features: Tensor) -> [(Double, Double)] {
        let rows = features.shape[0], columns = features.shape[1]
        let values = features.scalars
        var mean = [Double](repeating: 0, count: columns)
        for row in 0..<rows { for column in 0..<columns { mean[column] += Double(values[row * columns + column]) } }
        for column in 0..<columns { mean[column] /= Double(Swift.max(rows, 1)) }
        var covariance = [Double](repeating: 0, count: columns * columns)
        let centered = (0..<rows).map { row in (0..<columns).map { Double(values[row * columns + $0]) - mean[$0] } }
        for vector in centered {
            for i in 0..<columns where vector[i] != 0 {
                for j in 0..<columns { covariance[i * columns + j] += vector[i] * vector[j] }
            }
        }
        var components: [[Double]] = []
        for componentIndex in 0..<2 {
            var vector = (0..<columns).map { Double(($0 * 7 + componentIndex * 13) % 11) + 1 }
            for _ in 0..<200 {
                var next = [Double](repeating: 0, count: columns)
                for i in 0..<columns { for j in 0..<columns { next[i] += covariance[i * columns + j] * vector[j] } }
                for previous in components {
                    let projection = zip(next, previous).map(*).reduce(0, +)
                    for i in 0..<columns { next[i] -= projection * previous[i] }
                }
                let norm = next.map { $0 * $0 }.reduce(0, +).squareRoot()
                guard norm > 0 else { break }
                vector = next.map { $0 / norm }
            }
            components.append(vector)
        }
        return centered.map { row in
            (zip(row, components[0]).map(*).reduce(0, +), zip(row, components[1]).map(*).reduce(0, +))
        }
    }

    /// A small SVG holding lines of text (for report panels).
    public static func textPanel(_ lines: [String]) -> String {
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"520\" height=\"\(lines.count * 22 + 10)\">"
        for (index, line) in lines.enumerated() {
            let escaped = line.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            svg += "<text x=\"6\" y=\"\(22 * (index + 1))\" font-size=\"14\">\(escaped)</text>"
        }
        return svg + "</svg>"
    }
}

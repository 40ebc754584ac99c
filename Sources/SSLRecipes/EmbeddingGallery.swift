import Foundation

/// One self-contained HTML page (no scripts, images embedded as thumbnails) of what an encoder
/// shows about a set of images: a map of all images placed by their first two principal
/// components and framed in their class's colour (hover enlarges a thumbnail), a sample of
/// query images with their nearest neighbours, the near-duplicate groups and the outliers.
///
/// ```swift
/// let page = EmbeddingGallery(facts: facts, title: "products — simclr/version_0") { index in thumbnails[index] }
/// try page.write(to: "embeddings/gallery.html")
/// ```
public struct EmbeddingGallery {
    public let facts: EmbeddingExport.Facts
    public let title: String
    /// A `data:` URI of image `index`'s thumbnail (nil shows a grey box).
    public let thumbnail: (Int) -> String?
    /// How many images the map shows at most (an even sample of all).
    public var mapLimit = 600
    /// How many query rows the neighbour section shows.
    public var queryCount = 10
    /// How many duplicate groups, and members of each, are shown.
    public var groupLimit = 30, membersPerGroup = 10

    public init(facts: EmbeddingExport.Facts, title: String, thumbnail: @escaping (Int) -> String?) {
        self.facts = facts
        self.title = title
        self.thumbnail = thumbnail
    }

    /// The page.
    public func render() -> String {
        var html = """
            <!DOCTYPE html><html><head><meta charset="utf-8"><title>\(escape(title))</title><style>
            body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px;color:#222;max-width:1200px}
            h1{font-size:22px}h2{font-size:17px;margin-top:32px;border-bottom:1px solid #ddd;padding-bottom:4px}
            .note{color:#666;font-size:13px}
            .map{position:relative;width:960px;height:640px;background:#fafafa;border:1px solid #ccc;overflow:hidden}
            .map img{position:absolute;width:22px;height:22px;border:2px solid;border-radius:3px;transition:transform .1s}
            .map img:hover{transform:scale(5);z-index:10;box-shadow:0 2px 8px #0006}
            .legend span{display:inline-block;margin:4px 12px 0 0;font-size:13px}
            .legend i{display:inline-block;width:11px;height:11px;margin-right:4px;vertical-align:-1px}
            .row{display:flex;gap:10px;align-items:flex-start;margin:10px 0;flex-wrap:wrap}
            figure{margin:0;text-align:center;font-size:11px;color:#555;width:88px;overflow:hidden}
            figure img,figure .none{width:80px;height:80px;border:2px solid #ccc;border-radius:4px;image-rendering:pixelated;object-fit:cover}
            figure .none{display:inline-block;background:#ddd}
            figure.query img{border-color:#222}
            figcaption{white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
            </style></head><body>
            """
        html += "<h1>\(escape(title))</h1>"
        html += "<p class=\"note\">\(facts.paths.count) images, \(facts.features.shape[1])-dimensional embeddings; "
        html += "\(facts.duplicateGroups.count) near-duplicate groups at cosine ≥ \(String(format: "%g", facts.duplicateThreshold))"
        html += facts.search.pairsTruncated ? " (more pairs than were kept)" : ""
        html += facts.centred ? "; similarity is the cosine of the centred embeddings (the folder's mean embedding removed).</p>"
            : "; similarity is the cosine of the embeddings.</p>"
        html += mapSection() + neighbourSection() + duplicateSection() + outlierSection()
        return html + "</body></html>\n"
    }

    /// Writes the page to `path`.
    public func write(to path: String) throws {
        try EmbeddingExport.writeText(render(), to: path)
    }

    // MARK: Sections

    private func colour(of index: Int) -> String {
        guard let label = facts.labels?[index], label >= 0 else { return "#888" }
        return EmbeddingMap.palette[label % EmbeddingMap.palette.count]
    }

    private func mapSection() -> String {
        var html = "<h2>Map of all images</h2><p class=\"note\">Placed by the first two principal components of the embeddings"
        html += facts.paths.count > mapLimit ? " (an even sample of \(mapLimit))" : ""
        html += "; hover a thumbnail to enlarge it.</p><div class=\"map\">"
        let xs = facts.map.map(\.x), ys = facts.map.map(\.y)
        if let minX = xs.min(), let maxX = xs.max(), let minY = ys.min(), let maxY = ys.max() {
            let step = Swift.max(1, (facts.paths.count + mapLimit - 1) / mapLimit)
            for index in stride(from: 0, to: facts.paths.count, by: step) {
                let left = 4 + (facts.map[index].x - minX) / Swift.max(maxX - minX, 1e-9) * 928
                let top = 4 + (1 - (facts.map[index].y - minY) / Swift.max(maxY - minY, 1e-9)) * 608
                html += "<img src=\"\(thumbnail(index) ?? "")\" style=\"left:\(Int(left))px;top:\(Int(top))px;border-color:\(colour(of: index))\""
                html += " title=\"\(escape(name(index)))\" alt=\"\">"
            }
        }
        html += "</div>"
        if facts.labels != nil {
            html += "<div class=\"legend\">"
            for (label, name) in facts.classNames.enumerated() {
                html += "<span><i style=\"background:\(EmbeddingMap.palette[label % EmbeddingMap.palette.count])\"></i>\(escape(name))</span>"
            }
            html += "</div>"
        }
        return html
    }

    private func neighbourSection() -> String {
        var html = "<h2>Nearest neighbours</h2><p class=\"note\">A sample of query images (dark frame), each followed by "
        html += "its \(facts.search.k) most similar images with their similarity.</p>"
        let count = facts.paths.count
        let queries = Swift.min(queryCount, count)
        for sample in 0..<queries {
            let query = count * sample / Swift.max(queries, 1)
            html += "<div class=\"row\">" + figure(query, caption: name(query), query: true)
            for neighbour in facts.search.neighbours(of: query) {
                html += figure(neighbour.index, caption: String(format: "%.3f", neighbour.similarity) + " " + name(neighbour.index))
            }
            html += "</div>"
        }
        return html
    }

    private func duplicateSection() -> String {
        var html = "<h2>Near-duplicates</h2>"
        guard !facts.duplicateGroups.isEmpty else {
            return html + "<p class=\"note\">No two images reach cosine \(String(format: "%g", facts.duplicateThreshold)).</p>"
        }
        html += "<p class=\"note\">\(facts.duplicateGroups.count) groups (all in duplicates.csv)"
        html += facts.duplicateGroups.count > groupLimit ? "; the \(groupLimit) largest:" : ":" 
        html += "</p>"
        for (number, group) in facts.duplicateGroups.prefix(groupLimit).enumerated() {
            html += "<p class=\"note\">Group \(number + 1): \(group.count) images</p><div class=\"row\">"
            for member in group.prefix(membersPerGroup) { html += figure(member, caption: name(member)) }
            html += "</div>"
        }
        return html
    }

    private func outlierSection() -> String {
        var html = "<h2>Outliers</h2><p class=\"note\">The images least similar to their own nearest neighbours "
        html += "(mean similarity to their \(facts.search.k) neighbours, lowest first).</p><div class=\"row\">"
        for outlier in facts.outliers {
            html += figure(outlier.index, caption: String(format: "%.3f", outlier.meanSimilarity) + " " + name(outlier.index))
        }
        return html + "</div>"
    }

    private func figure(_ index: Int, caption: String, query: Bool = false) -> String {
        let image = thumbnail(index).map { "<img src=\"\($0)\" alt=\"\" style=\"border-color:\(colour(of: index))\">" }
            ?? "<span class=\"none\"></span>"
        let label = facts.className(of: index)
        return "<figure\(query ? " class=\"query\"" : "") title=\"\(escape(facts.paths[index]))\">\(image)"
            + "<figcaption>\(escape(caption))</figcaption>" + (label.isEmpty ? "" : "<figcaption>\(escape(label))</figcaption>")
            + "</figure>"
    }

    private func name(_ index: Int) -> String { (facts.paths[index] as NSString).lastPathComponent }

    private func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}

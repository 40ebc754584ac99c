import Foundation
import SSLMethods
import SSLNN
import SSLTensor
import SSLTraining

/// What an encoder shows about a set of images, written as files: the embeddings (safetensors,
/// with the file paths in the header so Python reads both), a CSV of paths, labels and 2-D map
/// coordinates, each image's nearest neighbours, the near-duplicate groups and the outliers.
/// `ssl-embed` writes these for a folder; `EmbeddingGallery` turns the same facts into a page.
///
/// ```swift
/// let facts = EmbeddingExport.Facts(features: features, paths: paths, labels: labels, classNames: names,
///                                   neighbours: 5, duplicateThreshold: 0.95, outlierCount: 20)
/// try EmbeddingExport.write(facts, to: "embeddings/")
/// ```
public enum EmbeddingExport {
    /// The embeddings of a set of images and what the search found in them.
    public struct Facts {
        public let features: Tensor
        public let paths: [String]
        /// Each image's class index, or nil for an unlabelled folder.
        public let labels: [Int]?
        public let classNames: [String]
        public let search: NearestNeighbourSearch.Result
        public let duplicateThreshold: Float
        public let duplicateGroups: [[Int]]
        public let outliers: [(index: Int, meanSimilarity: Float)]
        /// The first two principal components of every embedding.
        public let map: [(x: Double, y: Double)]

        /// Whether similarities are cosines of the centred embeddings.
        public let centred: Bool

        /// Runs the neighbour search, groups duplicates and finds outliers. With `centred` (the
        /// default) the search compares the embeddings minus their mean: an encoder's features
        /// (after ReLU and pooling, all non-negative) share one large mean direction that makes
        /// every cosine high, so near-duplicates would chain the whole folder into one group.
        public init(features: Tensor, paths: [String], labels: [Int]?, classNames: [String], neighbours: Int,
                    duplicateThreshold: Float, outlierCount: Int, centred: Bool = true) {
            precondition(features.rank == 2 && features.shape[0] == paths.count && (labels?.count ?? paths.count) == paths.count,
                         "EmbeddingExport.Facts: \(features.shape) features for \(paths.count) paths and \(labels?.count ?? 0) labels")
            self.features = features
            self.paths = paths
            self.labels = labels
            self.classNames = classNames
            self.duplicateThreshold = duplicateThreshold
            self.centred = centred
            let compared = centred && features.shape[0] > 1 ? noGrad { features - features.mean(axes: [0], keepDims: true) } : features
            search = NearestNeighbourSearch.run(compared, k: neighbours, duplicateThreshold: duplicateThreshold)
            duplicateGroups = NearDuplicateGroups(pairs: search.pairsAboveThreshold, count: paths.count).groups
            outliers = search.outliers(count: Swift.min(outlierCount, paths.count))
            map = paths.isEmpty ? [] : EmbeddingMap.project(features).map { (x: $0.0, y: $0.1) }
        }

        /// The class name of image `index` ("" when unlabelled).
        public func className(of index: Int) -> String {
            guard let label = labels?[index] else { return "" }
            return label >= 0 && label < classNames.count ? classNames[label] : String(label)
        }
    }

    /// Writes `embeddings.safetensors`, `embeddings.csv`, `neighbours.csv`, `duplicates.csv` and
    /// `outliers.csv` into `directory` (created if needed); returns their paths.
    @discardableResult
    public static func write(_ facts: Facts, to directory: String) throws -> [String] {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw TrainingError.badFile(path: directory, problem: "cannot be created as a directory: \(error.localizedDescription)")
        }
        func path(_ name: String) -> String { (directory as NSString).appendingPathComponent(name) }
        var written: [String] = []

        var state = StateDict()
        state["embeddings"] = facts.features.contiguous()
        var metadata = ["format": "pt", "paths": try json(facts.paths), "class_names": try json(facts.classNames)]
        if let labels = facts.labels { metadata["labels"] = try json(labels) }
        do {
            try SafeTensors.write(state, to: path("embeddings.safetensors"), metadata: metadata)
        } catch {
            throw TrainingError.badFile(path: path("embeddings.safetensors"), problem: "\(error)")
        }
        written.append(path("embeddings.safetensors"))

        var table = [["path", "label", "class", "map_x", "map_y"]]
        for index in facts.paths.indices {
            table.append([facts.paths[index], facts.labels.map { String($0[index]) } ?? "", facts.className(of: index),
                          String(format: "%.5f", facts.map[index].x), String(format: "%.5f", facts.map[index].y)])
        }
        try writeCSV(table, to: path("embeddings.csv"))
        written.append(path("embeddings.csv"))

        table = [["path", "rank", "neighbour", "similarity"]]
        for index in facts.paths.indices {
            for (rank, neighbour) in facts.search.neighbours(of: index).enumerated() {
                table.append([facts.paths[index], String(rank + 1), facts.paths[neighbour.index],
                              String(format: "%.5f", neighbour.similarity)])
            }
        }
        try writeCSV(table, to: path("neighbours.csv"))
        written.append(path("neighbours.csv"))

        table = [["group", "size", "path"]]
        for (number, group) in facts.duplicateGroups.enumerated() {
            for member in group { table.append([String(number + 1), String(group.count), facts.paths[member]]) }
        }
        try writeCSV(table, to: path("duplicates.csv"))
        written.append(path("duplicates.csv"))

        table = [["rank", "path", "mean_neighbour_similarity"]]
        for (rank, outlier) in facts.outliers.enumerated() {
            table.append([String(rank + 1), facts.paths[outlier.index], String(format: "%.5f", outlier.meanSimilarity)])
        }
        try writeCSV(table, to: path("outliers.csv"))
        written.append(path("outliers.csv"))
        return written
    }

    private static func json<T: Encodable>(_ value: T) throws -> String {
        String(decoding: try JSONEncoder().encode(value), as: UTF8.self)
    }

    /// Writes rows as RFC 4180 CSV (fields with commas, quotes or line breaks are quoted).
    static func writeCSV(_ rows: [[String]], to path: String) throws {
        func field(_ text: String) -> String {
            guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
            return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
        try writeText(rows.map { $0.map(field).joined(separator: ",") }.joined(separator: "\n") + "\n", to: path)
    }

    /// Writes `text` to `path` atomically, naming the file in errors.
    static func writeText(_ text: String, to path: String) throws {
        do {
            try AtomicFile.write(Data(text.utf8), to: path)
        } catch {
            throw TrainingError.badFile(path: path, problem: "\(error)")
        }
    }
}

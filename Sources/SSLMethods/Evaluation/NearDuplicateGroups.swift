/// Groups of near-duplicate images: the connected components (union–find with path halving)
/// of the pairs whose similarity passed a threshold, largest group first, members in index
/// order, singletons left out.
///
/// ```swift
/// let search = NearestNeighbourSearch.run(embeddings, k: 5, duplicateThreshold: 0.95)
/// let groups = NearDuplicateGroups(pairs: search.pairsAboveThreshold, count: embeddings.shape[0]).groups
/// ```
public struct NearDuplicateGroups: Sendable {
    /// Each group's member indices (at least two), largest group first.
    public let groups: [[Int]]

    public init(pairs: [(first: Int32, second: Int32, similarity: Float)], count: Int) {
        var parent = Array(0..<count)
        func root(_ node: Int) -> Int {
            var node = node
            while parent[node] != node {
                parent[node] = parent[parent[node]]
                node = parent[node]
            }
            return node
        }
        for pair in pairs {
            let a = root(Int(pair.first)), b = root(Int(pair.second))
            if a != b { parent[Swift.max(a, b)] = Swift.min(a, b) }
        }
        var members: [Int: [Int]] = [:]
        for node in 0..<count { members[root(node), default: []].append(node) }
        groups = members.values.filter { $0.count > 1 }.sorted { a, b in a.count != b.count ? a.count > b.count : a[0] < b[0] }
    }
}

extension NearestNeighbourSearch.Result {
    /// The `count` rows whose mean similarity to their neighbours is lowest (the most isolated
    /// images), lowest first, with that mean.
    public func outliers(count: Int) -> [(index: Int, meanSimilarity: Float)] {
        let rows = k > 0 ? indices.count / k : 0
        let means = (0..<rows).map { row -> (index: Int, meanSimilarity: Float) in
            let found = neighbours(of: row)
            let mean = found.isEmpty ? -1 : found.map(\.similarity).reduce(0, +) / Float(found.count)
            return (row, mean)
        }
        return Array(means.sorted { a, b in a.meanSimilarity != b.meanSimilarity ? a.meanSimilarity < b.meanSimilarity : a.index < b.index }
            .prefix(count))
    }
}

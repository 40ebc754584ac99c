import Foundation
import SSLMethods
import SSLTensor

/// Exact nearest-neighbour search as `ssl-embed` runs it: `count` random embeddings of
/// `dimensions` (default 100 000 × 512, ResNet-18's feature size), each row's 5 most similar
/// by cosine through the blocked GEMM, with near-duplicate pairs collected at 0.95.
/// Prints `knn <count> <dimensions> <seconds> <GFLOP/s of the similarity products>`.
func benchmarkNearestNeighbours(arguments: [String]) {
    let count = arguments.first.flatMap(Int.init) ?? 100_000
    let dimensions = arguments.dropFirst().first.flatMap(Int.init) ?? 512
    var generator = RandomGenerator(seed: 0)
    let embeddings = Tensor.normal([count, dimensions], generator: &generator)
    let clock = ContinuousClock()
    var result: NearestNeighbourSearch.Result?
    let elapsed = clock.measure {
        result = NearestNeighbourSearch.run(embeddings, k: 5, duplicateThreshold: 0.95)
    }
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    // Only the blocks on and above the diagonal are computed: about half of N²·D multiply-adds.
    let flops = Double(count) * Double(count + 1) / 2 * Double(dimensions) * 2
    print("knn \(count) \(dimensions) \(String(format: "%.1f", seconds)) \(String(format: "%.0f", flops / seconds / 1e9))  (pairs ≥ 0.95: \(result?.pairsAboveThreshold.count ?? 0))")
}

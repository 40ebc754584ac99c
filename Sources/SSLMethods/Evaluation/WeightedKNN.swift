import SSLTensor

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Weighted k-nearest-neighbour classification by cosine similarity (as solo-learn's and
/// stable-ssl's kNN): the k most similar bank embeddings vote for their labels with weight
/// exp(similarity / temperature); the class with the largest total wins (the lowest index on
/// ties). Defaults k 20, temperature 0.07.
/// [Wu et al. 2018](https://arxiv.org/abs/1805.01978)
///
/// ```swift
/// let knn = WeightedKNN(k: 20, temperature: 0.07)
/// let predictions = knn.classify(queries: test, bank: train, bankLabels: labels, classCount: 10)
/// ```
public struct WeightedKNN: Sendable {
    public let k: Int
    public let temperature: Float

    public init(k: Int = 20, temperature: Float = 0.07) {
        precondition(k > 0 && temperature > 0, "WeightedKNN: k and temperature must be positive, got \(k), \(temperature)")
        self.k = k
        self.temperature = temperature
    }

    /// The predicted class of each query row `[Q, D]` against bank rows `[B, D]`.
    public func classify(queries: Tensor, bank: Tensor, bankLabels: [Int], classCount: Int) -> [Int] {
        scores(queries: queries, bank: bank, bankLabels: bankLabels, classCount: classCount).predictions
    }

    /// Class scores `[Q, classCount]` (row-major) and predictions.
    public func scores(queries: Tensor, bank: Tensor, bankLabels: [Int], classCount: Int)
        -> (scores: [Float], predictions: [Int])
    {
        precondition(queries.rank == 2 && bank.rank == 2 && queries.shape[1] == bank.shape[1],
                     "WeightedKNN: queries \(queries.shape) and bank \(bank.shape) must be [Q, D] and [B, D]")
        precondition(bankLabels.count == bank.shape[0],
                     "WeightedKNN: \(bankLabels.count) labels for a bank of \(bank.shape[0])")
        precondition(classCount > 0 && bankLabels.allSatisfy { $0 >= 0 && $0 < classCount },
                     "WeightedKNN: labels must be in 0..<\(classCount)")
        let queryCount = queries.shape[0], bankCount = bank.shape[0]
        let neighbours = Swift.min(k, bankCount)
        var allScores = [Float](repeating: 0, count: queryCount * classCount)
        var predictions = [Int](repeating: 0, count: queryCount)
        guard queryCount > 0, bankCount > 0 else { return (allScores, predictions) }
        let normalizedBank = noGrad { bank.l2Normalize(axis: 1) }
        let chunk = 512
        let labels = bankLabels
        let inverseTemperature = 1 / temperature
        var start = 0
        while start < queryCount {
            let end = Swift.min(queryCount, start + chunk)
            let block = noGrad { queries.slice(axis: 0, start..<end).l2Normalize(axis: 1).matmul(normalizedBank, transposeOther: true) }
            let rows = end - start
            let similarities = block.contiguous()
            similarities.withContiguousBuffer { similarityBuffer in
                allScores.withUnsafeMutableBufferPointer { scoreBuffer in
                    predictions.withUnsafeMutableBufferPointer { predictionBuffer in
                        guard let similarityBase = similarityBuffer.baseAddress, let scoreBase = scoreBuffer.baseAddress,
                              let predictionBase = predictionBuffer.baseAddress else { return }
                        let source = UnsafeSendablePointer(similarityBase)
                        let scoreOut = UnsafeSendablePointer(scoreBase), predictionOut = UnsafeSendablePointer(predictionBase)
                        let offset = start
                        Parallel.forEachChunk(count: rows, minimumChunk: 8) { rowRange in
                            var bestValues = [Float](repeating: -.infinity, count: neighbours)
                            var bestIndices = [Int](repeating: 0, count: neighbours)
                            var classScores = [Float](repeating: 0, count: classCount)
                            for row in rowRange {
                                let values = source.base + row * bankCount
                                Self.selectTop(values, count: bankCount, into: &bestValues, &bestIndices)
                                for c in 0..<classCount { classScores[c] = 0 }
                                for j in 0..<neighbours {
                                    classScores[labels[bestIndices[j]]] += expf(bestValues[j] * inverseTemperature)
                                }
                                var best = 0
                                for c in 1..<classCount where classScores[c] > classScores[best] { best = c }
                                let query = offset + row
                                predictionOut.base[query] = best
                                for c in 0..<classCount { scoreOut.base[query * classCount + c] = classScores[c] }
                            }
                        }
                    }
                }
            }
            start = end
        }
        return (allScores, predictions)
    }

    /// The largest `values.count` entries (descending; lower index first on ties), by insertion
    /// into a small sorted buffer: most candidates fail the first comparison.
    @inline(__always)
    static func selectTop(_ values: UnsafeMutablePointer<Float>, count: Int, into bestValues: inout [Float], _ bestIndices: inout [Int]) {
        let k = bestValues.count
        for i in 0..<k { bestValues[i] = -.infinity; bestIndices[i] = 0 }
        var filled = 0
        for index in 0..<count {
            let value = values[index]
            if filled == k && !(value > bestValues[k - 1]) { continue }
            var position = Swift.min(filled, k - 1)
            while position > 0 && value > bestValues[position - 1] {
                bestValues[position] = bestValues[position - 1]
                bestIndices[position] = bestIndices[position - 1]
                position -= 1
            }
            bestValues[position] = value
            bestIndices[position] = index
            if filled < k { filled += 1 }
        }
    }
}

import SSLTensor

/// Top-k classification accuracy accumulated over batches, as torchmetrics' `Accuracy`.
///
/// ```swift
/// var accuracy = Accuracy(topK: [1, 5])
/// accuracy.update(logits: logits, targets: labels)
/// let top1 = accuracy.compute()[1]
/// ```
public struct Accuracy: Sendable {
    public let topK: [Int]
    private var correct: [Int: Int] = [:]
    private var total = 0

    public init(topK: [Int] = [1]) {
        precondition(!topK.isEmpty && topK.allSatisfy { $0 > 0 }, "Accuracy: topK must hold positive values, got \(topK)")
        self.topK = topK
    }

    /// Adds a batch of `[N, C]` scores and `[N]` integer targets.
    public mutating func update(logits: Tensor, targets: IntTensor) {
        precondition(logits.rank == 2 && targets.shape == [logits.shape[0]],
                     "Accuracy.update: logits \(logits.shape) and targets \(targets.shape) must be [N, C] and [N]")
        let classes = logits.shape[1]
        let k = Swift.min(topK.max() ?? 1, classes)
        let ranked = logits.topK(k, axis: 1).indices.scalars
        for row in 0..<targets.count {
            let target = targets.scalars[row]
            if let rank = ranked[(row * k)..<(row * k + k)].firstIndex(of: target).map({ $0 - row * k }) {
                for value in topK where rank < value { correct[value, default: 0] += 1 }
            }
        }
        total += targets.count
    }

    /// Adds predictions that are already class indices.
    public mutating func update(predictions: IntTensor, targets: IntTensor) {
        precondition(predictions.shape == targets.shape,
                     "Accuracy.update: predictions \(predictions.shape) and targets \(targets.shape) differ")
        for (prediction, target) in zip(predictions.scalars, targets.scalars) where prediction == target {
            for value in topK { correct[value, default: 0] += 1 }
        }
        total += targets.count
    }

    /// Accuracy for each k in `topK` (NaN before any update).
    public func compute() -> [Int: Float] {
        Dictionary(uniqueKeysWithValues: topK.map { ($0, total > 0 ? Float(correct[$0, default: 0]) / Float(total) : .nan) })
    }

    public var sampleCount: Int { total }

    public mutating func reset() {
        correct = [:]
        total = 0
    }
}

import SSLTensor

/// The normalised-temperature cross-entropy of SimCLR (NT-Xent / InfoNCE).
///
/// All V·N embeddings of V views are L2-normalised and compared by cosine similarity divided
/// by the temperature; each embedding's own similarity is excluded, and the positives of an
/// anchor are the other views of the same sample. The loss of an anchor is the mean over its
/// positives of −log softmax(positive); the result is the mean over anchors. With two views
/// this is SimCLR's loss over 2N embeddings. [Chen et al. 2020](https://arxiv.org/abs/2002.05709)
///
/// ```swift
/// let loss = NTXentLoss(temperature: 0.5)(views[0], views[1])
/// ```
public struct NTXentLoss: Sendable {
    public let temperature: Float

    public init(temperature: Float = 0.5) {
        precondition(temperature > 0, "NTXentLoss: temperature must be positive, got \(temperature)")
        self.temperature = temperature
    }

    /// The loss of two views `[N, D]`, aligned by sample.
    public func callAsFunction(_ first: Tensor, _ second: Tensor) -> Tensor {
        callAsFunction([first, second])
    }

    /// The loss of V ≥ 2 views, each `[N, D]`, aligned by sample.
    public func callAsFunction(_ views: [Tensor]) -> Tensor {
        precondition(views.count >= 2, "NTXentLoss: needs at least 2 views, got \(views.count)")
        let shape = views[0].shape
        precondition(shape.count == 2 && views.allSatisfy { $0.shape == shape },
                     "NTXentLoss: every view must be [N, D] of one shape, got \(views.map(\.shape))")
        let viewCount = views.count, samples = shape[0], total = viewCount * samples
        let embeddings = Tensor.concat(views.map { $0.l2Normalize(axis: 1) }, axis: 0)
        let similarities = embeddings.matmul(embeddings, transposeOther: true) * (1 / temperature)
        let selfMask = Tensor.zeros([total, total]).diagonalFill(1)
        let logProbabilities = similarities.maskedFill(selfMask, value: -.infinity).logSoftmax(axis: 1)
        var positives: [Int] = []
        positives.reserveCapacity(total * (viewCount - 1))
        for anchor in 0..<total {
            let sample = anchor % samples, view = anchor / samples
            for other in 0..<viewCount where other != view { positives.append(other * samples + sample) }
        }
        let picked = logProbabilities.gather(axis: 1, index: IntTensor(shape: [total, viewCount - 1], scalars: positives))
        return -picked.mean()
    }
}

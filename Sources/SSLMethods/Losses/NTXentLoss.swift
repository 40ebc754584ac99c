import SSLDistributed
import SSLTensor

/// The normalised-temperature cross-entropy of SimCLR (NT-Xent / InfoNCE).
///
/// All V·N embeddings of V views are L2-normalised and compared by cosine similarity divided
/// by the temperature; each embedding's own similarity is excluded, and the positives of an
/// anchor are the other views of the same sample. The loss of an anchor is the mean over its
/// positives of −log softmax(positive); the result is the mean over anchors. With two views
/// this is SimCLR's loss over 2N embeddings. [Chen et al. 2020](https://arxiv.org/abs/2002.05709)
///
/// With a `communicator` of several ranks (data-parallel training), the negatives come from the
/// global batch, as SimCLR's large-batch training: each rank's anchors are compared with the
/// embeddings of every rank (`Communicator.allGather`, differentiable), so N ranks with b
/// samples each compute the loss of one process with N·b samples (each rank the mean over its
/// own anchors; the ranks' mean is the global loss, and the averaged gradients are its).
///
/// ```swift
/// let loss = NTXentLoss(temperature: 0.5)(views[0], views[1])
/// let global = NTXentLoss(temperature: 0.5, communicator: communicator)   // negatives from all ranks
/// ```
public struct NTXentLoss: Sendable {
    public let temperature: Float
    /// Where negatives are gathered from; nil (or one rank) for the local batch only.
    public let communicator: (any Communicator)?

    public init(temperature: Float = 0.5, communicator: (any Communicator)? = nil) {
        precondition(temperature > 0, "NTXentLoss: temperature must be positive, got \(temperature)")
        self.temperature = temperature
        self.communicator = communicator
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
        if let communicator, communicator.worldSize > 1 { return globalLoss(views, communicator: communicator) }
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

    /// This rank's anchors against the embeddings of all ranks: key `v·N·b + r·b + i` is view v
    /// of sample i of rank r, which is sample r·b + i of the global batch.
    private func globalLoss(_ views: [Tensor], communicator: any Communicator) -> Tensor {
        let viewCount = views.count, samples = views[0].shape[0]
        let globalSamples = samples * communicator.worldSize, offset = communicator.rank * samples
        let normalized = views.map { $0.l2Normalize(axis: 1) }
        let anchors = Tensor.concat(normalized, axis: 0)
        let keys = Tensor.concat(normalized.map { communicator.allGather($0) }, axis: 0)
        let similarities = anchors.matmul(keys, transposeOther: true) * (1 / temperature)
        let rows = viewCount * samples, columns = viewCount * globalSamples
        var mask = [Float](repeating: 0, count: rows * columns)
        var positives: [Int] = []
        positives.reserveCapacity(rows * (viewCount - 1))
        for anchor in 0..<rows {
            let sample = anchor % samples, view = anchor / samples
            mask[anchor * columns + view * globalSamples + offset + sample] = 1
            for other in 0..<viewCount where other != view { positives.append(other * globalSamples + offset + sample) }
        }
        let selfMask = Tensor(shape: [rows, columns], scalars: mask)
        let logProbabilities = similarities.maskedFill(selfMask, value: -.infinity).logSoftmax(axis: 1)
        let picked = logProbabilities.gather(axis: 1, index: IntTensor(shape: [rows, viewCount - 1], scalars: positives))
        return -picked.mean()
    }
}

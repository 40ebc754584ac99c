import SSLTensor

/// BYOL's regression loss between the student's predictions and the teacher's projections:
/// 2 − 2·cos(p, z) per sample, averaged over the batch and summed over the two directions
/// (view-1 predictions against view-2 targets and the reverse), as the paper's symmetrised
/// loss. Targets are used as given: produce them under `noGrad` (a teacher forward does).
/// [Grill et al. 2020](https://arxiv.org/abs/2006.07733)
///
/// ```swift
/// let loss = BYOLLoss()(predictions: (p1, p2), targets: (z1, z2))
/// ```
public struct BYOLLoss: Sendable {
    public init() {}

    /// mean(2 − 2·cos(p1, z2)) + mean(2 − 2·cos(p2, z1)).
    public func callAsFunction(predictions: (Tensor, Tensor), targets: (Tensor, Tensor)) -> Tensor {
        regression(predictions.0, targets.1) + regression(predictions.1, targets.0)
    }

    /// One direction: mean(2 − 2·cos(prediction, target)).
    public func regression(_ prediction: Tensor, _ target: Tensor) -> Tensor {
        precondition(prediction.rank == 2 && prediction.shape == target.shape,
                     "BYOLLoss: prediction \(prediction.shape) and target \(target.shape) must be equal [N, D]")
        return (2 - 2 * Tensor.cosineSimilarity(prediction, target, axis: 1)).mean()
    }
}

import SSLTensor

/// MoCo v3's symmetrised InfoNCE between the query encoder's predictions and the momentum
/// (key) encoder's projections of the other view.
///
/// One direction, `contrastive(q, k)`: queries and keys are L2-normalised, the logits are
/// q·kᵀ / τ `[N, N]`, the positive of query i is key i and the other keys of the batch are its
/// negatives (no queue); the loss is the mean cross-entropy, multiplied by 2τ as the official
/// code does (`ctr_loss`: "criterion(logits, labels) * (2 * self.T)", which keeps the gradient's
/// scale about the same whatever τ; the paper's pseudocode has no such factor). The loss is
/// contrastive(q1, k2) + contrastive(q2, k1). Keys are used as given: produce them under
/// `noGrad` (a teacher forward does). Temperature 0.2 as the ViT configuration (the code's
/// default and its ResNet-50 setting are 1.0).
/// [Chen, Xie, He 2021](https://arxiv.org/abs/2104.02057), code:
/// https://github.com/facebookresearch/moco-v3 (moco/builder.py)
///
/// ```swift
/// let loss = MoCoV3Loss(temperature: 0.2)(queries: (q1, q2), keys: (k1, k2))
/// ```
public struct MoCoV3Loss: Sendable {
    public let temperature: Float
    /// Whether each direction is multiplied by 2τ (the official code; default true).
    public let scalesByTwiceTheTemperature: Bool

    public init(temperature: Float = 0.2, scalesByTwiceTheTemperature: Bool = true) {
        precondition(temperature > 0, "MoCoV3Loss: temperature must be positive, got \(temperature)")
        self.temperature = temperature
        self.scalesByTwiceTheTemperature = scalesByTwiceTheTemperature
    }

    /// contrastive(q1, k2) + contrastive(q2, k1): each view's queries against the other view's keys.
    public func callAsFunction(queries: (Tensor, Tensor), keys: (Tensor, Tensor)) -> Tensor {
        contrastive(queries.0, keys.1) + contrastive(queries.1, keys.0)
    }

    /// One direction: cross-entropy of normalize(q)·normalize(k)ᵀ / τ against the diagonal
    /// (times 2τ when `scalesByTwiceTheTemperature`).
    public func contrastive(_ query: Tensor, _ key: Tensor) -> Tensor {
        precondition(query.rank == 2 && query.shape == key.shape && query.shape[0] > 0,
                     "MoCoV3Loss: query \(query.shape) and key \(key.shape) must be equal [N, D] with N > 0")
        let logits = query.l2Normalize(axis: 1).matmul(key.l2Normalize(axis: 1), transposeOther: true) * (1 / temperature)
        let loss = logits.crossEntropy(targets: IntTensor(Array(0..<query.shape[0])))
        return scalesByTwiceTheTemperature ? loss * (2 * temperature) : loss
    }
}

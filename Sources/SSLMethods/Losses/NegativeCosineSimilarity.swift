import SSLTensor

/// −mean cos(x0, x1) over the rows (SimSiam's loss; lightly's `NegativeCosineSimilarity`).
/// [Chen & He 2021](https://arxiv.org/abs/2011.10566)
public struct NegativeCosineSimilarity: Sendable {
    public init() {}

    public func callAsFunction(_ first: Tensor, _ second: Tensor) -> Tensor {
        precondition(first.rank == 2 && first.shape == second.shape,
                     "NegativeCosineSimilarity: inputs \(first.shape) and \(second.shape) must be equal [N, D]")
        return -Tensor.cosineSimilarity(first, second, axis: 1).mean()
    }
}

import SSLTensor

/// Barlow Twins: each view is standardised along the batch (as BatchNorm1d without affine:
/// biased variance, eps 1e-5), their cross-correlation c = z1ᵀz2 / N is pushed towards the
/// identity: Σ(cᵢᵢ − 1)² + λ·Σ_{i≠j} cᵢⱼ², λ = 5e-3 by default.
/// [Zbontar et al. 2021](https://arxiv.org/abs/2103.03230)
public struct BarlowTwinsLoss: Sendable {
    public let lambda: Float
    public let eps: Float

    public init(lambda: Float = 5e-3, eps: Float = 1e-5) {
        self.lambda = lambda
        self.eps = eps
    }

    public func callAsFunction(_ first: Tensor, _ second: Tensor) -> Tensor {
        precondition(first.rank == 2 && first.shape == second.shape && first.shape[0] > 1,
                     "BarlowTwinsLoss: inputs \(first.shape) and \(second.shape) must be equal [N, D] with N > 1")
        func standardise(_ z: Tensor) -> Tensor {
            let centered = z - z.mean(axes: [0], keepDims: true)
            return centered * (z.variance(axes: [0], correction: 0, keepDims: true) + eps).rsqrt()
        }
        let samples = Float(first.shape[0]), dimensions = first.shape[1]
        let correlation = standardise(first).matmul(standardise(second), transposeSelf: true) * (1 / samples)
        let identity = Tensor.zeros([dimensions, dimensions]).diagonalFill(1)
        let onDiagonal = (correlation - identity) * identity
        let offDiagonal = correlation * (1 - identity)
        return (onDiagonal * onDiagonal).sum() + (offDiagonal * offDiagonal).sum() * lambda
    }
}

import SSLTensor

/// VICReg: variance-invariance-covariance regularisation, as the official implementation:
/// invariance = mean squared difference of the two views; variance = mean relu(1 − √(var + eps))
/// over dimensions (unbiased variance), averaged over the views; covariance = Σ off-diagonal
/// squared entries of each view's covariance (divided by N − 1) over D, summed over the views;
/// loss = 25·invariance + 25·variance + 1·covariance by default.
/// [Bardes et al. 2022](https://arxiv.org/abs/2105.04906)
public struct VICRegLoss: Sendable {
    public let invarianceWeight: Float
    public let varianceWeight: Float
    public let covarianceWeight: Float
    public let eps: Float

    public init(invarianceWeight: Float = 25, varianceWeight: Float = 25, covarianceWeight: Float = 1, eps: Float = 1e-4) {
        self.invarianceWeight = invarianceWeight
        self.varianceWeight = varianceWeight
        self.covarianceWeight = covarianceWeight
        self.eps = eps
    }

    /// The three terms, unweighted.
    public func terms(_ first: Tensor, _ second: Tensor) -> (invariance: Tensor, variance: Tensor, covariance: Tensor) {
        precondition(first.rank == 2 && first.shape == second.shape && first.shape[0] > 1,
                     "VICRegLoss: inputs \(first.shape) and \(second.shape) must be equal [N, D] with N > 1")
        let difference = first - second
        let invariance = (difference * difference).mean()
        func varianceTerm(_ z: Tensor) -> Tensor {
            (1 - (z.variance(axes: [0]) + eps).sqrt()).relu().mean()
        }
        let variance = (varianceTerm(first) + varianceTerm(second)) * 0.5
        let dimensions = Float(first.shape[1]), samples = Float(first.shape[0])
        let offDiagonal = Tensor.ones([first.shape[1], first.shape[1]]).diagonalFill(0)
        func covarianceTerm(_ z: Tensor) -> Tensor {
            let centered = z - z.mean(axes: [0], keepDims: true)
            let covariance = centered.matmul(centered, transposeSelf: true) * (1 / (samples - 1))
            let off = covariance * offDiagonal
            return (off * off).sum() * (1 / dimensions)
        }
        return (invariance, variance, covarianceTerm(first) + covarianceTerm(second))
    }

    public func callAsFunction(_ first: Tensor, _ second: Tensor) -> Tensor {
        let (invariance, variance, covariance) = terms(first, second)
        return invariance * invarianceWeight + variance * varianceWeight + covariance * covarianceWeight
    }
}

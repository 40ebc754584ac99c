import SSLTensor

/// Layer normalisation over the last axis (PyTorch's `LayerNorm(features)`): each row is
/// normalised by its own mean and biased variance, then scaled by `weight` (ones) and shifted
/// by `bias` (zeros). [Ba et al. 2016](https://arxiv.org/abs/1607.06450)
///
/// ```swift
/// let norm = LayerNorm(256)
/// let y = norm(tokens)   // [N, T, 256]
/// ```
public final class LayerNorm: Module {
    public let featureCount: Int
    public let eps: Float
    public let weight: Tensor?
    public let bias: Tensor?

    public init(_ featureCount: Int, eps: Float = 1e-5, elementwiseAffine: Bool = true) {
        precondition(featureCount > 0, "LayerNorm: feature count must be positive, got \(featureCount)")
        self.featureCount = featureCount
        self.eps = eps
        weight = elementwiseAffine ? Tensor.ones([featureCount]) : nil
        bias = elementwiseAffine ? Tensor.zeros([featureCount]) : nil
        super.init()
        if let weight { registerParameter("weight", weight) }
        if let bias { registerParameter("bias", bias) }
    }

    public override func forward(_ input: Tensor) -> Tensor {
        precondition(input.rank >= 1 && input.shape[input.rank - 1] == featureCount,
                     "LayerNorm(\(featureCount)): input shape \(input.shape) does not end in \(featureCount)")
        let centered = input - input.mean(axes: [-1], keepDims: true)
        let variance = (centered * centered).mean(axes: [-1], keepDims: true)
        var output = centered * (variance + eps).rsqrt()
        if let weight { output = output * weight }
        if let bias { output = output + bias }
        return output
    }

    public override func makeCopy() -> Module { LayerNorm(featureCount, eps: eps, elementwiseAffine: weight != nil) }
}

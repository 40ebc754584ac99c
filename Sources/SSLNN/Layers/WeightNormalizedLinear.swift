import SSLTensor

/// A linear layer with weight normalisation: each output row of the weight is its direction
/// v / ‖v‖ times a length g, W = g · v / ‖v‖, and y = x·Wᵀ (+ b). The parameters are
/// `weight_g` `[out, 1]` and `weight_v` `[out, in]` (the keys of PyTorch's
/// `nn.utils.weight_norm(nn.Linear(in, out))`), and `bias` `[out]` when asked for.
///
/// `v` starts as `Linear`'s weight (U(−1/√in, 1/√in)) and `g` at 1 (DINO fills it with 1;
/// PyTorch's `weight_norm` starts it at ‖v‖). With `trainsNorm: false` (DINO's
/// `norm_last_layer`) `g` stays fixed, so every row of W has unit length and only directions
/// are learnt. [Salimans & Kingma 2016](https://arxiv.org/abs/1602.07868)
///
/// ```swift
/// let prototypes = WeightNormalizedLinear(256, 4096, trainsNorm: false)   // DINO's last layer
/// let logits = prototypes(features.l2Normalize(axis: 1))                 // [N, 256] → [N, 4096]
/// ```
public final class WeightNormalizedLinear: Module {
    public let inputFeatures: Int
    public let outputFeatures: Int
    /// The row lengths g, `[out, 1]`.
    public let weightG: Tensor
    /// The row directions v (any length), `[out, in]`.
    public let weightV: Tensor
    public let bias: Tensor?
    /// Whether g is trained (false: fixed at 1).
    public let trainsNorm: Bool

    public init(_ inputFeatures: Int, _ outputFeatures: Int, bias: Bool = false, trainsNorm: Bool = true) {
        precondition(inputFeatures > 0 && outputFeatures > 0,
                     "WeightNormalizedLinear: feature counts must be positive, got \(inputFeatures) → \(outputFeatures)")
        self.inputFeatures = inputFeatures
        self.outputFeatures = outputFeatures
        self.trainsNorm = trainsNorm
        var generator = ParameterInitialization.makeGenerator()
        weightV = Tensor.kaimingUniform([outputFeatures, inputFeatures], a: Float(5).squareRoot(), generator: &generator)
        let bound = 1 / Float(inputFeatures).squareRoot()
        self.bias = bias ? Tensor.uniform([outputFeatures], low: -bound, high: bound, generator: &generator) : nil
        weightG = Tensor.ones([outputFeatures, 1])
        super.init()
        registerParameter("weight_g", weightG)
        registerParameter("weight_v", weightV)
        if let b = self.bias { registerParameter("bias", b) }
        if !trainsNorm { weightG.setRequiresGrad(false) }
    }

    /// The effective weight g · v / ‖v‖ `[out, in]` (differentiable in g and v).
    public var weight: Tensor { weightV.l2Normalize(axis: 1) * weightG }

    public override func forward(_ input: Tensor) -> Tensor {
        precondition(input.rank >= 1 && input.shape[input.rank - 1] == inputFeatures,
                     "WeightNormalizedLinear(\(inputFeatures) → \(outputFeatures)): input shape \(input.shape) does not end in \(inputFeatures)")
        return input.linear(weight: weight, bias: bias)
    }

    public override func makeCopy() -> Module {
        WeightNormalizedLinear(inputFeatures, outputFeatures, bias: bias != nil, trainsNorm: trainsNorm)
    }
}

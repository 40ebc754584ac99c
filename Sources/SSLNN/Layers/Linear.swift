import SSLTensor

/// A fully connected layer, y = x·Wᵀ + b, over the last axis.
///
/// Weights `[out, in]` and bias `[out]` start as PyTorch's: U(−1/√in, 1/√in) (Kaiming-uniform
/// with a = √5), drawn from `ParameterInitialization`.
///
/// ```swift
/// let layer = Linear(784, 128)
/// let y = layer(x)   // [N, 784] → [N, 128]
/// ```
public final class Linear: Module {
    public let inputFeatures: Int
    public let outputFeatures: Int
    public let weight: Tensor
    public let bias: Tensor?

    public init(_ inputFeatures: Int, _ outputFeatures: Int, bias: Bool = true) {
        precondition(inputFeatures > 0 && outputFeatures > 0,
                     "Linear: feature counts must be positive, got \(inputFeatures) → \(outputFeatures)")
        self.inputFeatures = inputFeatures
        self.outputFeatures = outputFeatures
        var generator = ParameterInitialization.makeGenerator()
        weight = Tensor.kaimingUniform([outputFeatures, inputFeatures], a: Float(5).squareRoot(), generator: &generator)
        let bound = 1 / Float(inputFeatures).squareRoot()
        self.bias = bias ? Tensor.uniform([outputFeatures], low: -bound, high: bound, generator: &generator) : nil
        super.init()
        registerParameter("weight", weight)
        if let b = self.bias { registerParameter("bias", b) }
    }

    public override func forward(_ input: Tensor) -> Tensor {
        precondition(input.rank >= 1 && input.shape[input.rank - 1] == inputFeatures,
                     "Linear(\(inputFeatures) → \(outputFeatures)): input shape \(input.shape) does not end in \(inputFeatures)")
        return input.linear(weight: weight, bias: bias)
    }

    public override func makeCopy() -> Module { Linear(inputFeatures, outputFeatures, bias: bias != nil) }
}

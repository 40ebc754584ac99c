import SSLTensor

/// Runs its layers in order; they are named "0", "1", … as in PyTorch.
///
/// ```swift
/// let head = Sequential([Linear(128, 512), BatchNorm1d(512), ReLU(), Linear(512, 128)])
/// head.namedParameters().first?.name   // "0.weight"
/// ```
open class Sequential: Module {
    public let layers: [Module]

    public init(_ layers: [Module]) {
        self.layers = layers
        super.init()
        for (index, layer) in layers.enumerated() { registerModule(String(index), layer) }
    }

    /// Runs the layers in order; a BatchNorm followed by a ReLU runs as one fused layer
    /// (`BatchNorm.callAsFunctionThenReLU`), with the same result.
    open override func forward(_ input: Tensor) -> Tensor {
        var output = input
        var index = 0
        while index < layers.count {
            if let norm = layers[index] as? BatchNorm, index + 1 < layers.count, let relu = layers[index + 1] as? ReLU {
                output = norm.callAsFunctionThenReLU(output)
                ModuleSummary.recorder?.record(relu, input: output.shape, output: output.shape)
                index += 2
            } else {
                output = layers[index](output)
                index += 1
            }
        }
        return output
    }

    open override func makeCopy() -> Module { Sequential(layers.map { $0.makeCopy() }) }
}

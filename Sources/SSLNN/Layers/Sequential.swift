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

    open override func forward(_ input: Tensor) -> Tensor {
        layers.reduce(input) { $1($0) }
    }

    open override func makeCopy() -> Module { Sequential(layers.map { $0.makeCopy() }) }
}

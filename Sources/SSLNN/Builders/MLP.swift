import SSLTensor

/// A multilayer perceptron head (projector or predictor): for sizes `[i, h…, o]`, each hidden
/// step is Linear → BatchNorm1d (optional) → activation, and the last is a plain Linear.
/// Layers are named "0", "1", … as a PyTorch `Sequential`.
///
/// ```swift
/// let projector = MLP([128, 512, 128], batchNorm: true)   // Linear, BN, ReLU, Linear
/// ```
public final class MLP: Sequential {
    /// The layer widths, input first.
    public let sizes: [Int]
    public let usesBatchNorm: Bool
    public let activation: Activation
    public let bias: Bool

    /// The nonlinearity between layers.
    public enum Activation: String, Sendable {
        case relu, gelu
        func makeLayer() -> Module { self == .relu ? ReLU() : GELU() }
    }

    public init(_ sizes: [Int], batchNorm: Bool = false, activation: Activation = .relu, bias: Bool = true) {
        precondition(sizes.count >= 2, "MLP: needs at least input and output sizes, got \(sizes)")
        self.sizes = sizes
        self.usesBatchNorm = batchNorm
        self.activation = activation
        self.bias = bias
        var layers: [Module] = []
        for index in 0..<(sizes.count - 1) {
            layers.append(Linear(sizes[index], sizes[index + 1], bias: bias))
            if index < sizes.count - 2 {
                if batchNorm { layers.append(BatchNorm1d(sizes[index + 1])) }
                layers.append(activation.makeLayer())
            }
        }
        super.init(layers)
    }

    /// The output width.
    public var outputFeatures: Int { sizes[sizes.count - 1] }

    public override func makeCopy() -> Module { MLP(sizes, batchNorm: usesBatchNorm, activation: activation, bias: bias) }
}

import SSLTensor

/// An encoder for small images made of fully connected layers: Flatten, then for each hidden
/// width Linear → BatchNorm1d → ReLU. `outputFeatures` is the last width.
///
/// ```swift
/// let encoder = MLPBackbone(inputSize: 784, hiddenSizes: [1024, 1024])   // features 1024
/// ```
public final class MLPBackbone: Sequential {
    public let inputSize: Int
    public let hiddenSizes: [Int]
    public let usesBatchNorm: Bool

    public init(inputSize: Int, hiddenSizes: [Int] = [1024, 1024], batchNorm: Bool = true) {
        precondition(!hiddenSizes.isEmpty, "MLPBackbone: needs at least one hidden size")
        self.inputSize = inputSize
        self.hiddenSizes = hiddenSizes
        self.usesBatchNorm = batchNorm
        var layers: [Module] = [Flatten()]
        var width = inputSize
        for hidden in hiddenSizes {
            layers.append(Linear(width, hidden))
            if batchNorm { layers.append(BatchNorm1d(hidden)) }
            layers.append(ReLU())
            width = hidden
        }
        super.init(layers)
    }

    /// The size of the feature vector.
    public var outputFeatures: Int { hiddenSizes[hiddenSizes.count - 1] }

    public override func makeCopy() -> Module {
        MLPBackbone(inputSize: inputSize, hiddenSizes: hiddenSizes, batchNorm: usesBatchNorm)
    }
}

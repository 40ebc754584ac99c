import SSLNN
import SSLTensor

/// Batch normalisation whose training statistics are those of the global batch, over every
/// rank, in the forward and the backward pass, as PyTorch's `nn.SyncBatchNorm`: with N ranks
/// of b images each, every layer normalises exactly as one process with N × b images would.
/// Evaluation uses the running statistics, which move identically on every rank.
///
/// `SyncBatchNorm.convert(model, communicator:)` is the module conversion
/// (`convert_sync_batchnorm`): it plugs a synchroniser into every `BatchNorm` of the tree, so
/// state-dict keys, checkpoints and the fused ReLU of the builders are unchanged. With one
/// rank it changes nothing.
///
/// Per layer and step: three small all-reduces forward (the sample count, the per-channel sum,
/// the per-channel sum of squared deviations; two-pass, so no cancellation) and two backward,
/// all recorded by autograd (`Communicator.allReduceSum`).
///
/// ```swift
/// let converted = SyncBatchNorm.convert(module, communicator: communicator)   // layers converted
/// ```
public final class SyncBatchNorm: BatchNormSynchronizer {
    public let communicator: any Communicator

    public init(communicator: any Communicator) {
        self.communicator = communicator
    }

    /// Makes every `BatchNorm` under `module` (itself included) use the global batch's
    /// statistics in training; returns how many layers were converted (0 with one rank).
    @discardableResult
    public static func convert(_ module: Module, communicator: any Communicator) -> Int {
        guard communicator.worldSize > 1 else { return 0 }
        let synchronizer = SyncBatchNorm(communicator: communicator)
        var count = 0
        for (_, child) in module.namedModules() {
            guard let norm = child as? BatchNorm else { continue }
            norm.synchronizer = synchronizer
            count += 1
        }
        return count
    }

    /// Returns every `BatchNorm` under `module` to per-process statistics.
    public static func revert(_ module: Module) {
        for (_, child) in module.namedModules() { (child as? BatchNorm)?.synchronizer = nil }
    }

    public func normalize(_ input: Tensor, layer: BatchNorm, applyingReLU: Bool) -> Tensor {
        let channels = layer.featureCount
        precondition(input.rank >= 2 && input.shape[1] == channels,
                     "SyncBatchNorm(\(channels)): input shape \(input.shape) must be [N, \(channels), …]")
        let axes = [0] + Array(2..<input.rank)
        let statisticsShape = [1, channels] + [Int](repeating: 1, count: input.rank - 2)
        var count = [input.count / channels]
        communicator.allReduce(&count, .sum)
        precondition(count[0] > 1, "SyncBatchNorm(\(channels)): expected more than 1 value per channel over all ranks, got input \(input.shape)")
        let total = Float(count[0])
        let mean = communicator.allReduceSum(input.sum(axes: axes)) * (1 / total)
        let centered = input - mean.reshape(statisticsShape)
        let squares = communicator.allReduceSum((centered * centered).sum(axes: axes))
        let variance = squares * (1 / total)
        let inverseDeviation = (variance + layer.eps).rsqrt()
        var output = centered * inverseDeviation.reshape(statisticsShape)
        if let weight = layer.weight { output = output * weight.reshape(statisticsShape) }
        if let bias = layer.bias { output = output + bias.reshape(statisticsShape) }
        if let runningMean = layer.runningMean, let runningVariance = layer.runningVariance {
            let momentum = layer.momentum
            let unbiased = total / (total - 1)
            let means = mean.scalars, variances = variance.scalars
            runningMean.withUnsafeMutableElements { rm in
                runningVariance.withUnsafeMutableElements { rv in
                    for c in 0..<channels {
                        rm[c] = (1 - momentum) * rm[c] + momentum * means[c]
                        rv[c] = (1 - momentum) * rv[c] + momentum * variances[c] * unbiased
                    }
                }
            }
        }
        return applyingReLU ? output.relu() : output
    }
}

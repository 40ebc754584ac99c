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
/// Per layer and step: two small all-reduces forward (the sample count with each channel's
/// count·mean, then each channel's squared deviations about the global mean: no cancellation)
/// and one backward (Σdy and Σdy·x̂ per channel), inside the fused batch-normalisation kernels
/// (`Tensor.batchNorm(…, sumOverProcesses:)`), so a synchronised layer costs what a plain one
/// does plus the three all-reduces.
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

    public func normalize(_ input: Tensor, layer: BatchNorm, applyingReLU: Bool, adding shortcut: Tensor?) -> Tensor {
        let channels = layer.featureCount
        precondition(input.rank >= 2 && input.shape[1] == channels,
                     "SyncBatchNorm(\(channels)): input shape \(input.shape) must be [N, \(channels), …]")
        let communicator = communicator
        return input.batchNorm(runningMean: layer.runningMean, runningVariance: layer.runningVariance,
                               weight: layer.weight, bias: layer.bias, training: true, momentum: layer.momentum,
                               eps: layer.eps, applyingReLU: applyingReLU, adding: shortcut,
                               sumOverProcesses: { communicator.allReduce($0, .sum) })
    }
}

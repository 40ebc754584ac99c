import SSLTensor

/// Batch normalisation over the channel axis (axis 1) of `[N, C]`, `[N, C, L]` or
/// `[N, C, H, W]` inputs, as PyTorch's `BatchNorm1d`/`BatchNorm2d`.
///
/// Parameters `weight` (γ, ones) and `bias` (β, zeros) when `affine`; buffers `running_mean`
/// (zeros), `running_var` (ones) and `num_batches_tracked` (an integer counter) when
/// `trackRunningStatistics`. In training the batch statistics normalise and the running ones
/// move by `momentum` (0.1) with the unbiased variance; in evaluation the running ones
/// normalise. `eps` is 1e-5. [Ioffe & Szegedy 2015](https://arxiv.org/abs/1502.03167)
///
/// ```swift
/// let norm = BatchNorm2d(32)
/// let y = norm(x)            // training: batch statistics, running ones updated
/// norm.eval(); let z = norm(x)   // evaluation: running statistics
/// ```
public class BatchNorm: Module {
    public let featureCount: Int
    public let eps: Float
    public let momentum: Float
    public let weight: Tensor?
    public let bias: Tensor?
    public let runningMean: Tensor?
    public let runningVariance: Tensor?
    public let batchesTracked: Tensor?
    /// Computes training-mode normalisation over a batch spread across processes; set by
    /// `SyncBatchNorm.convert` (SSLDistributed), nil for ordinary batch statistics.
    public var synchronizer: (any BatchNormSynchronizer)?
    /// The input ranks this layer accepts.
    let acceptedRanks: Set<Int>
    let layerName: String

    init(featureCount: Int, eps: Float, momentum: Float, affine: Bool, trackRunningStatistics: Bool,
         acceptedRanks: Set<Int>, layerName: String) {
        precondition(featureCount > 0, "\(layerName): feature count must be positive, got \(featureCount)")
        self.featureCount = featureCount
        self.eps = eps
        self.momentum = momentum
        self.acceptedRanks = acceptedRanks
        self.layerName = layerName
        weight = affine ? Tensor.ones([featureCount]) : nil
        bias = affine ? Tensor.zeros([featureCount]) : nil
        runningMean = trackRunningStatistics ? Tensor.zeros([featureCount]) : nil
        runningVariance = trackRunningStatistics ? Tensor.ones([featureCount]) : nil
        batchesTracked = trackRunningStatistics ? Tensor.zeros([]) : nil
        super.init()
        if let weight { registerParameter("weight", weight) }
        if let bias { registerParameter("bias", bias) }
        if let runningMean, let runningVariance, let batchesTracked {
            registerBuffer("running_mean", runningMean)
            registerBuffer("running_var", runningVariance)
            registerBuffer("num_batches_tracked", batchesTracked, isInteger: true)
        }
    }

    public override func forward(_ input: Tensor) -> Tensor { normalize(input, applyingReLU: false, adding: nil) }

    /// `relu(self(input))` in one pass over memory each way (used by `Sequential` and the
    /// builders wherever a ReLU follows); the same values and gradients as the two layers.
    ///
    /// ```swift
    /// let y = norm.callAsFunctionThenReLU(x)   // == norm(x).relu()
    /// ```
    public final func callAsFunctionThenReLU(_ input: Tensor) -> Tensor {
        let output = normalize(input, applyingReLU: true, adding: nil)
        ModuleSummary.recorder?.record(self, input: input.shape, output: output.shape)
        return output
    }

    /// `relu(self(input) + shortcut)`, a residual block's end, in one pass over memory each way;
    /// the same values and gradients as the three operations, without keeping the normalised
    /// values or the sum for backward.
    ///
    /// ```swift
    /// let y = bn2.callAsFunctionAddingThenReLU(conv2(h), shortcut: x)   // == (bn2(conv2(h)) + x).relu()
    /// ```
    public final func callAsFunctionAddingThenReLU(_ input: Tensor, shortcut: Tensor) -> Tensor {
        let output = normalize(input, applyingReLU: true, adding: shortcut)
        ModuleSummary.recorder?.record(self, input: input.shape, output: output.shape)
        return output
    }

    private func normalize(_ input: Tensor, applyingReLU: Bool, adding shortcut: Tensor?) -> Tensor {
        precondition(acceptedRanks.contains(input.rank) && input.shape[1] == featureCount,
                     "\(layerName)(\(featureCount)): input shape \(input.shape) must be \(acceptedRanks.count > 1 ? "[N, C] or [N, C, L]" : "[N, C, H, W]") with C = \(featureCount)")
        let useBatchStatistics = isTraining || runningMean == nil
        if isTraining, let batchesTracked {
            batchesTracked.withUnsafeMutableElements { $0[0] += 1 }
        }
        if isTraining, let synchronizer {
            return synchronizer.normalize(input, layer: self, applyingReLU: applyingReLU, adding: shortcut)
        }
        return input.batchNorm(runningMean: runningMean, runningVariance: runningVariance,
                               weight: weight, bias: bias, training: useBatchStatistics,
                               momentum: momentum, eps: eps, applyingReLU: applyingReLU, adding: shortcut)
    }
}

/// Batch normalisation for `[N, C]` and `[N, C, L]` inputs (PyTorch's `BatchNorm1d`).
public final class BatchNorm1d: BatchNorm {
    public init(_ featureCount: Int, eps: Float = 1e-5, momentum: Float = 0.1, affine: Bool = true,
                trackRunningStatistics: Bool = true) {
        super.init(featureCount: featureCount, eps: eps, momentum: momentum, affine: affine,
                   trackRunningStatistics: trackRunningStatistics, acceptedRanks: [2, 3], layerName: "BatchNorm1d")
    }

    public override func makeCopy() -> Module {
        BatchNorm1d(featureCount, eps: eps, momentum: momentum, affine: weight != nil,
                    trackRunningStatistics: runningMean != nil)
    }
}

/// Batch normalisation for `[N, C, H, W]` inputs (PyTorch's `BatchNorm2d`).
public final class BatchNorm2d: BatchNorm {
    public init(_ featureCount: Int, eps: Float = 1e-5, momentum: Float = 0.1, affine: Bool = true,
                trackRunningStatistics: Bool = true) {
        super.init(featureCount: featureCount, eps: eps, momentum: momentum, affine: affine,
                   trackRunningStatistics: trackRunningStatistics, acceptedRanks: [4], layerName: "BatchNorm2d")
    }

    public override func makeCopy() -> Module {
        BatchNorm2d(featureCount, eps: eps, momentum: momentum, affine: weight != nil,
                    trackRunningStatistics: runningMean != nil)
    }
}

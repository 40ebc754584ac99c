import SSLTensor

/// Training-mode batch normalisation computed by someone else: what `SyncBatchNorm`
/// (SSLDistributed) plugs into a `BatchNorm` so its statistics cover the global batch of all
/// ranks. It normalises `input` with the layer's `weight`/`bias`, updates its running
/// statistics, and adds a shortcut and applies a ReLU when asked (`callAsFunctionThenReLU`,
/// `callAsFunctionAddingThenReLU`).
///
/// ```swift
/// norm.synchronizer = mySynchronizer   // norm(x) in training now calls mySynchronizer.normalize
/// ```
public protocol BatchNormSynchronizer: AnyObject {
    func normalize(_ input: Tensor, layer: BatchNorm, applyingReLU: Bool, adding shortcut: Tensor?) -> Tensor
}

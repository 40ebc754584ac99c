import SSLTensor
import Foundation

/// Logs training throughput: `throughput/samples_per_sec` and `throughput/batches_per_sec`
/// per step and averaged per epoch. Samples are images, not views: the distinct
/// `"sample_idx"` values of the batch when present, else the first dimension of `"image"`.
public final class ThroughputMonitor: Callback {
    private var batchStart = Date()

    public init() {}

    public func onTrainBatchStart(_ trainer: Trainer, _ module: TrainableModule, batch: Batch, batchIndex: Int) {
        batchStart = Date()
    }

    public func onTrainBatchEnd(_ trainer: Trainer, _ module: TrainableModule, outputs: Batch, batch: Batch, batchIndex: Int) {
        let seconds = Date().timeIntervalSince(batchStart)
        guard seconds > 0 else { return }
        let samples: Int
        if let indices = batch.integersIfPresent("sample_idx") {
            samples = Set(indices.scalars).count
        } else {
            samples = batch.tensorIfPresent("image")?.shape.first ?? 0
        }
        trainer.log("throughput/samples_per_sec", Float(Double(samples) / seconds), onStep: true, onEpoch: true)
        trainer.log("throughput/batches_per_sec", Float(1 / seconds), onStep: true, onEpoch: true)
    }
}

import SSLTensor
import SSLTraining

/// Sets a `DINOLoss`'s teacher temperature before every training batch from the trainer's
/// global step and the fit's total optimizer steps. `DINOLoss` provides it; the Trainer adds it.
public final class DINOTemperatureCallback: Callback {
    private weak var loss: DINOLoss?

    public init(_ loss: DINOLoss) { self.loss = loss }

    public func onTrainBatchStart(_ trainer: Trainer, _ module: TrainableModule, batch: Batch, batchIndex: Int) {
        guard let loss else { return }
        loss.currentTeacherTemperature = loss.teacherTemperature(step: trainer.globalStep, totalSteps: trainer.totalOptimizerSteps)
    }
}

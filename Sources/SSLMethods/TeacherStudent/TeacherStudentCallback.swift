import SSLTensor
import SSLTraining

/// Updates one EMA teacher during `fit`: after a training batch whose optimizer step really
/// happened (not on accumulation-only batches), on every `interval`-th global step, it sets the
/// coefficient from the schedule (per epoch: `updateEMACoefficient(epoch:totalEpochs:)`; per
/// step: with the global step and the fit's total optimizer steps), then calls
/// `updateTeacher()`. It never runs during validation. `TeacherStudentModule` creates it and
/// the Trainer runs it before every other callback.
public final class TeacherStudentCallback: Callback {
    private weak var teacher: EMATeacher?
    private var stepHappened = false

    public init(_ teacher: EMATeacher) { self.teacher = teacher }

    public func onTrainBatchStart(_ trainer: Trainer, _ module: TrainableModule, batch: Batch, batchIndex: Int) {
        stepHappened = false
    }

    public func onAfterOptimizerStep(_ trainer: Trainer, _ module: TrainableModule, optimizer: ConfiguredOptimizer) {
        stepHappened = true
    }

    public func onTrainBatchEnd(_ trainer: Trainer, _ module: TrainableModule, outputs: Batch, batch: Batch, batchIndex: Int) {
        guard stepHappened, let teacher else { return }
        stepHappened = false
        guard trainer.globalStep % teacher.interval == 0 else { return }
        switch teacher.schedule {
        case .perEpoch: teacher.updateEMACoefficient(epoch: trainer.currentEpoch, totalEpochs: trainer.maxEpochs)
        // The 0-based index of the step just taken: the first update uses the base coefficient
        // (quadra; Lightning's global_step inside optimizer_step).
        case .perStep: teacher.updateEMACoefficient(step: trainer.globalStep - 1, totalSteps: trainer.totalOptimizerSteps)
        case .constant: break
        }
        teacher.updateTeacher()
    }
}

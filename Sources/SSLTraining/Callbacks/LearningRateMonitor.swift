import SSLTensor

/// Logs each optimizer group's learning rate as `lr-<optimizer>/<group>`, per step (at the
/// start of each training batch, before that batch's step) or once per epoch.
public final class LearningRateMonitor: Callback {
    public enum Interval: String, Sendable { case step, epoch }
    public let interval: Interval

    public init(interval: Interval = .step) { self.interval = interval }

    public func onTrainBatchStart(_ trainer: Trainer, _ module: TrainableModule, batch: Batch, batchIndex: Int) {
        guard interval == .step else { return }
        logRates(trainer, module)
    }

    public func onTrainEpochStart(_ trainer: Trainer, _ module: TrainableModule) {
        guard interval == .epoch else { return }
        logRates(trainer, module, onEpoch: true)
    }

    private func logRates(_ trainer: Trainer, _ module: TrainableModule, onEpoch: Bool = false) {
        for configured in module.optimizers {
            for (group, rate) in zip(configured.optimizer.groupNames, configured.optimizer.learningRates) {
                trainer.log("lr-\(configured.name)/\(group)", rate, onStep: !onEpoch, onEpoch: onEpoch)
            }
        }
    }
}

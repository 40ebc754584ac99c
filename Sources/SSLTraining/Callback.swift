import SSLOptim
import SSLTensor

/// A Lightning-style callback: every hook has a no-op default, so a callback implements only
/// what it needs. Hooks receive the trainer (its counters, run directory, logged metrics) and
/// the module. A hook may throw: the error ends the loop (after `onException` has run on
/// every callback), as an exception raised in a Lightning callback does.
///
/// Which callbacks run, and in what order, is decided in one place,
/// `Trainer.callbackList(for:)`: the components' callbacks (an EMA teacher's update) first,
/// then `Trainer.callbacks` in list order, then the module's `hooks`, then the automatic
/// progress bar and report writer, and every `ModelCheckpoint` last. So a user callback's
/// `onTrainBatchEnd` sees the teacher after the step's update, and a checkpoint holds all
/// that the step changed.
///
/// Order within one `fit` (as DESIGN.md §3 and Lightning): setup → onFitStart → sanity
/// validation → onTrainStart → for each epoch: onTrainEpochStart → for each batch:
/// onTrainBatchStart, forward, onBeforeBackward, backward, onAfterBackward, at an accumulation
/// boundary (onBeforeOptimizerStep, clip, step, onAfterOptimizerStep, zero grad, scheduler) →
/// onTrainBatchEnd → validation (onValidationStart, onValidationEpochStart,
/// onValidationBatchStart/End…, onValidationEpochEnd, onValidationEnd) → onTrainEpochEnd →
/// onTrainEnd → onFitEnd → teardown.
///
/// State a callback returns from `stateDict()` is saved in checkpoints under its `stateKey`
/// and handed back to `loadStateDict(_:)` on resume.
///
/// ```swift
/// final class PrintLoss: Callback {
///     func onTrainBatchEnd(_ trainer: Trainer, _ module: TrainableModule, outputs: Batch, batch: Batch, batchIndex: Int) {
///         if batchIndex % 100 == 0 { print(outputs["loss"].item()) }
///     }
/// }
/// ```
public protocol Callback: AnyObject {
    /// The key its state is saved under (defaults to its type name).
    var stateKey: String { get }

    func setup(_ trainer: Trainer, _ module: TrainableModule, stage: Stage) throws
    func teardown(_ trainer: Trainer, _ module: TrainableModule, stage: Stage) throws
    func onFitStart(_ trainer: Trainer, _ module: TrainableModule) throws
    func onFitEnd(_ trainer: Trainer, _ module: TrainableModule) throws
    func onSanityCheckStart(_ trainer: Trainer, _ module: TrainableModule) throws
    func onSanityCheckEnd(_ trainer: Trainer, _ module: TrainableModule) throws
    func onTrainStart(_ trainer: Trainer, _ module: TrainableModule) throws
    func onTrainEnd(_ trainer: Trainer, _ module: TrainableModule) throws
    func onTrainEpochStart(_ trainer: Trainer, _ module: TrainableModule) throws
    func onTrainEpochEnd(_ trainer: Trainer, _ module: TrainableModule) throws
    func onTrainBatchStart(_ trainer: Trainer, _ module: TrainableModule, batch: Batch, batchIndex: Int) throws
    func onTrainBatchEnd(_ trainer: Trainer, _ module: TrainableModule, outputs: Batch, batch: Batch, batchIndex: Int) throws
    func onBeforeBackward(_ trainer: Trainer, _ module: TrainableModule, loss: Tensor) throws
    func onAfterBackward(_ trainer: Trainer, _ module: TrainableModule) throws
    func onBeforeOptimizerStep(_ trainer: Trainer, _ module: TrainableModule, optimizer: ConfiguredOptimizer) throws
    func onAfterOptimizerStep(_ trainer: Trainer, _ module: TrainableModule, optimizer: ConfiguredOptimizer) throws
    func onValidationStart(_ trainer: Trainer, _ module: TrainableModule) throws
    func onValidationEnd(_ trainer: Trainer, _ module: TrainableModule) throws
    func onValidationEpochStart(_ trainer: Trainer, _ module: TrainableModule) throws
    func onValidationEpochEnd(_ trainer: Trainer, _ module: TrainableModule) throws
    func onValidationBatchStart(_ trainer: Trainer, _ module: TrainableModule, batch: Batch, batchIndex: Int) throws
    func onValidationBatchEnd(_ trainer: Trainer, _ module: TrainableModule, outputs: Batch, batch: Batch, batchIndex: Int) throws
    func onTestStart(_ trainer: Trainer, _ module: TrainableModule) throws
    func onTestEnd(_ trainer: Trainer, _ module: TrainableModule) throws
    func onTestBatchEnd(_ trainer: Trainer, _ module: TrainableModule, outputs: Batch, batch: Batch, batchIndex: Int) throws
    func onPredictStart(_ trainer: Trainer, _ module: TrainableModule) throws
    func onPredictEnd(_ trainer: Trainer, _ module: TrainableModule) throws
    func onPredictBatchEnd(_ trainer: Trainer, _ module: TrainableModule, outputs: Batch, batch: Batch, batchIndex: Int) throws
    func onException(_ trainer: Trainer, _ module: TrainableModule, error: Error)

    /// State to save in checkpoints (tensors by name and a JSON-encodable string map).
    func stateDict() -> CallbackState
    /// Restores state saved by `stateDict()`.
    func loadStateDict(_ state: CallbackState) throws
}

/// What a callback saves in a checkpoint: named tensors and named strings.
public struct CallbackState: Sendable {
    public var tensors: [String: Tensor]
    public var values: [String: String]
    public init(tensors: [String: Tensor] = [:], values: [String: String] = [:]) {
        self.tensors = tensors
        self.values = values
    }
    public var isEmpty: Bool { tensors.isEmpty && values.isEmpty }
}

extension Callback {
    public var stateKey: String { String(describing: type(of: self)) }
    public func setup(_ trainer: Trainer, _ module: TrainableModule, stage: Stage) {}
    public func teardown(_ trainer: Trainer, _ module: TrainableModule, stage: Stage) {}
    public func onFitStart(_ trainer: Trainer, _ module: TrainableModule) {}
    public func onFitEnd(_ trainer: Trainer, _ module: TrainableModule) {}
    public func onSanityCheckStart(_ trainer: Trainer, _ module: TrainableModule) {}
    public func onSanityCheckEnd(_ trainer: Trainer, _ module: TrainableModule) {}
    public func onTrainStart(_ trainer: Trainer, _ module: TrainableModule) {}
    public func onTrainEnd(_ trainer: Trainer, _ module: TrainableModule) {}
    public func onTrainEpochStart(_ trainer: Trainer, _ module: TrainableModule) {}
    public func onTrainEpochEnd(_ trainer: Trainer, _ module: TrainableModule) {}
    public func onTrainBatchStart(_ trainer: Trainer, _ module: TrainableModule, batch: Batch, batchIndex: Int) {}
    public func onTrainBatchEnd(_ trainer: Trainer, _ module: TrainableModule, outputs: Batch, batch: Batch, batchIndex: Int) {}
    public func onBeforeBackward(_ trainer: Trainer, _ module: TrainableModule, loss: Tensor) {}
    public func onAfterBackward(_ trainer: Trainer, _ module: TrainableModule) {}
    public func onBeforeOptimizerStep(_ trainer: Trainer, _ module: TrainableModule, optimizer: ConfiguredOptimizer) {}
    public func onAfterOptimizerStep(_ trainer: Trainer, _ module: TrainableModule, optimizer: ConfiguredOptimizer) {}
    public func onValidationStart(_ trainer: Trainer, _ module: TrainableModule) {}
    public func onValidationEnd(_ trainer: Trainer, _ module: TrainableModule) {}
    public func onValidationEpochStart(_ trainer: Trainer, _ module: TrainableModule) {}
    public func onValidationEpochEnd(_ trainer: Trainer, _ module: TrainableModule) {}
    public func onValidationBatchStart(_ trainer: Trainer, _ module: TrainableModule, batch: Batch, batchIndex: Int) {}
    public func onValidationBatchEnd(_ trainer: Trainer, _ module: TrainableModule, outputs: Batch, batch: Batch, batchIndex: Int) {}
    public func onTestStart(_ trainer: Trainer, _ module: TrainableModule) {}
    public func onTestEnd(_ trainer: Trainer, _ module: TrainableModule) {}
    public func onTestBatchEnd(_ trainer: Trainer, _ module: TrainableModule, outputs: Batch, batch: Batch, batchIndex: Int) {}
    public func onPredictStart(_ trainer: Trainer, _ module: TrainableModule) {}
    public func onPredictEnd(_ trainer: Trainer, _ module: TrainableModule) {}
    public func onPredictBatchEnd(_ trainer: Trainer, _ module: TrainableModule, outputs: Batch, batch: Batch, batchIndex: Int) {}
    public func onException(_ trainer: Trainer, _ module: TrainableModule, error: Error) {}
    public func stateDict() -> CallbackState { CallbackState() }
    public func loadStateDict(_ state: CallbackState) throws {}
}

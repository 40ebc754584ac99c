/// Errors a training run throws: bad configuration, bad files, and faults during training.
public enum TrainingError: Error, CustomStringConvertible, Equatable {
    /// The forward closure returned no "loss" in `fit`.
    case missingLoss(keys: [String])
    /// The "loss" the forward closure returned holds more (or fewer) than one value.
    case lossNotAScalar(shape: [Int])
    /// The loss was NaN or infinite.
    case nonFiniteLoss(value: Float, epoch: Int, batchIndex: Int, globalStep: Int)
    /// `fit` was given a module without optimizers.
    case notTrainable
    /// Trainer options that contradict each other or are out of range.
    case invalidConfiguration(String)
    /// A file (checkpoint, log) that cannot be read or written, and why.
    case badFile(path: String, problem: String)
    /// No checkpoint where one was asked for.
    case checkpointNotFound(String)
    /// Saved state (of a callback, scheduler or the trainer) that cannot be restored, and why;
    /// the trainer rethrows it as `badFile` naming the checkpoint.
    case invalidState(owner: String, problem: String)

    public var description: String {
        switch self {
        case .missingLoss(let keys):
            return "forward(batch, .fit) returned no \"loss\"; keys present: \(keys.joined(separator: ", ")). In fit the output must hold the loss to minimise under \"loss\"."
        case .lossNotAScalar(let shape):
            return "forward(batch, .fit) returned a \"loss\" of shape \(shape); it must hold one value (reduce it, for example with .mean())"
        case .nonFiniteLoss(let value, let epoch, let batchIndex, let step):
            return "non-finite loss \(value) at global step \(step) (epoch \(epoch), batch \(batchIndex)); training stopped and the last checkpoint was left untouched. To skip such batches instead: `--on-nan skip` in the recipes, Trainer(nonFiniteLoss: .skipBatch) in code."
        case .notTrainable:
            return "this module has no optimizer (it was built with optimizer: nil), so it can validate, test and predict but not fit"
        case .invalidConfiguration(let problem):
            return "invalid Trainer configuration: \(problem)"
        case .badFile(let path, let problem):
            return "\(path): \(problem)"
        case .checkpointNotFound(let detail):
            return "no checkpoint to resume from: \(detail)"
        case .invalidState(let owner, let problem):
            return "\(owner) state cannot be restored: \(problem)"
        }
    }
}

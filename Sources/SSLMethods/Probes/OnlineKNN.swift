import SSLTensor
import SSLTraining

/// Online weighted-kNN accuracy: a queue of the most recent training embeddings (detached,
/// L2-normalised) and labels; at validation, each embedding is classified by `WeightedKNN`
/// (k 20, temperature 0.07, cosine) against the queue. Logs `val/<name>_acc`. The queue is
/// checkpointed.
///
/// Data parallel, the queue receives the training embeddings of every rank, in the order one
/// process would (so it is the same on every rank, and the one-process queue); each rank
/// classifies its part of the validation set and the trainer's sample-weighted reduction of
/// `val/<name>_acc` gives the accuracy over the whole set.
///
/// ```swift
/// let knn = OnlineKNN(queueLength: 20_000, classCount: 10)
/// ```
public final class OnlineKNN: Callback {
    public let name: String
    public let inputKey: String
    public let labelKey: String
    public let queueLength: Int
    public let classCount: Int
    public let classifier: WeightedKNN
    private var bank: Tensor?
    private var labels: [Int] = []
    private var filled = 0
    private var position = 0
    private var correct = 0
    private var seen = 0

    public init(name: String = "knn", inputKey: String = "embedding", labelKey: String = "label",
                queueLength: Int = 20_000, classCount: Int, k: Int = 20, temperature: Float = 0.07) {
        precondition(queueLength > 0 && classCount > 0, "OnlineKNN: queueLength and classCount must be positive")
        self.name = name
        self.inputKey = inputKey
        self.labelKey = labelKey
        self.queueLength = queueLength
        self.classCount = classCount
        classifier = WeightedKNN(k: k, temperature: temperature)
    }

    public var stateKey: String { "OnlineKNN[\(name)]" }

    /// Embeddings currently in the queue.
    public var queueCount: Int { filled }

    public func onTrainBatchEnd(_ trainer: Trainer, _ module: TrainableModule, outputs: Batch, batch: Batch, batchIndex: Int) {
        let x = ProbeRows.features(outputs, inputKey: inputKey)
        let local = noGrad { x.l2Normalize(axis: 1) }.contiguous()
        let (normalized, batchLabels) = ProbeRows.gatherTraining(local, labels: outputs[integers: labelKey].scalars,
                                                                 outputs: outputs, communicator: trainer.communicator)
        let dimensions = normalized.shape[1]
        if bank == nil || bank?.shape[1] != dimensions {
            bank = Tensor.zeros([queueLength, dimensions])
            labels = [Int](repeating: 0, count: queueLength)
            filled = 0
            position = 0
        }
        guard let bank else { return }
        normalized.withContiguousBuffer { source in
            bank.withUnsafeMutableElements { destination in
                for row in 0..<Swift.min(normalized.shape[0], queueLength) {
                    let target = position * dimensions
                    for j in 0..<dimensions { destination[target + j] = source[row * dimensions + j] }
                    labels[position] = batchLabels[row]
                    position = (position + 1) % queueLength
                    filled = Swift.min(filled + 1, queueLength)
                }
            }
        }
    }

    public func onValidationEpochStart(_ trainer: Trainer, _ module: TrainableModule) {
        correct = 0
        seen = 0
    }

    public func onValidationBatchEnd(_ trainer: Trainer, _ module: TrainableModule, outputs: Batch, batch: Batch, batchIndex: Int) {
        guard let bank, filled > 0 else { return }
        let x = ProbeRows.features(outputs, inputKey: inputKey)
        let truth = outputs[integers: labelKey].scalars
        let active = filled < queueLength ? bank.slice(axis: 0, 0..<filled) : bank
        let predictions = classifier.classify(queries: x, bank: active, bankLabels: Array(labels.prefix(filled)),
                                              classCount: classCount)
        correct += zip(predictions, truth).filter { $0 == $1 }.count
        seen += truth.count
    }

    public func onValidationEpochEnd(_ trainer: Trainer, _ module: TrainableModule) {
        guard seen > 0 else { return }
        trainer.log("val/\(name)_acc", Float(correct) / Float(seen), onStep: false, onEpoch: true, batchSize: seen)
    }

    public func stateDict() -> CallbackState {
        guard let bank else { return CallbackState() }
        return CallbackState(tensors: ["bank": bank, "labels": Tensor(labels.map(Float.init))],
                             values: ["filled": String(filled), "position": String(position)])
    }

    public func loadStateDict(_ state: CallbackState) throws {
        guard let saved = state.tensors["bank"], let savedLabels = state.tensors["labels"] else { return }
        func invalid(_ problem: String) -> TrainingError {
            TrainingError.invalidState(owner: stateKey, problem: problem)
        }
        guard saved.rank == 2, saved.shape[0] == queueLength, saved.shape[1] > 0 else {
            throw invalid("the bank has shape \(saved.shape), expected [\(queueLength), D] (queueLength \(queueLength))")
        }
        guard savedLabels.count == queueLength else {
            throw invalid("\(savedLabels.count) labels for a bank of \(queueLength)")
        }
        let restoredLabels = savedLabels.scalars.map { Int(savedCount: $0, limit: classCount - 1) }
        guard restoredLabels.allSatisfy({ $0 != nil }) else {
            throw invalid("the labels must be whole numbers in 0..<\(classCount) (classCount)")
        }
        guard let restoredFilled = state.values["filled"].flatMap({ Int(savedCount: $0, limit: queueLength) }),
              let restoredPosition = state.values["position"].flatMap({ Int(savedCount: $0, limit: queueLength - 1) }) else {
            throw invalid("filled \(state.values["filled"] ?? "missing") and position \(state.values["position"] ?? "missing") must be in 0...\(queueLength) and 0..<\(queueLength)")
        }
        let bankCopy = saved.contiguousCopy()
        guard bankCopy.scalars.allSatisfy(\.isFinite) else { throw invalid("the bank holds non-finite values") }
        bank = bankCopy
        labels = restoredLabels.map { $0 ?? 0 }
        filled = restoredFilled
        position = restoredPosition
    }
}

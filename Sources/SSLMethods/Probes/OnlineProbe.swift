import SSLNN
import SSLOptim
import SSLTensor
import SSLTraining

/// A classifier trained during `fit` on the detached embeddings the forward returns, with its
/// own optimizer — the online linear (or MLP) probe of stable-ssl and solo-learn. Its
/// parameters never enter the module's optimizers, and no gradient reaches the encoder.
///
/// Each training batch: logits = probe(outputs[inputKey].detach()), cross-entropy against
/// outputs[labelKey], one step of its AdamW. Each validation: top-k accuracy over the
/// validation set. Logged: `train/<name>_loss`, `train/<name>_top1` (epoch means) and
/// `val/<name>_top1`, `val/<name>_top5`. Its weights and optimizer state are checkpointed.
///
/// Data parallel, every rank trains the probe on the embeddings of every rank, gathered in the
/// order one process would have them: each step is the one-process step, so the probe stays
/// identical on every rank (one probe trained on the global batch, as the encoder is). Each
/// rank evaluates its part of the validation set; the trainer's sample-weighted reduction
/// gives the accuracy over the whole set.
///
/// ```swift
/// let probe = OnlineProbe(name: "linear_probe", featureCount: 128, classCount: 10)
/// let trainer = Trainer(maxEpochs: 100, callbacks: [probe])
/// ```
public final class OnlineProbe: Callback {
    public let name: String
    public let inputKey: String
    public let labelKey: String
    public let classCount: Int
    public let topK: [Int]
    public let classifier: Module
    public let optimizer: AdamW
    private var accuracy: Accuracy
    private var trainAccuracy: Accuracy

    /// A linear probe (empty `hiddenSizes`) or an MLP probe with BatchNorm between layers.
    public init(name: String = "linear_probe", inputKey: String = "embedding", labelKey: String = "label",
                featureCount: Int, classCount: Int, hiddenSizes: [Int] = [], learningRate: Float = 1e-3,
                weightDecay: Float = 1e-6, topK: [Int] = [1, 5], seed: UInt64 = 0) {
        precondition(featureCount > 0 && classCount > 1, "OnlineProbe: featureCount \(featureCount) and classCount \(classCount) must be positive (≥ 2 classes)")
        self.name = name
        self.inputKey = inputKey
        self.labelKey = labelKey
        self.classCount = classCount
        self.topK = topK.filter { $0 <= classCount }
        classifier = ParameterInitialization.withSeed(seed) {
            hiddenSizes.isEmpty ? Linear(featureCount, classCount) as Module
                : MLP([featureCount] + hiddenSizes + [classCount], batchNorm: true)
        }
        optimizer = AdamW(classifier.namedParameters(), learningRate: learningRate, weightDecay: weightDecay)
        accuracy = Accuracy(topK: self.topK)
        trainAccuracy = Accuracy(topK: [1])
    }

    public var stateKey: String { "OnlineProbe[\(name)]" }

    private func features(_ outputs: Batch) -> Tensor {
        ProbeRows.features(outputs, inputKey: inputKey)
    }

    public func onTrainEpochStart(_ trainer: Trainer, _ module: TrainableModule) {
        trainAccuracy.reset()
    }

    public func onTrainBatchEnd(_ trainer: Trainer, _ module: TrainableModule, outputs: Batch, batch: Batch, batchIndex: Int) {
        let gathered = ProbeRows.gatherTraining(features(outputs), labels: outputs[integers: labelKey].scalars,
                                                outputs: outputs, communicator: trainer.communicator)
        let x = gathered.features
        let labels = IntTensor(gathered.labels)
        classifier.train()
        optimizer.zeroGrad()
        let logits = classifier(x)
        let loss = logits.crossEntropy(targets: labels)
        loss.backward()
        optimizer.step()
        optimizer.zeroGrad()
        trainAccuracy.update(logits: logits.detach(), targets: labels)
        trainer.log("train/\(name)_loss", loss.item(), onStep: false, onEpoch: true, batchSize: labels.count)
    }

    public func onTrainEpochEnd(_ trainer: Trainer, _ module: TrainableModule) {
        if let top1 = trainAccuracy.compute()[1], top1.isFinite { trainer.callbackMetrics["train/\(name)_top1"] = top1 }
    }

    public func onValidationEpochStart(_ trainer: Trainer, _ module: TrainableModule) {
        accuracy.reset()
        classifier.eval()
    }

    public func onValidationBatchEnd(_ trainer: Trainer, _ module: TrainableModule, outputs: Batch, batch: Batch, batchIndex: Int) {
        let logits = noGrad { classifier(features(outputs)) }
        accuracy.update(logits: logits, targets: outputs[integers: labelKey])
    }

    public func onValidationEpochEnd(_ trainer: Trainer, _ module: TrainableModule) {
        classifier.train()
        guard accuracy.sampleCount > 0 else { return }
        for (k, value) in accuracy.compute() {
            trainer.log("val/\(name)_top\(k)", value, onStep: false, onEpoch: true, batchSize: accuracy.sampleCount)
        }
    }

    public func stateDict() -> CallbackState {
        var tensors: [String: Tensor] = [:]
        for entry in classifier.stateDict().entries { tensors["model.\(entry.name)"] = entry.tensor }
        for (key, tensor) in optimizer.stateDict() { tensors["optimizer.\(key)"] = tensor }
        return CallbackState(tensors: tensors)
    }

    public func loadStateDict(_ state: CallbackState) throws {
        var model = StateDict(), optimizerState: [String: Tensor] = [:]
        for (key, tensor) in state.tensors {
            if key.hasPrefix("model.") { model[String(key.dropFirst(6))] = tensor }
            if key.hasPrefix("optimizer.") { optimizerState[String(key.dropFirst(10))] = tensor }
        }
        try classifier.loadStateDict(model)
        try optimizer.loadStateDict(optimizerState)
    }
}

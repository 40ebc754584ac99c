import SSLTensor
import SSLTraining

/// Logs RankMe, the effective rank of the embeddings (see `effectiveRank(_:)`), over up to
/// `maxSamples` validation embeddings, as `val/<name>`. A value far below the embedding
/// dimension signals collapse.
public final class RankMe: Callback {
    public let name: String
    public let inputKey: String
    public let maxSamples: Int
    private var collected: [Tensor] = []
    private var count = 0
    /// The last value computed.
    public private(set) var lastValue: Float?

    public init(name: String = "rankme", inputKey: String = "embedding", maxSamples: Int = 4096) {
        self.name = name
        self.inputKey = inputKey
        self.maxSamples = maxSamples
    }

    public var stateKey: String { "RankMe[\(name)]" }

    public func onValidationEpochStart(_ trainer: Trainer, _ module: TrainableModule) {
        collected = []
        count = 0
    }

    public func onValidationBatchEnd(_ trainer: Trainer, _ module: TrainableModule, outputs: Batch, batch: Batch, batchIndex: Int) {
        guard count < maxSamples else { return }
        var x = outputs[inputKey].detach()
        if x.rank > 2 { x = x.flatten() }
        let take = Swift.min(x.shape[0], maxSamples - count)
        collected.append(x.slice(axis: 0, 0..<take).contiguousCopy())
        count += take
    }

    public func onValidationEpochEnd(_ trainer: Trainer, _ module: TrainableModule) {
        guard !collected.isEmpty, !trainer.isSanityChecking else { return }
        let value = effectiveRank(Tensor.concat(collected, axis: 0))
        lastValue = value
        trainer.log("val/\(name)", value, onStep: false, onEpoch: true)
        collected = []
    }
}

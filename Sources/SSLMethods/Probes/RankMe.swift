import SSLTensor
import SSLTraining

/// Logs two effective ranks of up to `maxSamples` validation embeddings (see
/// `effectiveRank(_:centered:eps:)`): RankMe as the paper defines it, on the uncentred
/// embeddings, as `val/<name>` (`val/rankme`), and the same on the embeddings minus their mean
/// as `val/<centeredName>` (`val/effective_rank`), the framework's collapse criterion (no
/// collapse: at least a quarter of the embedding dimension). A value far below the dimension
/// signals collapse.
///
/// ```swift
/// let trainer = Trainer(maxEpochs: 10, callbacks: [RankMe()])   // logs val/rankme and val/effective_rank
/// ```
public final class RankMe: Callback {
    public let name: String
    /// The name of the centred effective rank (`val/<centeredName>`).
    public let centeredName: String
    public let inputKey: String
    public let maxSamples: Int
    private var collected: [Tensor] = []
    private var count = 0
    /// The last RankMe computed (uncentred).
    public private(set) var lastValue: Float?
    /// The last centred effective rank computed.
    public private(set) var lastCenteredValue: Float?

    public init(name: String = "rankme", centeredName: String = "effective_rank", inputKey: String = "embedding",
                maxSamples: Int = 4096) {
        self.name = name
        self.centeredName = centeredName
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
        let embeddings = Tensor.concat(collected, axis: 0)
        let value = effectiveRank(embeddings)
        let centered = effectiveRank(embeddings, centered: true)
        lastValue = value
        lastCenteredValue = centered
        trainer.log("val/\(name)", value, onStep: false, onEpoch: true)
        trainer.log("val/\(centeredName)", centered, onStep: false, onEpoch: true)
        collected = []
    }
}

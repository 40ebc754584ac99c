import SSLDistributed
import SSLTensor
import SSLTraining

/// Logs two effective ranks of up to `maxSamples` validation embeddings (see
/// `effectiveRank(_:centered:eps:)`): RankMe as the paper defines it, on the uncentred
/// embeddings, as `val/<name>` (`val/rankme`), and the same on the embeddings minus their mean
/// as `val/<centeredName>` (`val/effective_rank`), the framework's collapse criterion (no
/// collapse: at least a quarter of the embedding dimension). A value far below the dimension
/// signals collapse.
///
/// Data parallel, each rank collects from its part of the validation set and the ranks gather
/// their embeddings at the epoch's end, in the order one process would see them, so the ranks
/// are computed from the one-process embeddings (the same first `maxSamples`).
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
    /// (validation batch, view) of each collected row: the one-process order across ranks.
    private var keys: [Int] = []
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
        keys = []
        count = 0
    }

    public func onValidationBatchEnd(_ trainer: Trainer, _ module: TrainableModule, outputs: Batch, batch: Batch, batchIndex: Int) {
        guard count < maxSamples else { return }
        let x = ProbeRows.features(outputs, inputKey: inputKey)
        let take = Swift.min(x.shape[0], maxSamples - count)
        collected.append(x.slice(axis: 0, 0..<take).contiguousCopy())
        for view in ProbeRows.views(outputs, rows: x.shape[0]).prefix(take) { keys += [batchIndex, view] }
        count += take
    }

    public func onValidationEpochEnd(_ trainer: Trainer, _ module: TrainableModule) {
        guard !trainer.isSanityChecking else { return }
        guard let embeddings = gathered(over: trainer.evaluationCommunicator) else { return }
        let value = effectiveRank(embeddings)
        let centered = effectiveRank(embeddings, centered: true)
        lastValue = value
        lastCenteredValue = centered
        trainer.log("val/\(name)", value, onStep: false, onEpoch: true)
        trainer.log("val/\(centeredName)", centered, onStep: false, onEpoch: true)
        collected = []
        keys = []
    }

    /// The first `maxSamples` validation embeddings of every rank, in one process's order
    /// (by batch, view, rank, position: a stable sort of the rank-after-rank gather).
    private func gathered(over communicator: any Communicator) -> Tensor? {
        let local = collected.isEmpty ? nil : Tensor.concat(collected, axis: 0)
        guard communicator.worldSize > 1 else { return local }
        var columns = [local?.shape[1] ?? 0]
        communicator.allReduce(&columns, .max)
        guard columns[0] > 0 else { return nil }
        let rows = communicator.allGatherRows(local ?? Tensor.zeros([0, columns[0]]))
        let allKeys = communicator.allGatherRows(keys, columns: 2).values
        let order = (0 ..< rows.shape[0]).sorted { (a: Int, b: Int) -> Bool in
            let batchA = allKeys[2 * a], batchB = allKeys[2 * b]
            if batchA != batchB { return batchA < batchB }
            let viewA = allKeys[2 * a + 1], viewB = allKeys[2 * b + 1]
            return viewA != viewB ? viewA < viewB : a < b
        }
        return rows.indexSelect(axis: 0, indices: Array(order.prefix(maxSamples)))
    }
}

import Foundation

/// Saves checkpoints during a fit, as Lightning's `ModelCheckpoint`: every `everyNEpochs`
/// epochs (at the epoch's end, after validation) and/or every `everyNTrainSteps` optimizer
/// steps, keeping the best `saveTopK` by a monitored metric (or, without a monitor, the latest
/// `saveTopK`), and `last.safetensors` (also written when training ends) for resuming.
/// Files go to `<run directory>/checkpoints` unless `directory` is given; every write is atomic.
///
/// ```swift
/// ModelCheckpoint(monitor: "val/knn_acc", mode: .max, saveTopK: 2)
/// ```
public final class ModelCheckpoint: Callback {
    public enum Mode: String, Sendable { case min, max }

    public let directory: String?
    public let monitor: String?
    public let mode: Mode
    public let saveTopK: Int
    public let saveLast: Bool
    public let everyNEpochs: Int?
    public let everyNTrainSteps: Int?

    /// The kept checkpoints with their scores (best first when monitoring).
    public private(set) var kept: [(path: String, score: Float?)] = []
    public private(set) var lastPath: String?
    private var lastSavedStep = -1

    public init(directory: String? = nil, monitor: String? = nil, mode: Mode = .min, saveTopK: Int = 1,
                saveLast: Bool = true, everyNEpochs: Int? = 1, everyNTrainSteps: Int? = nil) {
        precondition(saveTopK >= -1, "ModelCheckpoint: saveTopK must be -1 (all), 0 or positive, got \(saveTopK)")
        precondition(everyNEpochs.map { $0 > 0 } ?? true && everyNTrainSteps.map { $0 > 0 } ?? true,
                     "ModelCheckpoint: everyNEpochs and everyNTrainSteps must be positive")
        self.directory = directory
        self.monitor = monitor
        self.mode = mode
        self.saveTopK = saveTopK
        self.saveLast = saveLast
        self.everyNEpochs = everyNEpochs
        self.everyNTrainSteps = everyNTrainSteps
    }

    /// The best checkpoint so far (the first kept one).
    public var bestPath: String? { kept.first?.path }
    public var bestScore: Float? { kept.first?.score ?? nil }

    public func onTrainBatchEnd(_ trainer: Trainer, _ module: TrainableModule, outputs: Batch, batch: Batch, batchIndex: Int) {
        guard let every = everyNTrainSteps, trainer.globalStep > 0, trainer.globalStep % every == 0,
              trainer.globalStep != lastSavedStep else { return }
        save(trainer)
    }

    public func onTrainEpochEnd(_ trainer: Trainer, _ module: TrainableModule) {
        guard let every = everyNEpochs, (trainer.currentEpoch + 1) % every == 0 else { return }
        save(trainer)
    }

    public func onTrainEnd(_ trainer: Trainer, _ module: TrainableModule) {
        guard saveLast, trainer.globalStep != lastSavedStep else { return }
        writeLast(trainer)
    }

    private func checkpointDirectory(_ trainer: Trainer) -> String? {
        directory ?? trainer.runDirectory.map { ($0 as NSString).appendingPathComponent("checkpoints") }
    }

    private func save(_ trainer: Trainer) {
        guard let folder = checkpointDirectory(trainer) else { return }
        lastSavedStep = trainer.globalStep
        if saveTopK != 0 {
            let score = monitor.flatMap { trainer.callbackMetrics[$0] }
            if monitor != nil && score == nil {
                FileHandle.standardError.write(Data("ModelCheckpoint: monitored metric \"\(monitor ?? "")\" was not logged; available: \(trainer.callbackMetrics.keys.sorted().joined(separator: ", "))\n".utf8))
            } else if shouldKeep(score) {
                let path = (folder as NSString).appendingPathComponent("epoch=\(trainer.currentEpoch)-step=\(trainer.globalStep).safetensors")
                if write(trainer, to: path) {
                    kept.removeAll { $0.path == path }
                    if monitor == nil {
                        kept.insert((path, score), at: 0)   // newest first: the oldest go
                    } else {
                        kept.append((path, score))
                        sortKept()                          // best first: the worst go
                    }
                    while saveTopK > 0 && kept.count > saveTopK {
                        let removed = kept.removeLast()
                        try? FileManager.default.removeItem(atPath: removed.path)
                    }
                }
            }
        }
        if saveLast { writeLast(trainer) }
    }

    private func writeLast(_ trainer: Trainer) {
        guard let folder = checkpointDirectory(trainer) else { return }
        let path = (folder as NSString).appendingPathComponent("last.safetensors")
        if write(trainer, to: path) { lastPath = path }
        lastSavedStep = trainer.globalStep
    }

    private func shouldKeep(_ score: Float?) -> Bool {
        guard saveTopK > 0, monitor != nil, kept.count >= saveTopK, let score else { return true }
        guard let worst = kept.last?.score else { return true }
        return mode == .min ? score < worst : score > worst
    }

    private func sortKept() {
        kept.sort { a, b in
            guard let x = a.score, let y = b.score else { return a.score != nil }
            return mode == .min ? x < y : x > y
        }
    }

    private func write(_ trainer: Trainer, to path: String) -> Bool {
        do {
            try trainer.saveCheckpoint(to: path)
            return true
        } catch {
            FileHandle.standardError.write(Data("ModelCheckpoint: \(error)\n".utf8))
            return false
        }
    }

    public func stateDict() -> CallbackState {
        var values: [String: String] = ["count": String(kept.count)]
        for (index, entry) in kept.enumerated() {
            values["path.\(index)"] = entry.path
            if let score = entry.score { values["score.\(index)"] = String(score) }
        }
        if let lastPath { values["last"] = lastPath }
        return CallbackState(values: values)
    }

    public func loadStateDict(_ state: CallbackState) throws {
        let count = Int(state.values["count"] ?? "0") ?? 0
        kept = (0..<count).compactMap { index in
            state.values["path.\(index)"].map { ($0, state.values["score.\(index)"].flatMap(Float.init)) }
        }
        lastPath = state.values["last"]
    }
}

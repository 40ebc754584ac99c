import Foundation
import SSLTensor

/// Saves checkpoints during a fit, as Lightning's `ModelCheckpoint`: every `everyNEpochs`
/// epochs (at the epoch's end, after validation) and/or every `everyNTrainSteps` optimizer
/// steps, keeping the best `saveTopK` by a monitored metric (or, without a monitor, the latest
/// `saveTopK`), and `last.safetensors` (also written when training ends, and every
/// `lastEveryNTrainSteps` steps) for resuming. Files go to `<run directory>/checkpoints`
/// unless `directory` is given; every write is atomic.
///
/// Kept checkpoints are remembered by file name, relative to the checkpoint folder, so a
/// copied run directory resumes on its own files; the callback only ever deletes its own
/// `epoch=E-step=S.safetensors` files inside that folder.
///
/// A checkpoint that cannot be written (a full disk, a read-only folder) stops the fit with
/// the error by default; with `onWriteFailure: .warn` it warns once on standard error, goes
/// on, and keeps the failure in `writeFailure` for the run's final lines.
///
/// ```swift
/// ModelCheckpoint(monitor: "val/knn_acc", mode: .max, saveTopK: 2)
/// ModelCheckpoint(lastEveryNTrainSteps: 100)     // also refresh last.safetensors every 100 steps
/// ```
public final class ModelCheckpoint: Callback {
    public enum Mode: String, Sendable { case min, max }
    /// What a checkpoint that cannot be written does.
    public enum WriteFailurePolicy: String, Sendable { case stop, warn }

    public let directory: String?
    public let monitor: String?
    public let mode: Mode
    public let saveTopK: Int
    public let saveLast: Bool
    public let everyNEpochs: Int?
    public let everyNTrainSteps: Int?
    public let lastEveryNTrainSteps: Int?
    public let onWriteFailure: WriteFailurePolicy

    /// The kept checkpoints' file names (in the checkpoint folder) with their scores, best
    /// first when monitoring, newest first otherwise.
    public private(set) var kept: [(name: String, score: Float?)] = []
    /// The first write that failed under `.warn` (and how many failed), for the final lines.
    public private(set) var writeFailure: (message: String, count: Int)?
    private var folder: String?
    private var lastWritten = false
    private var lastSavedStep = -1

    public init(directory: String? = nil, monitor: String? = nil, mode: Mode = .min, saveTopK: Int = 1,
                saveLast: Bool = true, everyNEpochs: Int? = 1, everyNTrainSteps: Int? = nil,
                lastEveryNTrainSteps: Int? = nil, onWriteFailure: WriteFailurePolicy = .stop) {
        precondition(saveTopK >= -1, "ModelCheckpoint: saveTopK must be -1 (all), 0 or positive, got \(saveTopK)")
        precondition([everyNEpochs, everyNTrainSteps, lastEveryNTrainSteps].allSatisfy { $0.map { $0 > 0 } ?? true },
                     "ModelCheckpoint: everyNEpochs, everyNTrainSteps and lastEveryNTrainSteps must be positive")
        self.directory = directory
        self.monitor = monitor
        self.mode = mode
        self.saveTopK = saveTopK
        self.saveLast = saveLast
        self.everyNEpochs = everyNEpochs
        self.everyNTrainSteps = everyNTrainSteps
        self.lastEveryNTrainSteps = lastEveryNTrainSteps
        self.onWriteFailure = onWriteFailure
    }

    /// The best checkpoint so far (the first kept one).
    public var bestPath: String? { kept.first.flatMap { path(of: $0.name) } }
    public var bestScore: Float? { kept.first?.score ?? nil }
    /// The last `last.safetensors` written in this fit.
    public var lastPath: String? { lastWritten ? path(of: Self.lastName) : nil }

    static let lastName = "last.safetensors"

    // MARK: Hooks

    public func setup(_ trainer: Trainer, _ module: TrainableModule, stage: Stage) {
        folder = directory ?? trainer.runDirectory.map { ($0 as NSString).appendingPathComponent("checkpoints") }
    }

    public func onTrainBatchEnd(_ trainer: Trainer, _ module: TrainableModule, outputs: Batch, batch: Batch,
                                batchIndex: Int) throws {
        let step = trainer.globalStep
        guard step > 0, step != lastSavedStep else { return }
        if let every = everyNTrainSteps, step % every == 0 {
            try save(trainer)
        } else if saveLast, let every = lastEveryNTrainSteps, step % every == 0 {
            try writeLast(trainer)
        }
    }

    public func onTrainEpochEnd(_ trainer: Trainer, _ module: TrainableModule) throws {
        guard let every = everyNEpochs, (trainer.currentEpoch + 1) % every == 0 else { return }
        try save(trainer)
    }

    public func onTrainEnd(_ trainer: Trainer, _ module: TrainableModule) throws {
        guard saveLast, trainer.globalStep != lastSavedStep else { return }
        try writeLast(trainer)
    }

    // MARK: Writing

    private func path(of name: String) -> String? {
        folder.map { ($0 as NSString).appendingPathComponent(name) }
    }

    private func save(_ trainer: Trainer) throws {
        guard folder != nil else { return }
        lastSavedStep = trainer.globalStep
        if saveTopK != 0 {
            let score = monitor.flatMap { trainer.callbackMetrics[$0] }
            if monitor != nil && score == nil {
                FileHandle.standardError.write(Data("ModelCheckpoint: monitored metric \"\(monitor ?? "")\" was not logged; available: \(trainer.callbackMetrics.keys.sorted().joined(separator: ", "))\n".utf8))
            } else if shouldKeep(score) {
                let name = "epoch=\(trainer.currentEpoch)-step=\(trainer.globalStep).safetensors"
                if try write(trainer, name: name) {
                    keep(name, score: score)
                }
            }
        }
        if saveLast { try writeLast(trainer) }
    }

    private func keep(_ name: String, score: Float?) {
        kept.removeAll { $0.name == name }
        if monitor == nil {
            kept.insert((name, score), at: 0)   // newest first: the oldest go
        } else {
            kept.append((name, score))
            sortKept()                          // best first: the worst go
        }
        while saveTopK > 0 && kept.count > saveTopK {
            let removed = kept.removeLast()
            // Only this callback's own files, only inside its folder (names were validated).
            if let path = path(of: removed.name) { try? FileManager.default.removeItem(atPath: path) }
        }
    }

    private func writeLast(_ trainer: Trainer) throws {
        if try write(trainer, name: Self.lastName) { lastWritten = true }
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

    /// Writes a checkpoint; returns whether it was written (false only under `.warn`).
    private func write(_ trainer: Trainer, name: String) throws -> Bool {
        guard let path = path(of: name) else { return false }
        do {
            try trainer.saveCheckpoint(to: path)
            return true
        } catch {
            guard onWriteFailure == .warn else { throw error }
            if let failure = writeFailure {
                writeFailure = (failure.message, failure.count + 1)
            } else {
                writeFailure = ("\(error)", 1)
                FileHandle.standardError.write(Data("warning: a checkpoint could not be written, training goes on without it: \(error)\n".utf8))
            }
            return false
        }
    }

    // MARK: State

    public func stateDict() -> CallbackState {
        var values: [String: String] = ["count": String(kept.count)]
        for (index, entry) in kept.enumerated() {
            values["path.\(index)"] = entry.name
            if let score = entry.score { values["score.\(index)"] = String(score) }
        }
        return CallbackState(values: values)
    }

    /// Restores the kept list. Entries are file names in the checkpoint folder; an absolute path
    /// (written by earlier versions) counts by its file name, so a copied run keeps its own
    /// files. Anything but this callback's `epoch=E-step=S.safetensors` names is refused.
    public func loadStateDict(_ state: CallbackState) throws {
        guard let count = Int(savedCount: state.values["count"] ?? "0", limit: 1 << 20) else {
            throw TrainingError.invalidState(owner: stateKey, problem: "\"count\" is \(state.values["count"] ?? ""), not a count")
        }
        var restored: [(name: String, score: Float?)] = []
        for index in 0..<count {
            guard let saved = state.values["path.\(index)"] else {
                throw TrainingError.invalidState(owner: stateKey, problem: "entry \(index) of \(count) has no path")
            }
            let name = (saved as NSString).lastPathComponent
            guard Self.isCheckpointName(name) else {
                throw TrainingError.invalidState(owner: stateKey, problem: "kept entry \"\(saved)\" is not a checkpoint this callback writes (epoch=E-step=S.safetensors)")
            }
            var score: Float?
            if let text = state.values["score.\(index)"] {
                guard let value = Float(text), !value.isNaN else {
                    throw TrainingError.invalidState(owner: stateKey, problem: "score \(index) is \(text), not a number")
                }
                score = value
            }
            restored.append((name, score))
        }
        kept = restored
    }

    /// The step S of a name `epoch=E-step=S.safetensors`.
    static func step(inName name: String) -> Int? {
        guard isCheckpointName(name), let range = name.range(of: "-step=") else { return nil }
        return Int(name[range.upperBound...].dropLast(".safetensors".count))
    }

    /// Whether `name` is `epoch=<digits>-step=<digits>.safetensors`.
    static func isCheckpointName(_ name: String) -> Bool {
        guard name.hasPrefix("epoch="), name.hasSuffix(".safetensors") else { return false }
        let middle = name.dropFirst("epoch=".count).dropLast(".safetensors".count)
        let parts = middle.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[1].hasPrefix("step=") else { return false }
        let epoch = parts[0], step = parts[1].dropFirst("step=".count)
        return !epoch.isEmpty && !step.isEmpty && epoch.allSatisfy(\.isASCIIDigit) && step.allSatisfy(\.isASCIIDigit)
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}

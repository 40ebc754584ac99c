import Foundation
import SSLTensor

/// Stops a fit when a monitored metric has not improved by more than `minDelta` for
/// `patience` consecutive checks, as Lightning's `EarlyStopping`. It checks after each
/// validation (not during the sanity check), or at each training epoch end when
/// `checkOnTrainEpochEnd`.
///
/// ```swift
/// EarlyStopping(monitor: "val/loss", mode: .min, patience: 5)
/// ```
public final class EarlyStopping: Callback {
    public let monitor: String
    public let mode: ModelCheckpoint.Mode
    public let patience: Int
    public let minDelta: Float
    public let checkOnTrainEpochEnd: Bool

    public private(set) var bestScore: Float?
    public private(set) var waitCount = 0
    /// The epoch the fit was stopped in, if it was.
    public private(set) var stoppedEpoch: Int?

    public init(monitor: String, mode: ModelCheckpoint.Mode = .min, patience: Int = 3, minDelta: Float = 0,
                checkOnTrainEpochEnd: Bool = false) {
        precondition(patience >= 0 && minDelta >= 0, "EarlyStopping: patience and minDelta must be non-negative")
        self.monitor = monitor
        self.mode = mode
        self.patience = patience
        self.minDelta = minDelta
        self.checkOnTrainEpochEnd = checkOnTrainEpochEnd
    }

    public func onValidationEnd(_ trainer: Trainer, _ module: TrainableModule) {
        guard !checkOnTrainEpochEnd, !trainer.isSanityChecking, trainer.runningStage == .validate else { return }
        check(trainer)
    }

    public func onTrainEpochEnd(_ trainer: Trainer, _ module: TrainableModule) {
        if checkOnTrainEpochEnd { check(trainer) }
    }

    private func check(_ trainer: Trainer) {
        guard let value = trainer.callbackMetrics[monitor] else {
            FileHandle.standardError.write(Data("EarlyStopping: monitored metric \"\(monitor)\" was not logged; available: \(trainer.callbackMetrics.keys.sorted().joined(separator: ", "))\n".utf8))
            return
        }
        let improved: Bool
        if let best = bestScore {
            improved = mode == .min ? value < best - minDelta : value > best + minDelta
        } else {
            improved = value.isFinite
        }
        if improved {
            bestScore = value
            waitCount = 0
        } else {
            waitCount += 1
            if waitCount >= patience || !value.isFinite {
                trainer.shouldStop = true
                stoppedEpoch = trainer.currentEpoch
            }
        }
    }

    public func stateDict() -> CallbackState {
        var values = ["wait": String(waitCount)]
        if let bestScore { values["best"] = String(bestScore) }
        if let stoppedEpoch { values["stopped_epoch"] = String(stoppedEpoch) }
        return CallbackState(values: values)
    }

    public func loadStateDict(_ state: CallbackState) throws {
        guard let wait = Int(savedCount: state.values["wait"] ?? "0") else {
            throw TrainingError.invalidState(owner: stateKey, problem: "\"wait\" is \(state.values["wait"] ?? ""), not a count")
        }
        let best = try state.values["best"].map { text in
            guard let value = Float(text), !value.isNaN else {
                throw TrainingError.invalidState(owner: stateKey, problem: "\"best\" is \(text), not a number")
            }
            return value
        }
        let stopped = try state.values["stopped_epoch"].map { text in
            guard let value = Int(savedCount: text) else {
                throw TrainingError.invalidState(owner: stateKey, problem: "\"stopped_epoch\" is \(text), not an epoch")
            }
            return value
        }
        waitCount = wait
        bestScore = best
        stoppedEpoch = stopped
    }
}

import SSLTensor
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Shows training progress. On a terminal: one line refreshed in place with the epoch,
/// step/total, the progress-bar metrics (the loss), iterations per second and the ETA. When the
/// output is not a terminal (a log file, CI): a plain line every `linesPerEpoch`-th of an epoch.
/// At each epoch end it prints the epoch's logged metrics.
public final class ProgressBar: Callback {
    public let linesPerEpoch: Int
    private let isTerminal: Bool
    private var epochStart = Date()
    private var lastRefresh = Date.distantPast
    private var batchesDone = 0

    public init(linesPerEpoch: Int = 4, forceTerminal: Bool? = nil) {
        self.linesPerEpoch = Swift.max(1, linesPerEpoch)
        self.isTerminal = forceTerminal ?? (isatty(STDOUT_FILENO) != 0)
    }

    public func onTrainEpochStart(_ trainer: Trainer, _ module: TrainableModule) {
        epochStart = Date()
        batchesDone = 0
    }

    public func onTrainBatchEnd(_ trainer: Trainer, _ module: TrainableModule, outputs: Batch, batch: Batch, batchIndex: Int) {
        batchesDone += 1
        let total = trainer.trainBatchesPerEpoch
        let now = Date()
        if isTerminal {
            guard now.timeIntervalSince(lastRefresh) >= 0.1 || batchIndex + 1 == total else { return }
            lastRefresh = now
            write("\r\u{1B}[2K" + line(trainer, batchIndex: batchIndex, total: total))
        } else {
            let every = Swift.max(1, total / linesPerEpoch)
            if (batchIndex + 1) % every == 0 || batchIndex + 1 == total {
                write(line(trainer, batchIndex: batchIndex, total: total) + "\n")
            }
        }
    }

    public func onTrainEpochEnd(_ trainer: Trainer, _ module: TrainableModule) {
        // Epoch values under their plain names (a value logged per step and per epoch also
        // appears as `name_epoch`; show it once).
        let epochMetrics = trainer.callbackMetrics.filter { entry in
            !entry.key.hasSuffix("_step") && !entry.key.hasPrefix("lr-")
                && !(entry.key.hasSuffix("_epoch") && trainer.callbackMetrics[String(entry.key.dropLast(6))] != nil)
        }
        let summary = epochMetrics.keys.sorted().compactMap { key -> String? in
            guard let value = epochMetrics[key], key.contains("/") else { return nil }
            return "\(key) \(Self.format(value))"
        }.joined(separator: "  ")
        write((isTerminal ? "\r\u{1B}[2K" : "") + "Epoch \(trainer.currentEpoch + 1)/\(trainer.maxEpochs) done in \(Self.duration(Date().timeIntervalSince(epochStart)))  \(summary)\n")
    }

    private func line(_ trainer: Trainer, batchIndex: Int, total: Int) -> String {
        let elapsed = Date().timeIntervalSince(epochStart)
        let rate = elapsed > 0 ? Double(batchesDone) / elapsed : 0
        let remaining = rate > 0 ? Double(total - batchIndex - 1) / rate : 0
        let fraction = total > 0 ? Double(batchIndex + 1) / Double(total) : 1
        let width = 20
        let filled = Int((fraction * Double(width)).rounded(.down))
        let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
        let metrics = trainer.progressBarMetrics.keys.sorted().map { "\($0) \(Self.format(trainer.progressBarMetrics[$0] ?? 0))" }
        return "Epoch \(trainer.currentEpoch + 1)/\(trainer.maxEpochs) \(bar) \(batchIndex + 1)/\(total)  "
            + metrics.joined(separator: "  ") + String(format: "  %.1f it/s  ETA %@", rate, Self.duration(remaining))
    }

    static func format(_ value: Float) -> String { String(format: Swift.abs(value) >= 100 ? "%.1f" : "%.4f", value) }

    static func duration(_ seconds: Double) -> String {
        let total = Int(seconds.rounded())
        return total >= 3600 ? String(format: "%d:%02d:%02d", total / 3600, total / 60 % 60, total % 60)
            : String(format: "%d:%02d", total / 60, total % 60)
    }

    private func write(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }
}

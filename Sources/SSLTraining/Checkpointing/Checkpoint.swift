import Foundation
import SSLNN
import SSLTensor

/// The trainer-side facts a checkpoint records besides tensors.
public struct CheckpointMetadata: Codable, Sendable, Equatable {
    public var formatVersion = 1
    /// The epoch and batch index the run continues from.
    public var epoch: Int
    public var batchIndex: Int
    /// Optimizer steps taken.
    public var globalStep: Int
    /// Seconds of training so far (for `maxTime`).
    public var elapsedSeconds: Double
    /// The trainer's random generator.
    public var generatorState: [UInt64]
    /// Each scheduler's state, by optimizer name.
    public var schedulerStates: [String: [String: Float]]
    /// Each callback's string state, by its state key.
    public var callbackValues: [String: [String: String]]
    /// The model keys that hold integers.
    public var integerKeys: [String]
    /// The run's hyperparameters.
    public var hyperparameters: [String: String]
    /// The latest monitored metrics.
    public var callbackMetrics: [String: Float]
    /// How many metrics rows were logged (and flushed) when the checkpoint was written; a
    /// resumed run drops rows past it, which it logs again. Absent in older checkpoints.
    public var loggedRowCount: Int?
    /// Whether the checkpoint was written before its step's metrics row (a periodic checkpoint
    /// in `onTrainBatchEnd`); the resumed run logs that row from `metricState`.
    public var stepRowPending: Bool?
    /// The metric collector's step values and epoch aggregates.
    var metricState: MetricCollector.SavedState?

    /// The checkpoint layout this build writes and reads.
    public static let currentFormatVersion = 1

    public init(epoch: Int, batchIndex: Int, globalStep: Int, elapsedSeconds: Double, generatorState: [UInt64],
                schedulerStates: [String: [String: Float]], callbackValues: [String: [String: String]],
                integerKeys: [String], hyperparameters: [String: String], callbackMetrics: [String: Float]) {
        self.epoch = epoch
        self.batchIndex = batchIndex
        self.globalStep = globalStep
        self.elapsedSeconds = elapsedSeconds
        self.generatorState = generatorState
        self.schedulerStates = schedulerStates
        self.callbackValues = callbackValues
        self.integerKeys = integerKeys
        self.hyperparameters = hyperparameters
        self.callbackMetrics = callbackMetrics
    }
}

/// A checkpoint file: one safetensors file holding the model's parameters and buffers under
/// their own dotted keys (so `safetensors.torch.load_file` sees `backbone.stages.0.conv1.weight`),
/// optimizer state under `optimizer/<name>/…`, callback tensors under `callback/<key>/…`, and the
/// `CheckpointMetadata` as JSON in the header's `__metadata__["ssl.checkpoint"]`. It is written
/// to a temporary file, flushed to disk and renamed into place, so a kill at any moment leaves
/// either the previous file or the new one.
///
/// ```swift
/// let checkpoint = try Checkpoint.read(from: "runs/simclr/version_0/checkpoints/last.safetensors")
/// print(checkpoint.metadata.globalStep)
/// try encoder.loadStateDict(checkpoint.model.scoped(to: "backbone"))
/// ```
public struct Checkpoint {
    public static let metadataKey = "ssl.checkpoint"

    public var model: StateDict
    public var optimizers: [String: [String: Tensor]]
    public var callbacks: [String: [String: Tensor]]
    public var metadata: CheckpointMetadata

    public init(model: StateDict, optimizers: [String: [String: Tensor]], callbacks: [String: [String: Tensor]],
                metadata: CheckpointMetadata) {
        self.model = model
        self.optimizers = optimizers
        self.callbacks = callbacks
        self.metadata = metadata
    }

    /// Writes the checkpoint atomically.
    /// Every tensor goes in a fixed order (the model's own, then optimizers and callbacks by
    /// sorted name and key), so the same state always gives the same bytes.
    public func write(to path: String) throws {
        var state = model
        for name in optimizers.keys.sorted() {
            let entries = optimizers[name] ?? [:]
            for key in entries.keys.sorted() { state["optimizer/\(name)/\(key)", isInteger: false] = entries[key] }
        }
        for name in callbacks.keys.sorted() {
            let entries = callbacks[name] ?? [:]
            for key in entries.keys.sorted() { state["callback/\(name)/\(key)", isInteger: false] = entries[key] }
        }
        var metadata = self.metadata
        metadata.integerKeys = model.entries.filter(\.isInteger).map(\.name)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let json = String(decoding: try encoder.encode(metadata), as: UTF8.self)
        do {
            try SafeTensors.write(state, to: path, metadata: ["format": "pt", Self.metadataKey: json])
        } catch let error as AtomicFileError {
            throw TrainingError.badFile(path: path, problem: error.problem)
        }
    }

    /// Reads a checkpoint, naming the file and the problem when it is not one.
    public static func read(from path: String) throws -> Checkpoint {
        guard FileManager.default.fileExists(atPath: path) else {
            throw TrainingError.checkpointNotFound("\(path) does not exist")
        }
        let state: StateDict, header: [String: String]
        do {
            (state, header) = try SafeTensors.readWithMetadata(from: path)
        } catch let error as SafeTensorsError {
            throw TrainingError.badFile(path: path, problem: error.problem)
        }
        guard let json = header[metadataKey] else {
            throw TrainingError.badFile(path: path, problem: "is a safetensors file without training metadata (\"\(metadataKey)\"), not a checkpoint")
        }
        let metadata: CheckpointMetadata
        do {
            let decoder = JSONDecoder()
            decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
            metadata = try decoder.decode(CheckpointMetadata.self, from: Data(json.utf8))
        } catch {
            throw TrainingError.badFile(path: path, problem: "has unreadable checkpoint metadata: \(error)")
        }
        guard metadata.formatVersion == CheckpointMetadata.currentFormatVersion else {
            throw TrainingError.badFile(path: path, problem: "is a checkpoint of format version \(metadata.formatVersion); this build reads version \(CheckpointMetadata.currentFormatVersion) (was it written by another version of the framework?)")
        }
        var model = StateDict()
        var optimizers: [String: [String: Tensor]] = [:]
        var callbacks: [String: [String: Tensor]] = [:]
        let integers = Set(metadata.integerKeys)
        for entry in state.entries {
            let parts = entry.name.split(separator: "/", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
            if parts.count == 3 && parts[0] == "optimizer" {
                optimizers[parts[1], default: [:]][parts[2]] = entry.tensor
            } else if parts.count == 3 && parts[0] == "callback" {
                callbacks[parts[1], default: [:]][parts[2]] = entry.tensor
            } else {
                model[entry.name, isInteger: integers.contains(entry.name)] = entry.tensor
            }
        }
        return Checkpoint(model: model, optimizers: optimizers, callbacks: callbacks, metadata: metadata)
    }
}

import Foundation
import SSLNN
import SSLOptim
import SSLTensor

extension Trainer {
    // MARK: - Run directory

    /// Chooses the run directory: the one a resumed checkpoint belongs to
    /// (`…/version_n/checkpoints/x`), the configured version, or a newly claimed one; and removes
    /// what killed checkpoint writes left behind.
    func prepareRunDirectory(resumingFrom checkpoint: String?) throws {
        guard (enableLogging || enableCheckpointing) && communicator.isRoot else {
            runDirectory = nil  // nothing is written (fast dev run, or a rank other than 0)
            return
        }
        let runs = RunDirectory(root: rootDirectory, name: name)
        defer { runs.removeAbandonedTemporaryFiles() }
        if let checkpoint {
            let directory = ((checkpoint as NSString).deletingLastPathComponent as NSString)
            if directory.lastPathComponent == "checkpoints" {
                runDirectory = directory.deletingLastPathComponent
                AtomicFile.removeAbandonedTemporaryFiles(in: directory as String)
                return
            }
        }
        runDirectory = try version.map { try runs.use(version: $0) } ?? runs.claimNextVersion()
    }

    func locateCheckpoint(_ source: ResumeSource) throws -> String {
        switch source {
        case .path(let path):
            guard FileManager.default.fileExists(atPath: path) else { throw TrainingError.checkpointNotFound("\(path) does not exist") }
            return path
        case .last:
            return try RunDirectory(root: rootDirectory, name: name).newestCompleteCheckpoint()
        }
    }

    // MARK: - Checkpoints

    /// Writes a checkpoint of the running fit to `path` (atomically). The loggers are flushed
    /// first, so every metrics row the checkpoint counts is on disk before it.
    public func saveCheckpoint(to path: String) throws {
        guard let module = activeModule else {
            preconditionFailure("Trainer.saveCheckpoint: no fit is running")
        }
        try flushLoggers()
        var optimizers: [String: [String: Tensor]] = [:]
        var schedulers: [String: [String: Float]] = [:]
        for configured in module.optimizers {
            optimizers[configured.name] = configured.optimizer.stateDict()
            if let scheduler = configured.scheduler { schedulers[configured.name] = scheduler.stateDict() }
        }
        var callbackTensors: [String: [String: Tensor]] = [:]
        var callbackValues: [String: [String: String]] = [:]
        for callback in activeCallbacks {
            let state = callback.stateDict()
            if !state.tensors.isEmpty { callbackTensors[callback.stateKey] = state.tensors }
            if !state.values.isEmpty { callbackValues[callback.stateKey] = state.values }
        }
        var metadata = CheckpointMetadata(
            epoch: resumePosition.epoch, batchIndex: resumePosition.batch, globalStep: globalStep,
            elapsedSeconds: elapsedSeconds, generatorState: generator.state, schedulerStates: schedulers,
            callbackValues: callbackValues, integerKeys: [], hyperparameters: trainerHyperparameters,
            callbackMetrics: callbackMetrics.filter { $0.value.isFinite })
        metadata.loggedRowCount = loggers.isEmpty ? nil : metricsHistory.count
        metadata.metricState = collector.savedState
        metadata.stepRowPending = stepRowPending
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty { try RunDirectory.createDirectory(directory) }
        try Checkpoint(model: module.stateDict(), optimizers: optimizers, callbacks: callbackTensors, metadata: metadata)
            .write(to: path)
    }

    /// Restores a checkpoint's state into the module, its optimizers and schedulers, the
    /// callbacks and the trainer, checking every number it reads; a problem is an error that
    /// names the file.
    func restore(_ checkpoint: Checkpoint, from path: String, into module: TrainableModule) throws {
        do {
            try restoreTrainerState(checkpoint.metadata)
            if let entry = checkpoint.model.entries.first(where: { !$0.tensor.scalars.allSatisfy(\.isFinite) }) {
                throw TrainingError.badFile(path: path, problem: "holds non-finite values in \"\(entry.name)\"")
            }
            try module.loadStateDict(checkpoint.model, strict: true)
            for configured in module.optimizers {
                if let state = checkpoint.optimizers[configured.name] { try configured.optimizer.loadStateDict(state) }
                if let scheduler = configured.scheduler, let state = checkpoint.metadata.schedulerStates[configured.name] {
                    try scheduler.loadStateDict(state)
                }
            }
            for callback in activeCallbacks {
                let state = CallbackState(tensors: checkpoint.callbacks[callback.stateKey] ?? [:],
                                          values: checkpoint.metadata.callbackValues[callback.stateKey] ?? [:])
                if !state.isEmpty { try callback.loadStateDict(state) }
            }
        } catch TrainingError.badFile(_, let problem) {
            throw TrainingError.badFile(path: path, problem: problem)
        } catch {
            throw TrainingError.badFile(path: path, problem: "cannot be resumed: \(error)")
        }
    }

    private func restoreTrainerState(_ metadata: CheckpointMetadata) throws {
        func bad(_ problem: String) -> TrainingError { TrainingError.badFile(path: "checkpoint", problem: problem) }
        let limit = Int.largestSavedCount
        guard (0...limit).contains(metadata.epoch), (0...limit).contains(metadata.globalStep),
              metadata.generatorState.count == 4, metadata.elapsedSeconds.isFinite, metadata.elapsedSeconds >= 0 else {
            throw bad("has inconsistent trainer metadata (epoch \(metadata.epoch), step \(metadata.globalStep), \(metadata.generatorState.count)-word generator state, \(metadata.elapsedSeconds) s elapsed)")
        }
        guard (0...trainBatchesPerEpoch).contains(metadata.batchIndex) else {
            throw bad("continues at batch \(metadata.batchIndex) of an epoch of \(trainBatchesPerEpoch) batches; was it written with another dataset, batch size or batch limit?")
        }
        if let rows = metadata.loggedRowCount, !(0...limit).contains(rows) {
            throw bad("counts \(rows) logged metrics rows")
        }
        let restoredCollector = try metadata.metricState.map { state in
            guard let collector = MetricCollector(savedState: state) else { throw bad("has unreadable metric accumulators") }
            return collector
        }
        resumePosition = (metadata.epoch, metadata.batchIndex)
        currentEpoch = metadata.epoch
        globalStep = metadata.globalStep
        priorSeconds = metadata.elapsedSeconds
        generator = RandomGenerator(state: metadata.generatorState)
        callbackMetrics = metadata.callbackMetrics
        if let restoredCollector { collector.restore(from: restoredCollector) }
    }

    /// Resumes the loggers where the checkpoint left them: rows logged after it (by a run
    /// killed before its next checkpoint) are dropped, as the resumed run logs them again, and
    /// a step row the checkpoint was written before is logged now.
    func resumeLogs(from metadata: CheckpointMetadata) throws {
        if let rows = metadata.loggedRowCount, metricsHistory.count > rows {
            for logger in loggers { try logger.truncate(toRowCount: rows) }
            metricsHistory.removeLast(metricsHistory.count - rows)
        }
        if metadata.stepRowPending == true {
            try record(collector.takeStepValues())
        }
    }
}

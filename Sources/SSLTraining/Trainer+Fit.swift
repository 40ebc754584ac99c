import Foundation
import SSLDistributed
import SSLNN
import SSLOptim
import SSLTensor

extension Trainer {
    // MARK: - Fit

    /// Trains `module` on `train`, validating on `validation` every `checkValEveryNEpochs`
    /// epochs, optionally resuming from a checkpoint. Data parallel (see `TrainingStrategy`),
    /// every rank calls `fit` with the same arguments and `train` is split over the ranks.
    public func fit(_ module: TrainableModule, train: BatchSource, validation: BatchSource? = nil,
                    resumeFrom: ResumeSource? = nil) throws {
        try endingJobOnError { try fitOnThisRank(module, train: train, validation: validation, resumeFrom: resumeFrom) }
    }

    func fitOnThisRank(_ module: TrainableModule, train fullTrain: BatchSource, validation fullValidation: BatchSource?,
                       resumeFrom: ResumeSource?) throws {
        guard module.isTrainable else { throw TrainingError.notTrainable }
        let train = try distributedTrainSource(fullTrain)
        let validationShare = fullValidation.map { distributedValidationSource($0) }
        let validation = validationShare?.source
        let checkpoint = try resumeFrom.map { try locateCheckpointEverywhere($0) }
        let loaded = try checkpoint.map { try Checkpoint.read(from: $0) }
        try prepareRunDirectory(resumingFrom: checkpoint)

        trainBatchesPerEpoch = limitTrainBatches?.apply(to: train.batchesPerEpoch) ?? train.batchesPerEpoch
        let stepsPerEpoch = (trainBatchesPerEpoch + accumulateGradBatches - 1) / accumulateGradBatches
        totalOptimizerSteps = maxSteps.map { Swift.min($0, maxEpochs * stepsPerEpoch) } ?? maxEpochs * stepsPerEpoch
        module.configureOptimizers(totalSteps: totalOptimizerSteps)
        for configured in module.optimizers where configured.scheduler?.requiresMetric == true && configured.monitor == nil {
            throw TrainingError.invalidConfiguration("the scheduler of optimizer \"\(configured.name)\" needs a metric: give it one with OptimizerSpec.Schedule.custom(…, monitor: \"val/loss\")")
        }

        currentEpoch = 0
        globalStep = 0
        batchIndex = 0
        shouldStop = false
        priorSeconds = 0
        callbackMetrics = [:]
        metricsHistory = []
        resumePosition = (0, 0)
        stepRowPending = false
        collector = MetricCollector()
        activeModule = module
        activeCallbacks = callbackList(for: module)
        evaluationCommunicator = validationShare?.splitOver ?? SingleProcessCommunicator()
        let logging = module as? LoggingModule
        logging?.logSink = collector
        defer {
            logging?.logSink = nil
            activeModule = nil
            runningStage = nil
            fitStart = nil
            evaluationCommunicator = SingleProcessCommunicator()
        }

        if let loaded, let checkpoint { try restore(loaded, from: checkpoint, into: module) }
        synchronizeInitialState(module)  // data parallel: rank 0's weights everywhere, fresh or resumed
        prepareGradientSynchronizer(module)
        defer { gradientSynchronizer = nil }
        if enableLogging, let runDirectory {
            loggers = [try CSVLogger(directory: runDirectory), JSONLinesLogger(directory: runDirectory)]
            metricsHistory = (loggers.first as? CSVLogger)?.records ?? []
            for logger in loggers { try logger.logHyperparameters(trainerHyperparameters) }
        } else {
            loggers = []
        }
        if let loaded { try resumeLogs(from: loaded.metadata) }
        fitStart = Date()

        do {
            try runFit(module, train: train, validation: validation, resumed: loaded != nil)
        } catch {
            for callback in activeCallbacks { callback.onException(self, module, error: error) }
            try? flushLoggers()
            throw error
        }
        try flushLoggers()
    }

    func runFit(_ module: TrainableModule, train: BatchSource, validation: BatchSource?, resumed: Bool) throws {
        runningStage = .fit
        try hook { try $0.setup(self, module, stage: .fit) }
        try hook { try $0.onFitStart(self, module) }
        if let validation, numSanityValSteps > 0, !resumed {
            isSanityChecking = true
            try hook { try $0.onSanityCheckStart(self, module) }
            _ = try runEvaluation(module, data: validation, stage: .validate, limit: numSanityValSteps, log: false)
            try hook { try $0.onSanityCheckEnd(self, module) }
            isSanityChecking = false
            collector.resetProgressBar()
        }
        module.train()
        try hook { try $0.onTrainStart(self, module) }
        while currentEpoch < maxEpochs && !shouldStop && !reachedMaxSteps {
            let completed = try runTrainingEpoch(module, train: train)
            if !completed { break }  // stopped mid-epoch (maxSteps, maxTime, a callback): no validation or epoch end
            if let validation, (currentEpoch + 1) % checkValEveryNEpochs == 0 {
                _ = try runEvaluation(module, data: validation, stage: .validate,
                                      limit: limitValBatches.map { $0.apply(to: validation.batchesPerEpoch) }, log: true)
                module.train()
                runningStage = .fit
            }
            try reduceEpochMetrics()
            let epochValues = collector.takeEpochValues()
            try record(epochValues.reported, aliases: epochValues.aliases)
            for configured in module.optimizers where configured.interval == .epoch { try stepScheduler(of: configured) }
            resumePosition = (currentEpoch + 1, 0)
            try hook { try $0.onTrainEpochEnd(self, module) }
            try flushLoggers()
            collector.resetProgressBar()
            currentEpoch += 1
        }
        try hook { try $0.onTrainEnd(self, module) }
        try hook { try $0.onFitEnd(self, module) }
        try hook { try $0.teardown(self, module, stage: .fit) }
    }

    var reachedMaxSteps: Bool { maxSteps.map { globalStep >= $0 } ?? false }

    /// Runs one epoch's batches; returns false when it stopped before the end.
    func runTrainingEpoch(_ module: TrainableModule, train: BatchSource) throws -> Bool {
        try hook { try $0.onTrainEpochStart(self, module) }
        let start = resumePosition.epoch == currentEpoch ? resumePosition.batch : 0
        let iterator = train.throwingBatches(epoch: currentEpoch, startingAt: start)
        var index = start
        while index < trainBatchesPerEpoch, let batch = try iterator.next() {
            batchIndex = index
            try trainingStep(module, batch: batch, index: index)
            index += 1
            if reachedMaxSteps || (maxTime.map { elapsedSeconds >= $0 } ?? false) {
                shouldStop = true
            }
            shouldStop = agreeOnStop(shouldStop)
            if shouldStop { return index >= trainBatchesPerEpoch }
        }
        return true
    }

    func trainingStep(_ module: TrainableModule, batch: Batch, index: Int) throws {
        (module as? LoggingModule)?.currentStage = .fit
        try hook { try $0.onTrainBatchStart(self, module, batch: batch, batchIndex: index) }
        let outputs = try module.forward(batch, stage: .fit)
        guard let loss = outputs.tensorIfPresent("loss") else { throw TrainingError.missingLoss(keys: outputs.keys) }
        guard loss.count == 1 else { throw TrainingError.lossNotAScalar(shape: loss.shape) }
        let value = globalLoss(loss.item())
        let isBoundary = (index + 1) % accumulateGradBatches == 0 || index + 1 == trainBatchesPerEpoch
        if !value.isFinite {
            switch nonFiniteLoss {
            case .stop:
                throw TrainingError.nonFiniteLoss(value: value, epoch: currentEpoch, batchIndex: index, globalStep: globalStep)
            case .skipBatch:
                for configured in module.optimizers { configured.optimizer.zeroGrad() }
                collector.record("train/skipped_batches", 1, onStep: false, onEpoch: true, progressBar: false, batchSize: nil)
                resumePosition = (currentEpoch, index + 1)
                return
            }
        }
        let scaled = accumulateGradBatches > 1 ? loss * (1 / Float(accumulateGradBatches)) : loss
        try hook { try $0.onBeforeBackward(self, module, loss: scaled) }
        if scaled.requiresGrad { backward(scaled, synchronizing: isBoundary) }
        try hook { try $0.onAfterBackward(self, module) }
        collector.record("train/loss", value, onStep: true, onEpoch: true, progressBar: true, batchSize: nil)
        if isBoundary {
            finishGradientSynchronization()
            for configured in module.optimizers {
                try hook { try $0.onBeforeOptimizerStep(self, module, optimizer: configured) }
                clipGradients(configured.parameters)
                configured.optimizer.step()
                try hook { try $0.onAfterOptimizerStep(self, module, optimizer: configured) }
                configured.optimizer.zeroGrad()
                if configured.interval == .step { try stepScheduler(of: configured) }
            }
            globalStep += 1
        }
        resumePosition = (currentEpoch, index + 1)
        // A checkpoint written by the hooks below precedes this step's metrics row.
        stepRowPending = isBoundary && globalStep % logEveryNSteps == 0
        try hook { try $0.onTrainBatchEnd(self, module, outputs: outputs, batch: batch, batchIndex: index) }
        if stepRowPending {
            stepRowPending = false
            try record(collector.takeStepValues(), aliases: [:])
        }
    }

    /// Steps a scheduler, feeding it its monitored metric: this step's logged value, or the
    /// latest one recorded (an epoch mean, a validation result).
    func stepScheduler(of configured: ConfiguredOptimizer) throws {
        guard let scheduler = configured.scheduler else { return }
        guard let monitor = configured.monitor else { return scheduler.step() }
        let current = collector.stepValues
        guard let value = current[monitor] ?? current[monitor + "_step"] ?? callbackMetrics[monitor] else {
            throw TrainingError.invalidConfiguration("the scheduler of optimizer \"\(configured.name)\" monitors \"\(monitor)\", which has not been logged by its \(configured.interval.rawValue) (logged: \(callbackMetrics.keys.sorted().joined(separator: ", ")))")
        }
        scheduler.step(metric: value)
    }

    func clipGradients(_ parameters: [Tensor]) {
        guard let limit = gradientClipValue else { return }
        switch gradientClipAlgorithm {
        case .norm: clipGradientNorm(parameters, maxNorm: limit)
        case .value: clipGradientValue(parameters, maxValue: limit)
        }
    }
}

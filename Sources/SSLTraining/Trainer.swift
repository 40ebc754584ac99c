import Foundation
import SSLNN
import SSLOptim
import SSLTensor

/// Runs the loops, as PyTorch Lightning's `Trainer`: fit (training with periodic validation),
/// validate, test and predict, firing callback hooks in a documented order (see `Callback`),
/// logging to `runs/<name>/version_<n>` (metrics.csv, metrics.jsonl, hparams.json, report.html,
/// checkpoints/), and saving and resuming checkpoints.
///
/// ```swift
/// let trainer = Trainer(maxEpochs: 100, seed: 0, callbacks: [OnlineProbe(...)], name: "simclr")
/// try trainer.fit(module, train: trainLoader, validation: testLoader)
/// try trainer.fit(module, train: trainLoader, validation: testLoader, resumeFrom: "last")
/// ```
///
/// Determinism: the framework's kernels split work statically, so the same seed, data order
/// and thread count give bit-identical results, and a resumed run ends where an uninterrupted
/// one would.
public final class Trainer {
    /// How gradients are clipped before each optimizer step.
    public enum GradientClipAlgorithm: String, Sendable { case norm, value }
    /// What a NaN or infinite loss does.
    public enum NonFiniteLossPolicy: String, Sendable { case stop, skipBatch }
    /// A cap on batches per epoch: a count or a fraction of the epoch.
    public enum BatchLimit: Sendable, Equatable, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral {
        case count(Int)
        case fraction(Double)
        public init(integerLiteral value: Int) { self = .count(value) }
        public init(floatLiteral value: Double) { self = .fraction(value) }
        func apply(to total: Int) -> Int {
            switch self {
            case .count(let count): return Swift.min(total, Swift.max(0, count))
            case .fraction(let fraction): return Swift.min(total, Swift.max(0, Int((Double(total) * fraction).rounded(.down))))
            }
        }
    }
    /// Where `fit` resumes from: the newest `last` checkpoint of this run name, or a file.
    public enum ResumeSource: Sendable, Equatable, ExpressibleByStringLiteral {
        case last
        case path(String)
        public init(stringLiteral value: String) { self = value == "last" ? .last : .path(value) }
    }

    // MARK: Configuration

    public let maxEpochs: Int
    public let maxSteps: Int?
    public let accumulateGradBatches: Int
    public let gradientClipValue: Float?
    public let gradientClipAlgorithm: GradientClipAlgorithm
    public let checkValEveryNEpochs: Int
    public let limitTrainBatches: BatchLimit?
    public let limitValBatches: BatchLimit?
    public let numSanityValSteps: Int
    public let fastDevRun: Int
    public let seed: UInt64
    public let maxTime: Double?
    public let logEveryNSteps: Int
    public let rootDirectory: String
    public let name: String
    public let version: Int?
    public let enableProgressBar: Bool
    public let enableCheckpointing: Bool
    public let enableLogging: Bool
    public let nonFiniteLoss: NonFiniteLossPolicy
    /// Callbacks, in the order their hooks run.
    public var callbacks: [Callback]
    /// Extra hyperparameters written to hparams.json and checkpoints.
    public var hyperparameters: [String: String]
    /// Sections the HTML report shows after the charts (recipes add an embedding map).
    public var reportSections: [(title: String, svg: String)] = []

    // MARK: State visible to callbacks

    public private(set) var currentEpoch = 0
    /// Optimizer steps taken in this fit (the x axis of step logs).
    public private(set) var globalStep = 0
    /// The index of the batch being processed within its epoch.
    public private(set) var batchIndex = 0
    /// Set by a callback (early stopping) to end the fit after the current step or epoch.
    public var shouldStop = false
    public private(set) var isSanityChecking = false
    public private(set) var runningStage: Stage?
    /// The run directory of the current or last fit.
    public private(set) var runDirectory: String?
    /// The latest value of every logged metric (epoch means under their plain names too).
    public private(set) var callbackMetrics: [String: Float] = [:]
    /// Every row logged in this fit (the report's data).
    public private(set) var metricsHistory: [MetricRecord] = []
    /// Batches per training epoch after limits.
    public private(set) var trainBatchesPerEpoch = 0
    /// Optimizer steps the whole fit will take (the cosine schedule's length).
    public private(set) var totalOptimizerSteps = 0
    /// The loggers of the current fit.
    public private(set) var loggers: [MetricsLogger] = []
    /// The trainer's own seeded generator (saved in checkpoints).
    public var generator: RandomGenerator
    /// Seconds spent in the current fit (including resumed time).
    public var elapsedSeconds: Double { priorSeconds + (fitStart.map { Date().timeIntervalSince($0) } ?? 0) }
    /// The progress-bar values logged so far in this epoch.
    public var progressBarMetrics: [String: Float] { collector.progressBarValues }

    private var collector = MetricCollector()
    private var activeModule: TrainableModule?
    private var activeCallbacks: [Callback] = []
    private var resumePosition = (epoch: 0, batch: 0)
    private var fitStart: Date?
    private var priorSeconds = 0.0

    public init(
        maxEpochs: Int = 1000, maxSteps: Int? = nil, accumulateGradBatches: Int = 1,
        gradientClipValue: Float? = nil, gradientClipAlgorithm: GradientClipAlgorithm = .norm,
        checkValEveryNEpochs: Int = 1, limitTrainBatches: BatchLimit? = nil, limitValBatches: BatchLimit? = nil,
        numSanityValSteps: Int = 2, fastDevRun: Int = 0, seed: UInt64 = 0, maxTime: Double? = nil,
        logEveryNSteps: Int = 50, callbacks: [Callback] = [], rootDirectory: String = "runs", name: String = "default",
        version: Int? = nil, enableProgressBar: Bool = true, enableCheckpointing: Bool = true, enableLogging: Bool = true,
        nonFiniteLoss: NonFiniteLossPolicy = .stop, hyperparameters: [String: String] = [:]
    ) {
        precondition(maxEpochs >= 0, "Trainer: maxEpochs must be non-negative, got \(maxEpochs)")
        precondition(accumulateGradBatches >= 1, "Trainer: accumulateGradBatches must be at least 1, got \(accumulateGradBatches)")
        precondition(checkValEveryNEpochs >= 1, "Trainer: checkValEveryNEpochs must be at least 1, got \(checkValEveryNEpochs)")
        precondition(logEveryNSteps >= 1, "Trainer: logEveryNSteps must be at least 1, got \(logEveryNSteps)")
        precondition(numSanityValSteps >= 0 && fastDevRun >= 0, "Trainer: numSanityValSteps and fastDevRun must be non-negative")
        precondition(maxSteps.map { $0 >= 0 } ?? true, "Trainer: maxSteps must be non-negative")
        self.maxEpochs = fastDevRun > 0 ? 1 : maxEpochs
        self.maxSteps = maxSteps
        self.accumulateGradBatches = accumulateGradBatches
        self.gradientClipValue = gradientClipValue
        self.gradientClipAlgorithm = gradientClipAlgorithm
        self.checkValEveryNEpochs = checkValEveryNEpochs
        self.limitTrainBatches = fastDevRun > 0 ? .count(fastDevRun) : limitTrainBatches
        self.limitValBatches = fastDevRun > 0 ? .count(fastDevRun) : limitValBatches
        self.numSanityValSteps = fastDevRun > 0 ? 0 : numSanityValSteps
        self.fastDevRun = fastDevRun
        self.seed = seed
        self.maxTime = maxTime
        self.logEveryNSteps = fastDevRun > 0 ? 1 : logEveryNSteps
        self.callbacks = callbacks
        self.rootDirectory = rootDirectory
        self.name = name
        self.version = version
        self.enableProgressBar = enableProgressBar
        self.enableCheckpointing = fastDevRun > 0 ? false : enableCheckpointing
        self.enableLogging = fastDevRun > 0 ? false : enableLogging
        self.nonFiniteLoss = nonFiniteLoss
        self.hyperparameters = hyperparameters
        self.generator = RandomGenerator(seed: seed)
    }

    /// Hyperparameters of the trainer itself, as written to hparams.json.
    public var trainerHyperparameters: [String: String] {
        var values: [String: String] = [
            "max_epochs": String(maxEpochs), "accumulate_grad_batches": String(accumulateGradBatches),
            "check_val_every_n_epoch": String(checkValEveryNEpochs), "num_sanity_val_steps": String(numSanityValSteps),
            "seed": String(seed), "log_every_n_steps": String(logEveryNSteps), "gradient_clip_algorithm": gradientClipAlgorithm.rawValue,
        ]
        if let maxSteps { values["max_steps"] = String(maxSteps) }
        if let gradientClipValue { values["gradient_clip_val"] = String(gradientClipValue) }
        if let maxTime { values["max_time_seconds"] = String(maxTime) }
        return values.merging(hyperparameters) { _, user in user }
    }

    // MARK: - Fit

    /// Trains `module` on `train`, validating on `validation` every `checkValEveryNEpochs`
    /// epochs, optionally resuming from a checkpoint.
    public func fit(_ module: TrainableModule, train: BatchSource, validation: BatchSource? = nil,
                    resumeFrom: ResumeSource? = nil) throws {
        guard module.isTrainable else { throw TrainingError.notTrainable }
        let checkpoint = try resumeFrom.map { try locateCheckpoint($0) }
        let loaded = try checkpoint.map { try Checkpoint.read(from: $0) }
        try prepareRunDirectory(resumingFrom: checkpoint)

        trainBatchesPerEpoch = limitTrainBatches?.apply(to: train.batchesPerEpoch) ?? train.batchesPerEpoch
        let stepsPerEpoch = (trainBatchesPerEpoch + accumulateGradBatches - 1) / accumulateGradBatches
        totalOptimizerSteps = maxSteps.map { Swift.min($0, maxEpochs * stepsPerEpoch) } ?? maxEpochs * stepsPerEpoch
        module.configureOptimizers(totalSteps: totalOptimizerSteps)

        currentEpoch = 0
        globalStep = 0
        batchIndex = 0
        shouldStop = false
        priorSeconds = 0
        callbackMetrics = [:]
        metricsHistory = []
        resumePosition = (0, 0)
        collector = MetricCollector()
        activeModule = module
        activeCallbacks = assembleCallbacks(for: module)
        module.logSink = collector
        defer {
            module.logSink = nil
            activeModule = nil
            runningStage = nil
            fitStart = nil
        }

        if let loaded { try restore(loaded, into: module) }
        if enableLogging, let runDirectory {
            loggers = [try CSVLogger(directory: runDirectory), JSONLinesLogger(directory: runDirectory)]
            metricsHistory = (loggers.first as? CSVLogger)?.records ?? []
            for logger in loggers { try logger.logHyperparameters(trainerHyperparameters) }
        } else {
            loggers = []
        }
        fitStart = Date()

        do {
            try runFit(module, train: train, validation: validation, resumed: loaded != nil)
        } catch {
            for callback in activeCallbacks { callback.onException(self, module, error: error) }
            try? flushLoggers()
            throw error
        }
        try flushLoggers()
        try writeReport()
    }

    private func runFit(_ module: TrainableModule, train: BatchSource, validation: BatchSource?, resumed: Bool) throws {
        runningStage = .fit
        hook { $0.setup(self, module, stage: .fit) }
        hook { $0.onFitStart(self, module) }
        if let validation, numSanityValSteps > 0, !resumed {
            isSanityChecking = true
            hook { $0.onSanityCheckStart(self, module) }
            _ = try runEvaluation(module, data: validation, stage: .validate, limit: numSanityValSteps, log: false)
            hook { $0.onSanityCheckEnd(self, module) }
            isSanityChecking = false
            collector.resetProgressBar()
        }
        module.train()
        hook { $0.onTrainStart(self, module) }
        while currentEpoch < maxEpochs && !shouldStop && !reachedMaxSteps {
            let completed = try runTrainingEpoch(module, train: train)
            if !completed { break }  // stopped mid-epoch (maxSteps, maxTime, a callback): no validation or epoch end
            if let validation, (currentEpoch + 1) % checkValEveryNEpochs == 0 {
                _ = try runEvaluation(module, data: validation, stage: .validate,
                                      limit: limitValBatches.map { $0.apply(to: validation.batchesPerEpoch) }, log: true)
                module.train()
                runningStage = .fit
            }
            let epochValues = collector.takeEpochValues()
            try record(epochValues.reported, aliases: epochValues.aliases)
            resumePosition = (currentEpoch + 1, 0)
            hook { $0.onTrainEpochEnd(self, module) }
            try flushLoggers()
            collector.resetProgressBar()
            currentEpoch += 1
        }
        hook { $0.onTrainEnd(self, module) }
        hook { $0.onFitEnd(self, module) }
        hook { $0.teardown(self, module, stage: .fit) }
    }

    private var reachedMaxSteps: Bool { maxSteps.map { globalStep >= $0 } ?? false }

    /// Runs one epoch's batches; returns false when it stopped before the end.
    private func runTrainingEpoch(_ module: TrainableModule, train: BatchSource) throws -> Bool {
        hook { $0.onTrainEpochStart(self, module) }
        let start = resumePosition.epoch == currentEpoch ? resumePosition.batch : 0
        let iterator = train.batches(epoch: currentEpoch, startingAt: start)
        var index = start
        while index < trainBatchesPerEpoch, let batch = iterator.next() {
            batchIndex = index
            try trainingStep(module, batch: batch, index: index)
            index += 1
            if reachedMaxSteps || (maxTime.map { elapsedSeconds >= $0 } ?? false) {
                shouldStop = true
            }
            if shouldStop { return index >= trainBatchesPerEpoch }
        }
        return true
    }

    private func trainingStep(_ module: TrainableModule, batch: Batch, index: Int) throws {
        module.currentStage = .fit
        hook { $0.onTrainBatchStart(self, module, batch: batch, batchIndex: index) }
        let outputs = try module.forward(batch, stage: .fit)
        guard let loss = outputs.tensorIfPresent("loss") else { throw TrainingError.missingLoss(keys: outputs.keys) }
        precondition(loss.count == 1, "fit: \"loss\" must hold one value, got shape \(loss.shape)")
        let value = loss.item()
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
        hook { $0.onBeforeBackward(self, module, loss: scaled) }
        if scaled.requiresGrad { scaled.backward() }
        hook { $0.onAfterBackward(self, module) }
        collector.record("train/loss", value, onStep: true, onEpoch: true, progressBar: true, batchSize: nil)
        if isBoundary {
            for configured in module.optimizers {
                hook { $0.onBeforeOptimizerStep(self, module, optimizer: configured) }
                clipGradients(configured.parameters)
                configured.optimizer.step()
                hook { $0.onAfterOptimizerStep(self, module, optimizer: configured) }
                configured.optimizer.zeroGrad()
                configured.scheduler?.step()
            }
            globalStep += 1
        }
        resumePosition = (currentEpoch, index + 1)
        hook { $0.onTrainBatchEnd(self, module, outputs: outputs, batch: batch, batchIndex: index) }
        if isBoundary && globalStep % logEveryNSteps == 0 {
            try record(collector.takeStepValues(), aliases: [:])
        }
    }

    private func clipGradients(_ parameters: [Tensor]) {
        guard let limit = gradientClipValue else { return }
        switch gradientClipAlgorithm {
        case .norm: clipGradientNorm(parameters, maxNorm: limit)
        case .value: clipGradientValue(parameters, maxValue: limit)
        }
    }

    // MARK: - Evaluation loops

    /// Runs the validation loop once and returns the epoch means of what was logged.
    @discardableResult
    public func validate(_ module: TrainableModule, data: BatchSource) throws -> [String: Float] {
        try standalone(module, stage: .validate, data: data)
    }

    /// Runs the test loop once and returns the epoch means of what was logged.
    @discardableResult
    public func test(_ module: TrainableModule, data: BatchSource) throws -> [String: Float] {
        try standalone(module, stage: .test, data: data)
    }

    /// Runs the forward closure in `.predict` on every batch (evaluation mode, no gradients)
    /// and returns the outputs.
    public func predict(_ module: TrainableModule, data: BatchSource) throws -> [Batch] {
        let callbacks = callbacks + module.providedCallbacks
        activeCallbacks = callbacks
        activeModule = module
        runningStage = .predict
        defer { activeModule = nil; runningStage = nil }
        module.eval()
        module.currentStage = .predict
        hook { $0.onPredictStart(self, module) }
        var outputs: [Batch] = []
        let iterator = data.batches(epoch: 0, startingAt: 0)
        var index = 0
        while let batch = iterator.next() {
            let output = try noGrad { try module.forward(batch, stage: .predict) }
            hook { $0.onPredictBatchEnd(self, module, outputs: output, batch: batch, batchIndex: index) }
            outputs.append(output)
            index += 1
        }
        hook { $0.onPredictEnd(self, module) }
        return outputs
    }

    private func standalone(_ module: TrainableModule, stage: Stage, data: BatchSource) throws -> [String: Float] {
        activeCallbacks = callbacks + module.providedCallbacks
        activeModule = module
        collector = MetricCollector()
        module.logSink = collector
        defer { module.logSink = nil; activeModule = nil; runningStage = nil }
        return try runEvaluation(module, data: data, stage: stage,
                                 limit: limitValBatches.map { $0.apply(to: data.batchesPerEpoch) }, log: false)
    }

    /// One pass over `data` in evaluation mode without gradients; returns the logged epoch means.
    private func runEvaluation(_ module: TrainableModule, data: BatchSource, stage: Stage, limit: Int?, log: Bool) throws
        -> [String: Float]
    {
        runningStage = stage
        module.eval()
        module.currentStage = stage
        let validating = stage == .validate
        hook { validating ? $0.onValidationStart(self, module) : $0.onTestStart(self, module) }
        if validating { hook { $0.onValidationEpochStart(self, module) } }
        let count = Swift.min(limit ?? data.batchesPerEpoch, data.batchesPerEpoch)
        let iterator = data.batches(epoch: 0, startingAt: 0)
        var index = 0
        while index < count, let batch = iterator.next() {
            if validating { hook { $0.onValidationBatchStart(self, module, batch: batch, batchIndex: index) } }
            let output = try noGrad { try module.forward(batch, stage: stage) }
            if validating {
                hook { $0.onValidationBatchEnd(self, module, outputs: output, batch: batch, batchIndex: index) }
            } else {
                hook { $0.onTestBatchEnd(self, module, outputs: output, batch: batch, batchIndex: index) }
            }
            index += 1
        }
        if validating { hook { $0.onValidationEpochEnd(self, module) } }
        let values = collector.takeEpochValues()
        if log {
            try record(values.reported, aliases: values.aliases)
        } else if !isSanityChecking {
            for (key, value) in values.reported { callbackMetrics[key] = value }
            for (key, value) in values.aliases { callbackMetrics[key] = value }
        }
        hook { validating ? $0.onValidationEnd(self, module) : $0.onTestEnd(self, module) }
        var result = values.reported
        for (key, value) in values.aliases { result[key] = value }
        return result
    }

    // MARK: - Logging

    /// Logs a value from a callback, like `SSLModule.log` from the forward closure.
    public func log(_ name: String, _ value: Float, onStep: Bool = true, onEpoch: Bool = false,
                    progressBar: Bool = false, batchSize: Int? = nil) {
        collector.record(name, value, onStep: onStep, onEpoch: onEpoch, progressBar: progressBar, batchSize: batchSize)
    }

    /// Sends values to the loggers (tagged with the current step and epoch) and records them
    /// for monitors and the report.
    public func record(_ values: [String: Float], aliases: [String: Float] = [:]) throws {
        for (key, value) in aliases { callbackMetrics[key] = value }
        guard !values.isEmpty else { return }
        for (key, value) in values { callbackMetrics[key] = value }
        metricsHistory.append(MetricRecord(step: globalStep, epoch: currentEpoch, values: values))
        for logger in loggers { try logger.logMetrics(values, step: globalStep, epoch: currentEpoch) }
    }

    private func flushLoggers() throws {
        for logger in loggers { try logger.flush() }
    }

    private func writeReport() throws {
        guard enableLogging, let runDirectory else { return }
        var report = HTMLReport(title: "\(name) — \((runDirectory as NSString).lastPathComponent)",
                                records: metricsHistory, hyperparameters: trainerHyperparameters)
        for section in reportSections { report.addSection(title: section.title, svg: section.svg) }
        try report.write(to: (runDirectory as NSString).appendingPathComponent("report.html"))
    }

    // MARK: - Callbacks

    private func assembleCallbacks(for module: TrainableModule) -> [Callback] {
        var result = callbacks
        if enableProgressBar && !result.contains(where: { $0 is ProgressBar }) { result.append(ProgressBar()) }
        if enableCheckpointing && !result.contains(where: { $0 is ModelCheckpoint }) { result.append(ModelCheckpoint()) }
        result += module.providedCallbacks
        // Checkpoints run after every other callback, so a step's checkpoint holds everything
        // that step changed (for example the EMA teacher's update).
        return result.filter { !($0 is ModelCheckpoint) } + result.filter { $0 is ModelCheckpoint }
    }

    /// The callbacks active in the current loop: the configured ones in order, the automatic
    /// progress bar, the components' callbacks, then every `ModelCheckpoint`.
    public var activeCallbackList: [Callback] { activeCallbacks }

    private func hook(_ body: (Callback) -> Void) {
        for callback in activeCallbacks { body(callback) }
        if let module = activeModule as? HookProviding {
            for callback in module.moduleHooks { body(callback) }
        }
    }

    // MARK: - Run directory and checkpoints

    private func prepareRunDirectory(resumingFrom checkpoint: String?) throws {
        let manager = FileManager.default
        guard enableLogging || enableCheckpointing else {
            runDirectory = nil  // nothing is written (fast dev run)
            return
        }
        if let checkpoint {
            // Continue in the run directory the checkpoint belongs to (…/version_n/checkpoints/x).
            let directory = ((checkpoint as NSString).deletingLastPathComponent as NSString)
            if directory.lastPathComponent == "checkpoints" {
                runDirectory = directory.deletingLastPathComponent
                return
            }
        }
        let base = (rootDirectory as NSString).appendingPathComponent(name)
        let number = version ?? nextVersion(in: base)
        let directory = (base as NSString).appendingPathComponent("version_\(number)")
        do {
            try manager.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw TrainingError.badFile(path: directory, problem: "cannot create the run directory: \(error.localizedDescription)")
        }
        runDirectory = directory
    }

    private func nextVersion(in base: String) -> Int {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: base)) ?? []
        let numbers = entries.compactMap { $0.hasPrefix("version_") ? Int($0.dropFirst("version_".count)) : nil }
        return (numbers.max() ?? -1) + 1
    }

    private func locateCheckpoint(_ source: ResumeSource) throws -> String {
        switch source {
        case .path(let path):
            guard FileManager.default.fileExists(atPath: path) else { throw TrainingError.checkpointNotFound("\(path) does not exist") }
            return path
        case .last:
            let base = (rootDirectory as NSString).appendingPathComponent(name)
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: base)) ?? []
            let versions = entries.compactMap { $0.hasPrefix("version_") ? Int($0.dropFirst("version_".count)) : nil }.sorted(by: >)
            for number in versions {
                let candidate = "\(base)/version_\(number)/checkpoints/last.safetensors"
                if FileManager.default.fileExists(atPath: candidate) { return candidate }
            }
            throw TrainingError.checkpointNotFound("no \(base)/version_*/checkpoints/last.safetensors (train once with checkpointing enabled, or pass a path)")
        }
    }

    /// Writes a checkpoint of the running fit to `path` (atomically).
    public func saveCheckpoint(to path: String) throws {
        guard let module = activeModule else {
            preconditionFailure("Trainer.saveCheckpoint: no fit is running")
        }
        var optimizers: [String: [String: Tensor]] = [:]
        var schedulers: [String: [String: Float]] = [:]
        for configured in module.optimizers {
            optimizers[configured.name] = configured.optimizer.stateDict()
            if let scheduler = configured.scheduler { schedulers[configured.name] = scheduler.stateDict() }
        }
        var callbackTensors: [String: [String: Tensor]] = [:]
        var callbackValues: [String: [String: String]] = [:]
        for callback in activeCallbacks + ((module as? HookProviding)?.moduleHooks ?? []) {
            let state = callback.stateDict()
            if !state.tensors.isEmpty { callbackTensors[callback.stateKey] = state.tensors }
            if !state.values.isEmpty { callbackValues[callback.stateKey] = state.values }
        }
        let metadata = CheckpointMetadata(
            epoch: resumePosition.epoch, batchIndex: resumePosition.batch, globalStep: globalStep,
            elapsedSeconds: elapsedSeconds, generatorState: generator.state, schedulerStates: schedulers,
            callbackValues: callbackValues, integerKeys: [], hyperparameters: trainerHyperparameters,
            callbackMetrics: callbackMetrics.filter { $0.value.isFinite })
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty { try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        try Checkpoint(model: module.stateDict(), optimizers: optimizers, callbacks: callbackTensors, metadata: metadata)
            .write(to: path)
    }

    private func restore(_ checkpoint: Checkpoint, into module: TrainableModule) throws {
        try module.loadStateDict(checkpoint.model, strict: true)
        for configured in module.optimizers {
            if let state = checkpoint.optimizers[configured.name] { try configured.optimizer.loadStateDict(state) }
            if let scheduler = configured.scheduler, let state = checkpoint.metadata.schedulerStates[configured.name] {
                try scheduler.loadStateDict(state)
            }
        }
        for callback in activeCallbacks + ((module as? HookProviding)?.moduleHooks ?? []) {
            let state = CallbackState(tensors: checkpoint.callbacks[callback.stateKey] ?? [:],
                                      values: checkpoint.metadata.callbackValues[callback.stateKey] ?? [:])
            if !state.isEmpty { try callback.loadStateDict(state) }
        }
        let metadata = checkpoint.metadata
        guard metadata.generatorState.count == 4, metadata.epoch >= 0, metadata.batchIndex >= 0, metadata.globalStep >= 0 else {
            throw TrainingError.badFile(path: "checkpoint", problem: "has inconsistent trainer metadata (epoch \(metadata.epoch), batch \(metadata.batchIndex), step \(metadata.globalStep), \(metadata.generatorState.count)-word generator state)")
        }
        resumePosition = (metadata.epoch, metadata.batchIndex)
        currentEpoch = metadata.epoch
        globalStep = metadata.globalStep
        priorSeconds = metadata.elapsedSeconds
        generator = RandomGenerator(state: metadata.generatorState)
        callbackMetrics = metadata.callbackMetrics
    }
}

/// A module that carries its own hooks (run after the Trainer's callbacks).
public protocol HookProviding: AnyObject {
    var moduleHooks: [Callback] { get }
}

extension SSLModule: HookProviding {
    public var moduleHooks: [Callback] { hooks }
}

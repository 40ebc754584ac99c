import Foundation
import SSLNN
import SSLDistributed
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
    /// One process, or data parallel over a communicator's ranks.
    public let strategy: TrainingStrategy
    /// The strategy's communicator (world size 1 for a single process).
    public let communicator: any Communicator
    /// Callbacks, in the order their hooks run.
    public var callbacks: [Callback]
    /// Extra hyperparameters written to hparams.json and checkpoints.
    public var hyperparameters: [String: String]

    // MARK: State visible to callbacks

    public internal(set) var currentEpoch = 0
    /// Optimizer steps taken in this fit (the x axis of step logs).
    public internal(set) var globalStep = 0
    /// The index of the batch being processed within its epoch.
    public internal(set) var batchIndex = 0
    /// Set by a callback (early stopping) to end the fit after the current step or epoch.
    public var shouldStop = false
    public internal(set) var isSanityChecking = false
    public internal(set) var runningStage: Stage?
    /// The run directory of the current or last fit.
    public internal(set) var runDirectory: String?
    /// The latest value of every logged metric (epoch means under their plain names too), as
    /// Lightning's `callback_metrics`; a callback may add a value for monitors only.
    public var callbackMetrics: [String: Float] = [:]
    /// Every row logged in this fit (the report's data).
    public internal(set) var metricsHistory: [MetricRecord] = []
    /// Batches per training epoch after limits.
    public internal(set) var trainBatchesPerEpoch = 0
    /// Optimizer steps the whole fit will take (the cosine schedule's length).
    public internal(set) var totalOptimizerSteps = 0
    /// The loggers of the current fit.
    public internal(set) var loggers: [MetricsLogger] = []
    /// The trainer's own seeded generator (saved in checkpoints).
    public var generator: RandomGenerator
    /// Seconds spent in the current fit (including resumed time).
    public var elapsedSeconds: Double { priorSeconds + (fitStart.map { Date().timeIntervalSince($0) } ?? 0) }
    /// The progress-bar values logged so far in this epoch.
    public var progressBarMetrics: [String: Float] { collector.progressBarValues }
    /// The ranks the validation batches of the current fit are split over: in a data-parallel
    /// fit every rank evaluates its part of each validation batch (see `TrainingStrategy`), so
    /// a callback that needs the whole validation set at once (RankMe) gathers over this; a
    /// single process otherwise (one process, a standalone `validate`, or a validation source
    /// every rank evaluates whole). Metrics logged with their `batchSize` need no gathering:
    /// the trainer reduces them over the ranks, weighted by samples.
    ///
    /// ```swift
    /// let everyone = trainer.evaluationCommunicator.allGatherRows(localEmbeddings)
    /// ```
    public internal(set) var evaluationCommunicator: any Communicator = SingleProcessCommunicator()

    var collector = MetricCollector()
    var activeModule: TrainableModule?
    var activeCallbacks: [Callback] = []
    var resumePosition = (epoch: 0, batch: 0)
    /// Whether the current step's metrics row is still to be logged (see `CheckpointMetadata`).
    var stepRowPending = false
    var fitStart: Date?
    var priorSeconds = 0.0
    /// Averages gradients over the ranks in a data-parallel fit.
    var gradientSynchronizer: GradientSynchronizer?

    public init(
        maxEpochs: Int = 1000, maxSteps: Int? = nil, accumulateGradBatches: Int = 1,
        gradientClipValue: Float? = nil, gradientClipAlgorithm: GradientClipAlgorithm = .norm,
        checkValEveryNEpochs: Int = 1, limitTrainBatches: BatchLimit? = nil, limitValBatches: BatchLimit? = nil,
        numSanityValSteps: Int = 2, fastDevRun: Int = 0, seed: UInt64 = 0, maxTime: Double? = nil,
        logEveryNSteps: Int = 50, callbacks: [Callback] = [], rootDirectory: String = "runs", name: String = "default",
        version: Int? = nil, enableProgressBar: Bool = true, enableCheckpointing: Bool = true, enableLogging: Bool = true,
        nonFiniteLoss: NonFiniteLossPolicy = .stop, hyperparameters: [String: String] = [:],
        strategy: TrainingStrategy = .singleProcess
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
        self.strategy = strategy
        self.communicator = strategy.communicator
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

    // MARK: - Logging

    /// Logs a value from a callback, like `SSLModule.log` from the forward closure.
    public func log(_ name: String, _ value: Float, onStep: Bool = true, onEpoch: Bool = false,
                    progressBar: Bool = false, batchSize: Int? = nil) {
        collector.record(name, value, onStep: onStep, onEpoch: onEpoch, progressBar: progressBar, batchSize: batchSize)
    }

    /// Sends values to the loggers (tagged with the current step and epoch) and records them
    /// for monitors and the report.
    func record(_ values: [String: Float], aliases: [String: Float] = [:]) throws {
        for (key, value) in aliases { callbackMetrics[key] = value }
        guard !values.isEmpty else { return }
        for (key, value) in values { callbackMetrics[key] = value }
        metricsHistory.append(MetricRecord(step: globalStep, epoch: currentEpoch, values: values))
        for logger in loggers { try logger.logMetrics(values, step: globalStep, epoch: currentEpoch) }
    }

    func flushLoggers() throws {
        for logger in loggers { try logger.flush() }
    }

    // MARK: - Callbacks

    /// The callbacks a loop over `module` runs, in the order their hooks fire. This is the one
    /// place the list is put together:
    ///
    /// 1. the components' own callbacks (`ProvidesCallbacks`, such as an EMA teacher's update),
    ///    so everything after them sees the state the step left (the updated teacher);
    /// 2. `callbacks`, in list order;
    /// 3. the module's `hooks` (`SSLModule.hooks`), in order;
    /// 4. the automatic ones not already given: a `ProgressBar` (with `enableProgressBar`), an
    ///    `HTMLReportWriter` (with `enableLogging`) and, with `enableCheckpointing`, a
    ///    `ModelCheckpoint`;
    /// 5. every `ModelCheckpoint`, given or automatic, moved to the end, so a checkpoint holds
    ///    everything its step changed;
    /// 6. data parallel, on ranks other than 0: no `ProgressBar`, `HTMLReportWriter` or
    ///    `ModelCheckpoint` at all (only rank 0 shows progress and writes files).
    ///
    /// To change the order, turn a component's automatic callback off (for example
    /// `TeacherStudentModule(automaticUpdates: false)`) and put its callback where it should run,
    /// or give a `ProgressBar` or `HTMLReportWriter` at the position you want. Automatic
    /// callbacks are made afresh for each loop.
    public func callbackList(for module: TrainableModule) -> [Callback] {
        var result = module.componentCallbacks + callbacks + module.hooks
        if !communicator.isRoot {  // data parallel: only rank 0 shows progress and writes files
            result = result.filter { !($0 is ProgressBar || $0 is HTMLReportWriter || $0 is ModelCheckpoint) }
            return result
        }
        if enableProgressBar && !result.contains(where: { $0 is ProgressBar }) { result.append(ProgressBar()) }
        if enableLogging && !result.contains(where: { $0 is HTMLReportWriter }) { result.append(HTMLReportWriter()) }
        if enableCheckpointing && !result.contains(where: { $0 is ModelCheckpoint }) { result.append(ModelCheckpoint()) }
        return result.filter { !($0 is ModelCheckpoint) } + result.filter { $0 is ModelCheckpoint }
    }

    func hook(_ body: (Callback) throws -> Void) throws {
        for callback in activeCallbacks { try body(callback) }
    }
}

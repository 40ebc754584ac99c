import SSLNN
import SSLOptim
import SSLTensor

/// What the `Trainer` and callbacks see of a module, whatever its components type: its named
/// parts, modes, state, optimizers and logging.
public protocol TrainableModule: AnyObject {
    /// The component modules by name (`backbone`, `projector`, …).
    var componentModules: [(name: String, module: Module)] { get }
    /// Every parameter under `component.dotted.name`.
    func namedParameters() -> [(name: String, tensor: Tensor)]
    /// Parameters and buffers, keyed as `namedParameters()`.
    func stateDict() -> StateDict
    /// Loads parameters and buffers (strict by default).
    @discardableResult
    func loadStateDict(_ state: StateDict, strict: Bool) throws -> StateDictMismatch
    /// Training mode for every component.
    func train()
    /// Evaluation mode for every component.
    func eval()
    /// Runs the user's forward closure.
    func forward(_ batch: Batch, stage: Stage) throws -> Batch
    /// The optimizers and their schedulers, built by `configureOptimizers(totalSteps:)`.
    var optimizers: [ConfiguredOptimizer] { get }
    /// Builds the optimizers for a fit of `totalSteps` optimizer steps (empty when the module
    /// is evaluation-only).
    func configureOptimizers(totalSteps: Int)
    /// Whether the module has optimizers at all (false: evaluation-only).
    var isTrainable: Bool { get }
    /// The callbacks the components ask for (for example an EMA teacher's update), which run
    /// first (see `Trainer.callbackList(for:)`).
    var componentCallbacks: [Callback] { get }
    /// The module's own hooks, which run after the Trainer's `callbacks`.
    var hooks: [Callback] { get }
}

/// A module whose `log` calls the Trainer collects while a loop runs (the Trainer's plumbing,
/// not public API).
protocol LoggingModule: AnyObject {
    /// Where `log` sends values while a loop runs (set by the Trainer).
    var logSink: LogSink? { get set }
    /// The stage of the loop now running (decides `log`'s defaults).
    var currentStage: Stage { get set }
}

/// A component that wants callbacks added to every fit it takes part in (the Trainer asks
/// each component module). `TeacherStudentModule` uses this for its EMA update.
public protocol ProvidesCallbacks: AnyObject {
    /// The callbacks to add.
    var callbacks: [Callback] { get }
    /// Whether the Trainer adds them automatically (a component can be told not to).
    var addsCallbacksAutomatically: Bool { get }
}

/// One optimizer of a module with its scheduler and the name it is known by.
public final class ConfiguredOptimizer {
    public let name: String
    public let optimizer: Optimizer
    public let scheduler: LearningRateScheduler?
    /// When the scheduler is stepped.
    public let interval: SchedulerInterval
    /// The logged metric the scheduler is fed at each of its steps (nil: none).
    public let monitor: String?
    /// The parameters it updates.
    public var parameters: [Tensor] { optimizer.namedParameters.map(\.tensor) }

    public init(name: String, optimizer: Optimizer, scheduler: LearningRateScheduler?, interval: SchedulerInterval = .step,
                monitor: String? = nil) {
        self.name = name
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.interval = interval
        self.monitor = monitor
    }
}

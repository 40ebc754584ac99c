import SSLOptim
import SSLTensor

/// How a module builds one optimizer and its schedule: which components it covers, the
/// optimizer, and the learning-rate schedule over the fit's optimizer steps.
///
/// The default (`.adamW()`) is AdamW with PyTorch's defaults (lr 1e-3, betas 0.9/0.999,
/// eps 1e-8, weight decay 1e-2) and cosine annealing to 0 over all optimizer steps of the fit,
/// stepped every optimizer step, as stable-ssl's `Module`. Only parameters that require
/// gradients at configuration time are included (a frozen backbone or an EMA teacher is left
/// out).
///
/// ```swift
/// let module = SSLModule(parts, optimizer: .adamW(learningRate: 2e-3, weightDecay: 1e-4)) { … }
/// let twoOptimizers = SSLModule(parts, optimizers: [
///     .sgd(learningRate: 0.1, components: ["backbone"]),
///     .adamW(learningRate: 1e-3, components: ["projector"]),
/// ]) { … }
/// ```
/// When a learning-rate scheduler is stepped (Lightning's `interval`).
public enum SchedulerInterval: String, Sendable {
    /// After every optimizer step.
    case step
    /// At the end of every training epoch, after validation.
    case epoch
}

public struct OptimizerSpec {
    /// How the learning rate moves over a fit.
    public enum Schedule {
        /// Cosine annealing from the base rate to `minimumLearningRate` over all optimizer steps.
        case cosine(minimumLearningRate: Float)
        /// Linear warm-up from `startFactor`·lr over `warmupFraction` of the steps, then cosine to
        /// `finalLearningRate`.
        case warmupCosine(warmupFraction: Double, startFactor: Float, finalLearningRate: Float)
        /// The base rate throughout.
        case constant
        /// Any scheduler, built from the optimizer and the total number of optimizer steps, as
        /// Lightning's `lr_scheduler_config`: stepped after every optimizer step (`.step`) or at
        /// the end of every training epoch, after validation (`.epoch`), and fed the metric
        /// `monitor` names (required by `ReduceLROnPlateau`; a missing metric is an error
        /// naming the ones logged).
        ///
        /// ```swift
        /// .adamW(learningRate: 1e-3, schedule: .custom({ optimizer, _ in ReduceLROnPlateau(optimizer, patience: 2) },
        ///                                           interval: .epoch, monitor: "val/loss"))
        /// ```
        case custom((Optimizer, Int) -> LearningRateScheduler, interval: SchedulerInterval = .step, monitor: String? = nil)

        /// Cosine to 0 (the default).
        public static var cosine: Schedule { .cosine(minimumLearningRate: 0) }
        /// Warm-up from 0.01·lr over the first 1% of steps, then cosine to 0.
        public static var warmupCosine: Schedule { .warmupCosine(warmupFraction: 0.01, startFactor: 0.01, finalLearningRate: 0) }

        func makeScheduler(_ optimizer: Optimizer, totalSteps: Int) -> LearningRateScheduler? {
            let steps = Swift.max(totalSteps, 1)
            switch self {
            case .cosine(let minimum):
                return ClosedFormScheduler.cosineAnnealing(optimizer, totalSteps: steps, minimumLearningRate: minimum)
            case .warmupCosine(let fraction, let startFactor, let final):
                let warmup = Swift.min(steps - 1, Swift.max(0, Int((Double(steps) * fraction).rounded())))
                return ClosedFormScheduler.linearWarmupCosine(optimizer, warmupSteps: warmup, totalSteps: steps,
                                                              startFactor: startFactor, finalLearningRate: final)
            case .constant:
                return nil
            case .custom(let make, _, _):
                return make(optimizer, steps)
            }
        }

        /// When the scheduler is stepped.
        var interval: SchedulerInterval {
            if case .custom(_, let interval, _) = self { return interval }
            return .step
        }

        /// The metric the scheduler is fed.
        var monitor: String? {
            if case .custom(_, _, let monitor) = self { return monitor }
            return nil
        }
    }

    /// The name in checkpoints and learning-rate logs.
    public var name: String
    /// The top-level components it covers; nil: every component no other spec names.
    public var components: [String]?
    /// Builds the optimizer from the named parameters it covers.
    public var makeOptimizer: ([(name: String, tensor: Tensor)]) -> Optimizer
    public var schedule: Schedule

    public init(name: String = "optimizer", components: [String]? = nil, schedule: Schedule = .cosine,
                makeOptimizer: @escaping ([(name: String, tensor: Tensor)]) -> Optimizer) {
        self.name = name
        self.components = components
        self.schedule = schedule
        self.makeOptimizer = makeOptimizer
    }

    /// AdamW (PyTorch's defaults) with a cosine schedule.
    public static func adamW(
        learningRate: Float = 1e-3, weightDecay: Float = 1e-2, beta1: Float = 0.9, beta2: Float = 0.999,
        eps: Float = 1e-8, schedule: Schedule = .cosine, components: [String]? = nil, name: String = "optimizer",
        groups: [ParameterGroupRule<Adam.Options>] = []
    ) -> OptimizerSpec {
        OptimizerSpec(name: name, components: components, schedule: schedule) {
            AdamW($0, learningRate: learningRate, beta1: beta1, beta2: beta2, eps: eps, weightDecay: weightDecay, groups: groups)
        }
    }

    /// SGD with momentum.
    public static func sgd(
        learningRate: Float, momentum: Float = 0.9, weightDecay: Float = 0, nesterov: Bool = false,
        schedule: Schedule = .cosine, components: [String]? = nil, name: String = "optimizer"
    ) -> OptimizerSpec {
        OptimizerSpec(name: name, components: components, schedule: schedule) {
            SGD($0, learningRate: learningRate, momentum: momentum, weightDecay: weightDecay, nesterov: nesterov)
        }
    }

    /// LARS (biases and normalisation parameters excluded from adaptation and weight decay).
    public static func lars(
        learningRate: Float, momentum: Float = 0.9, weightDecay: Float = 1e-6, trustCoefficient: Float = 1e-3,
        schedule: Schedule = .warmupCosine, components: [String]? = nil, name: String = "optimizer"
    ) -> OptimizerSpec {
        OptimizerSpec(name: name, components: components, schedule: schedule) {
            LARS($0, learningRate: learningRate, momentum: momentum, weightDecay: weightDecay,
                 trustCoefficient: trustCoefficient)
        }
    }
}

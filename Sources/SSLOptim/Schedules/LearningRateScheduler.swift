import SSLTensor

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Adjusts an optimizer's learning rates as training advances, in PyTorch's convention:
/// creating a scheduler sets the rates for step 0, and each `step()` advances one step and
/// sets the rates for it. Closed-form schedules compute each rate from the group's base rate
/// (its rate when the scheduler was made); `ReduceLROnPlateau` reacts to a metric.
public protocol LearningRateScheduler: AnyObject {
    /// Advances one step (an optimizer step or an epoch, as the caller decides).
    /// `metric` feeds metric-driven schedules and is ignored by the others.
    func step(metric: Float?)
    /// How many times `step` has been called.
    var stepCount: Int { get }
    /// State for checkpoints.
    func stateDict() -> [String: Float]
    /// Restores state saved by `stateDict()` and re-applies the learning rates.
    func loadStateDict(_ state: [String: Float]) throws
    /// Whether `step(metric:)` needs a metric (`ReduceLROnPlateau`); the Trainer then requires
    /// a `monitor`.
    var requiresMetric: Bool { get }
}

extension LearningRateScheduler {
    /// Advances one step without a metric.
    public func step() { step(metric: nil) }
    public var requiresMetric: Bool { false }
}

/// A schedule given by a function of (step, base rate) for each group.
///
/// ```swift
/// let schedule = ClosedFormScheduler.cosineAnnealing(optimizer, totalSteps: 1000)
/// for _ in 0..<1000 { …; optimizer.step(); schedule.step() }
/// ```
public final class ClosedFormScheduler: LearningRateScheduler {
    public let optimizer: Optimizer
    /// The learning rate of each group when the scheduler was created.
    public let baseLearningRates: [Float]
    public private(set) var stepCount = 0
    private let rate: (Int, Float) -> Float

    /// A schedule `rate(step, baseRate)`; it sets the step-0 rates immediately.
    public init(_ optimizer: Optimizer, rate: @escaping (Int, Float) -> Float) {
        self.optimizer = optimizer
        self.baseLearningRates = optimizer.learningRates
        self.rate = rate
        apply()
    }

    public func step(metric: Float? = nil) {
        stepCount += 1
        apply()
    }

    /// The rate each group has at `step` (without changing anything).
    public func learningRates(at step: Int) -> [Float] { baseLearningRates.map { rate(step, $0) } }

    private func apply() { optimizer.learningRates = learningRates(at: stepCount) }

    public func stateDict() -> [String: Float] { ["step": Float(stepCount)] }

    public func loadStateDict(_ state: [String: Float]) throws {
        guard let saved = state["step"], let step = Int(savedCount: saved) else {
            throw OptimizerStateError(problem: "scheduler state has no valid \"step\" entry (a whole number in 0...\(Int.largestSavedCount)): \(state)")
        }
        stepCount = step
        apply()
    }

    // MARK: - Schedules

    /// The base rate throughout.
    public static func constant(_ optimizer: Optimizer) -> ClosedFormScheduler {
        ClosedFormScheduler(optimizer) { _, base in base }
    }

    /// Cosine annealing from the base rate to `minimumLearningRate` over `totalSteps` (PyTorch's
    /// `CosineAnnealingLR` closed form): η_t = η_min + (η − η_min)(1 + cos(πt/T))/2.
    /// [Loshchilov & Hutter 2017](https://arxiv.org/abs/1608.03983)
    public static func cosineAnnealing(_ optimizer: Optimizer, totalSteps: Int, minimumLearningRate: Float = 0)
        -> ClosedFormScheduler
    {
        precondition(totalSteps > 0, "cosineAnnealing: totalSteps must be positive, got \(totalSteps)")
        return ClosedFormScheduler(optimizer) { step, base in
            cosine(step: step, total: totalSteps, from: base, to: minimumLearningRate)
        }
    }

    /// Linear warm-up from `startFactor`·base over `warmupSteps`, then cosine annealing to
    /// `finalLearningRate` at `totalSteps` (the same rates as PyTorch's `SequentialLR` of
    /// `LinearLR(startFactor, total_iters: warmupSteps)` and
    /// `CosineAnnealingLR(T_max: totalSteps − warmupSteps, eta_min: finalLearningRate)`).
    public static func linearWarmupCosine(
        _ optimizer: Optimizer, warmupSteps: Int, totalSteps: Int, startFactor: Float = 0.01,
        finalLearningRate: Float = 0
    ) -> ClosedFormScheduler {
        precondition(warmupSteps >= 0 && totalSteps > warmupSteps,
                     "linearWarmupCosine: need 0 ≤ warmupSteps (\(warmupSteps)) < totalSteps (\(totalSteps))")
        precondition(startFactor > 0 && startFactor <= 1, "linearWarmupCosine: startFactor \(startFactor) must be in (0, 1]")
        return ClosedFormScheduler(optimizer) { step, base in
            if step < warmupSteps {
                let fraction = Float(step) / Float(warmupSteps)
                return base * (startFactor + (1 - startFactor) * fraction)
            }
            return cosine(step: step - warmupSteps, total: totalSteps - warmupSteps, from: base, to: finalLearningRate)
        }
    }

    /// Linear change of the factor from `startFactor` to `endFactor` over `totalSteps`, then
    /// constant (PyTorch's `LinearLR`).
    public static func linear(_ optimizer: Optimizer, startFactor: Float, endFactor: Float = 1, totalSteps: Int)
        -> ClosedFormScheduler
    {
        precondition(totalSteps > 0, "linear: totalSteps must be positive, got \(totalSteps)")
        return ClosedFormScheduler(optimizer) { step, base in
            let fraction = Float(Swift.min(step, totalSteps)) / Float(totalSteps)
            return base * (startFactor + (endFactor - startFactor) * fraction)
        }
    }

    /// Multiplies the rate by `gamma` every `stepSize` steps (PyTorch's `StepLR`).
    public static func stepDecay(_ optimizer: Optimizer, stepSize: Int, gamma: Float = 0.1) -> ClosedFormScheduler {
        precondition(stepSize > 0, "stepDecay: stepSize must be positive, got \(stepSize)")
        return ClosedFormScheduler(optimizer) { step, base in
            base * Float(pow(Double(gamma), Double(step / stepSize)))
        }
    }

    /// Multiplies the rate by `gamma` every step (PyTorch's `ExponentialLR`).
    public static func exponential(_ optimizer: Optimizer, gamma: Float) -> ClosedFormScheduler {
        ClosedFormScheduler(optimizer) { step, base in base * Float(pow(Double(gamma), Double(step))) }
    }

    static func cosine(step: Int, total: Int, from base: Float, to minimum: Float) -> Float {
        let phase = Double.pi * Double(step) / Double(total)
        let value = Double(minimum) + (Double(base) - Double(minimum)) * (1 + cos(phase)) / 2
        return Float(value)
    }
}

/// Lowers the learning rate by `factor` when a metric stops improving for more than `patience`
/// steps, as PyTorch's `ReduceLROnPlateau` (mode, threshold in relative or absolute terms,
/// cooldown, minimum rate, and eps: changes smaller than eps are skipped).
///
/// ```swift
/// let plateau = ReduceLROnPlateau(optimizer, mode: .min, factor: 0.5, patience: 5)
/// plateau.step(metric: validationLoss)
/// ```
public final class ReduceLROnPlateau: LearningRateScheduler {
    public enum Mode: String, Sendable { case min, max }
    public enum ThresholdMode: String, Sendable { case relative, absolute }

    public let optimizer: Optimizer
    public let mode: Mode
    public let factor: Float
    public let patience: Int
    public let threshold: Float
    public let thresholdMode: ThresholdMode
    public let cooldown: Int
    public let minimumLearningRate: Float
    public let eps: Float

    public private(set) var stepCount = 0
    public private(set) var best: Float
    public private(set) var badSteps = 0
    public private(set) var cooldownRemaining = 0

    public init(_ optimizer: Optimizer, mode: Mode = .min, factor: Float = 0.1, patience: Int = 10,
                threshold: Float = 1e-4, thresholdMode: ThresholdMode = .relative, cooldown: Int = 0,
                minimumLearningRate: Float = 0, eps: Float = 1e-8) {
        precondition(factor < 1 && factor > 0, "ReduceLROnPlateau: factor \(factor) must be in (0, 1)")
        precondition(patience >= 0 && cooldown >= 0, "ReduceLROnPlateau: patience and cooldown must be non-negative")
        self.optimizer = optimizer
        self.mode = mode
        self.factor = factor
        self.patience = patience
        self.threshold = threshold
        self.thresholdMode = thresholdMode
        self.cooldown = cooldown
        self.minimumLearningRate = minimumLearningRate
        self.eps = eps
        best = mode == .min ? .infinity : -.infinity
    }

    public var requiresMetric: Bool { true }

    public func step(metric: Float?) {
        guard let metric else {
            preconditionFailure("ReduceLROnPlateau.step(metric:): a metric value is required (in a Trainer: OptimizerSpec.Schedule.custom(…, monitor: \"val/loss\"))")
        }
        stepCount += 1
        if isBetter(metric) {
            best = metric
            badSteps = 0
        } else {
            badSteps += 1
        }
        if cooldownRemaining > 0 {
            cooldownRemaining -= 1
            badSteps = 0
        }
        if badSteps > patience {
            optimizer.learningRates = optimizer.learningRates.map { old in
                let new = Swift.max(old * factor, minimumLearningRate)
                return old - new > eps ? new : old
            }
            cooldownRemaining = cooldown
            badSteps = 0
        }
    }

    private func isBetter(_ value: Float) -> Bool {
        switch (mode, thresholdMode) {
        case (.min, .relative): return value < best * (1 - threshold)
        case (.min, .absolute): return value < best - threshold
        case (.max, .relative): return value > best * (1 + threshold)
        case (.max, .absolute): return value > best + threshold
        }
    }

    public func stateDict() -> [String: Float] {
        ["step": Float(stepCount), "best": best, "bad_steps": Float(badSteps), "cooldown_remaining": Float(cooldownRemaining)]
    }

    public func loadStateDict(_ state: [String: Float]) throws {
        guard let step = state["step"].flatMap({ Int(savedCount: $0) }), let best = state["best"], !best.isNaN,
              let bad = state["bad_steps"].flatMap({ Int(savedCount: $0) }),
              let cooldown = state["cooldown_remaining"].flatMap({ Int(savedCount: $0) }) else {
            throw OptimizerStateError(problem: "ReduceLROnPlateau state needs whole, non-negative step/bad_steps/cooldown_remaining and a best value: \(state)")
        }
        stepCount = step
        self.best = best
        badSteps = bad
        cooldownRemaining = cooldown
    }
}

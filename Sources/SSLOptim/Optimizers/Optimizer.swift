import SSLTensor

/// What every optimizer offers the training loop: a step, zeroing, the learning rate of each
/// parameter group (schedules adjust it), and its state for checkpoints.
public protocol Optimizer: AnyObject {
    /// Updates every parameter that has a gradient.
    func step()
    /// Sets every parameter's gradient to nil.
    func zeroGrad()
    /// The names of the parameter groups, in order.
    var groupNames: [String] { get }
    /// The current learning rate of each group (same order as `groupNames`).
    var learningRates: [Float] { get set }
    /// The parameters, by name, in group order.
    var namedParameters: [(name: String, tensor: Tensor)] { get }
    /// Per-parameter state (moments, momentum buffers, step counts) and the learning rates,
    /// keyed by parameter and group name.
    func stateDict() -> [String: Tensor]
    /// Restores state saved by `stateDict()`; throws if it names parameters or groups this
    /// optimizer does not have.
    func loadStateDict(_ state: [String: Tensor]) throws
}

/// Options an optimizer keeps per parameter group; every kind has a learning rate.
public protocol OptimizerOptions: Sendable {
    var learningRate: Float { get set }
}

/// A rule that puts the parameters whose names match into a group with its own options.
/// Parameters go to the first matching rule; the rest form the group "default".
///
/// ```swift
/// let noDecay = ParameterGroupRule<AdamW.Options>("no-decay", matching: { $0.hasSuffix("bias") }) {
///     $0.weightDecay = 0
/// }
/// let optimizer = AdamW(model.namedParameters(), groups: [noDecay])
/// ```
public struct ParameterGroupRule<Options: OptimizerOptions> {
    public let name: String
    public let matches: (String) -> Bool
    public let configure: (inout Options) -> Void

    public init(_ name: String, matching matches: @escaping (String) -> Bool,
                configure: @escaping (inout Options) -> Void) {
        self.name = name
        self.matches = matches
        self.configure = configure
    }
}

/// An error restoring optimizer or scheduler state.
public struct OptimizerStateError: Error, CustomStringConvertible, Equatable {
    public let problem: String
    public var description: String { problem }
}

/// The shared machinery of the optimizers: parameter groups chosen by name, state keyed by
/// parameter name, and the step loop. Subclasses implement `update`.
open class GroupedOptimizer<Options: OptimizerOptions>: Optimizer {
    /// One parameter group.
    public struct Group {
        public let name: String
        public var options: Options
        public let parameters: [(name: String, tensor: Tensor)]
    }

    public private(set) var groups: [Group]
    /// Per-parameter state: slot name → tensor (e.g. "exp_avg"), and step counts.
    var slots: [String: [String: Tensor]] = [:]
    var stepCounts: [String: Int] = [:]

    /// Groups `parameters` by the first matching rule (unmatched ones into "default").
    public init(_ parameters: [(name: String, tensor: Tensor)], defaults: Options, groups rules: [ParameterGroupRule<Options>]) {
        var seen = Set<String>()
        for (name, _) in parameters {
            precondition(seen.insert(name).inserted, "\(Self.self): parameter name \"\(name)\" appears twice")
        }
        var buckets: [[(name: String, tensor: Tensor)]] = Array(repeating: [], count: rules.count + 1)
        for parameter in parameters {
            let index = rules.firstIndex { $0.matches(parameter.name) } ?? rules.count
            buckets[index].append(parameter)
        }
        var result: [Group] = []
        for (index, rule) in rules.enumerated() where !buckets[index].isEmpty {
            var options = defaults
            rule.configure(&options)
            result.append(Group(name: rule.name, options: options, parameters: buckets[index]))
        }
        if !buckets[rules.count].isEmpty {
            result.append(Group(name: "default", options: defaults, parameters: buckets[rules.count]))
        }
        self.groups = result
    }

    public var groupNames: [String] { groups.map(\.name) }

    public var learningRates: [Float] {
        get { groups.map(\.options.learningRate) }
        set {
            precondition(newValue.count == groups.count,
                         "\(Self.self).learningRates: \(newValue.count) values for \(groups.count) groups")
            for index in groups.indices { groups[index].options.learningRate = newValue[index] }
        }
    }

    /// Changes the options of the group named `name`.
    public func updateOptions(ofGroup name: String, _ change: (inout Options) -> Void) {
        guard let index = groups.firstIndex(where: { $0.name == name }) else {
            preconditionFailure("\(Self.self): no parameter group \"\(name)\"; groups: \(groupNames)")
        }
        change(&groups[index].options)
    }

    public var namedParameters: [(name: String, tensor: Tensor)] { groups.flatMap(\.parameters) }

    public func step() {
        noGrad {
            for group in groups {
                for (name, parameter) in group.parameters {
                    guard let gradient = parameter.grad else { continue }
                    precondition(gradient.shape == parameter.shape,
                                 "\(Self.self): gradient of \(name) has shape \(gradient.shape), parameter has \(parameter.shape)")
                    let step = (stepCounts[name] ?? 0) + 1
                    stepCounts[name] = step
                    var state = slots[name] ?? [:]
                    update(parameter: parameter, gradient: gradient.contiguous(), state: &state,
                           options: group.options, step: step, name: name)
                    slots[name] = state
                }
            }
        }
    }

    /// Applies one update to `parameter` (contiguous, updated in place).
    open func update(parameter: Tensor, gradient: Tensor, state: inout [String: Tensor],
                     options: Options, step: Int, name: String) {
        preconditionFailure("\(Self.self) must override update(parameter:gradient:state:options:step:name:)")
    }

    public func zeroGrad() {
        for (_, parameter) in namedParameters { parameter.zeroGrad() }
    }

    /// A zero tensor shaped like `like`, stored in `state[slot]` on first use.
    func slot(_ slot: String, in state: inout [String: Tensor], like parameter: Tensor) -> (tensor: Tensor, isNew: Bool) {
        if let existing = state[slot] { return (existing, false) }
        let created = Tensor.zeros(parameter.shape)
        state[slot] = created
        return (created, true)
    }

    /// Why saved slot values cannot come from training, or nil: every value finite; second
    /// moments (slots named `…_sq`) in [0, 1e36]; other slots (momentum, first moments) within
    /// ±1e18, as gradients beyond 1e18 only come from a run that has already diverged.
    static func implausibleSlotValues(_ slot: String, _ values: [Float]) -> String? {
        guard values.allSatisfy(\.isFinite) else { return "holds non-finite values" }
        if slot.hasSuffix("_sq") {
            guard values.allSatisfy({ $0 >= 0 && $0 <= 1e36 }) else { return "holds second moments outside [0, 1e36]" }
        } else {
            guard values.allSatisfy({ Swift.abs($0) <= 1e18 }) else { return "holds values beyond ±1e18" }
        }
        return nil
    }

    public func stateDict() -> [String: Tensor] {
        var result: [String: Tensor] = [:]
        for group in groups { result["group.\(group.name).learning_rate"] = Tensor(group.options.learningRate) }
        for (name, state) in slots {
            for (slotName, tensor) in state { result["param.\(name).\(slotName)"] = tensor.contiguousCopy() }
        }
        for (name, step) in stepCounts { result["param.\(name).step"] = Tensor(Float(step)) }
        return result
    }

    public func loadStateDict(_ state: [String: Tensor]) throws {
        let parameterShapes = Dictionary(namedParameters.map { ($0.name, $0.tensor.shape) }, uniquingKeysWith: { a, _ in a })
        var newSlots: [String: [String: Tensor]] = [:]
        var newSteps: [String: Int] = [:]
        var newRates: [String: Float] = [:]
        for (key, tensor) in state {
            if key.hasPrefix("group.") && key.hasSuffix(".learning_rate") {
                let name = String(key.dropFirst("group.".count).dropLast(".learning_rate".count))
                guard groupNames.contains(name) else {
                    throw OptimizerStateError(problem: "optimizer state names group \"\(name)\", but the groups are \(groupNames)")
                }
                guard tensor.count == 1, tensor.scalars[0].isFinite else {
                    throw OptimizerStateError(problem: "optimizer state \"\(key)\" is not a finite learning rate")
                }
                newRates[name] = tensor.scalars[0]
            } else if key.hasPrefix("param.") {
                let rest = key.dropFirst("param.".count)
                guard let dot = rest.lastIndex(of: ".") else {
                    throw OptimizerStateError(problem: "optimizer state key \"\(key)\" has no slot name")
                }
                let name = String(rest[..<dot]), slotName = String(rest[rest.index(after: dot)...])
                guard let shape = parameterShapes[name] else {
                    throw OptimizerStateError(problem: "optimizer state names parameter \"\(name)\", which this optimizer does not hold")
                }
                if slotName == "step" {
                    guard tensor.count == 1, let step = Int(savedCount: tensor.scalars[0]) else {
                        throw OptimizerStateError(problem: "optimizer state \"\(key)\" is not a step count: \(tensor.scalars.prefix(4))")
                    }
                    newSteps[name] = step
                } else {
                    guard tensor.shape == shape else {
                        throw OptimizerStateError(problem: "optimizer state \"\(key)\" has shape \(tensor.shape), parameter \"\(name)\" has \(shape)")
                    }
                    if let problem = Self.implausibleSlotValues(slotName, tensor.scalars) {
                        throw OptimizerStateError(problem: "optimizer state \"\(key)\" \(problem)")
                    }
                    newSlots[name, default: [:]][slotName] = tensor.contiguousCopy()
                }
            } else {
                throw OptimizerStateError(problem: "unexpected optimizer state key \"\(key)\"")
            }
        }
        slots = newSlots
        stepCounts = newSteps
        for index in groups.indices {
            if let rate = newRates[groups[index].name] { groups[index].options.learningRate = rate }
        }
    }
}

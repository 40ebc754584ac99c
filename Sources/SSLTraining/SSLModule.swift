import SSLNN
import SSLOptim
import SSLTensor

/// A self-supervised model: the user's components and one forward closure over a `Batch`.
///
/// Components are reached as typed attributes (`m.backbone`) through `@dynamicMemberLookup`
/// on key paths into the components value. Every `Module` held by the components (directly,
/// optional, or in an array or string-keyed dictionary) is found and named by its property, so
/// parameters are `backbone.stages.0.conv1.weight` and so on — the keys of state dicts,
/// checkpoints and optimizer groups.
///
/// Training optimises manually, as stable-ssl's `Module`: forward(batch, .fit) must return a
/// `"loss"`; the Trainer backpropagates it, steps the optimizers and their schedules. By default
/// there is one AdamW (PyTorch defaults) with cosine annealing to 0 over the fit; pass
/// `optimizer: nil` for an evaluation-only module.
///
/// ```swift
/// struct Parts {
///     let backbone = ConvNet(channels: [32, 64, 128], inputChannels: 1)
///     let projector = MLP([128, 512, 128], batchNorm: true)
///     let loss = NTXentLoss(temperature: 0.5)
/// }
/// let module = SSLModule(Parts()) { m, batch, stage in
///     var out = batch
///     out["embedding"] = m.backbone(batch["image"])
///     if stage == .fit {
///         let views = foldViews(m.projector(out["embedding"]), sampleIndex: batch[integers: "sample_idx"])
///         out["loss"] = m.loss(views[0], views[1])
///     }
///     return out
/// }
/// ```
@dynamicMemberLookup
public final class SSLModule<Components>: TrainableModule, LoggingModule {
    /// The forward closure's type.
    public typealias Forward = (SSLModule<Components>, Batch, Stage) throws -> Batch

    /// The user's components value (its properties are reached as `m.backbone`).
    public let components: Components
    private let forwardClosure: Forward
    private let container: ComponentContainer
    /// The optimizer specifications (empty: evaluation-only).
    public let optimizerSpecs: [OptimizerSpec]
    public private(set) var optimizers: [ConfiguredOptimizer] = []
    /// Extra hooks run after the Trainer's callbacks (the module's own hooks, as Lightning's
    /// LightningModule hooks).
    public var hooks: [Callback] = []
    weak var logSink: LogSink?
    var currentStage: Stage = .fit

    /// A module with one optimizer (default: AdamW + cosine); nil makes it evaluation-only.
    public convenience init(_ components: Components, optimizer: OptimizerSpec? = .adamW(), forward: @escaping Forward) {
        self.init(components, optimizers: optimizer.map { [$0] } ?? [], forward: forward)
    }

    /// A module with one optimizer per spec (each covering its named components).
    public init(_ components: Components, optimizers: [OptimizerSpec], forward: @escaping Forward) {
        self.components = components
        self.forwardClosure = forward
        self.optimizerSpecs = optimizers
        self.container = ComponentContainer(Self.discoverModules(in: components))
        let names = Set(container.children.map(\.name))
        for spec in optimizers {
            for name in spec.components ?? [] {
                precondition(names.contains(name),
                             "SSLModule: optimizer \"\(spec.name)\" names component \"\(name)\", but the components are \(names.sorted())")
            }
        }
        precondition(Set(optimizers.map(\.name)).count == optimizers.count,
                     "SSLModule: optimizer names must be distinct, got \(optimizers.map(\.name))")
    }

    /// Typed access to a component: `m.backbone`.
    public subscript<Value>(dynamicMember keyPath: KeyPath<Components, Value>) -> Value {
        components[keyPath: keyPath]
    }

    // MARK: - TrainableModule

    public var componentModules: [(name: String, module: Module)] { container.children }

    /// The container holding every component as a child (for summaries and state).
    public var root: Module { container }

    public func namedParameters() -> [(name: String, tensor: Tensor)] { container.namedParameters() }

    public func stateDict() -> StateDict { container.stateDict() }

    @discardableResult
    public func loadStateDict(_ state: StateDict, strict: Bool = true) throws -> StateDictMismatch {
        try container.loadStateDict(state, strict: strict)
    }

    public func train() { container.train() }
    public func eval() { container.eval() }

    public func forward(_ batch: Batch, stage: Stage) throws -> Batch {
        try forwardClosure(self, batch, stage)
    }

    /// Runs the forward closure: `module(batch, stage: .predict)`.
    public func callAsFunction(_ batch: Batch, stage: Stage) throws -> Batch {
        try forward(batch, stage: stage)
    }

    public var isTrainable: Bool { !optimizerSpecs.isEmpty }

    public func configureOptimizers(totalSteps: Int) {
        var claimed = Set<String>()
        for spec in optimizerSpecs { claimed.formUnion(spec.components ?? []) }
        let all = componentModules
        optimizers = optimizerSpecs.map { spec in
            let covered = all.filter { spec.components?.contains($0.name) ?? !claimed.contains($0.name) }
            var parameters: [(name: String, tensor: Tensor)] = []
            var seen = Set<ObjectIdentifier>()
            for (componentName, module) in covered {
                for (name, tensor) in module.namedParameters() where tensor.requiresGrad {
                    if seen.insert(ObjectIdentifier(tensor)).inserted {
                        parameters.append(("\(componentName).\(name)", tensor))
                    }
                }
            }
            let optimizer = spec.makeOptimizer(parameters)
            return ConfiguredOptimizer(name: spec.name, optimizer: optimizer,
                                       scheduler: spec.schedule.makeScheduler(optimizer, totalSteps: totalSteps),
                                       interval: spec.schedule.interval, monitor: spec.schedule.monitor)
        }
    }

    public var componentCallbacks: [Callback] {
        var result: [Callback] = []
        var seen = Set<ObjectIdentifier>()
        for (_, module) in container.namedModules() {
            if let provider = module as? ProvidesCallbacks, provider.addsCallbacksAutomatically,
               seen.insert(ObjectIdentifier(provider)).inserted {
                result += provider.callbacks
            }
        }
        return result
    }

    // MARK: - Logging

    /// Logs a value, as Lightning's `self.log`: per step and/or aggregated (mean) per epoch.
    /// Defaults follow the stage: per step in `fit`, per epoch otherwise. Outside a Trainer
    /// loop it does nothing.
    public func log(_ name: String, _ value: Float, onStep: Bool? = nil, onEpoch: Bool? = nil,
                    progressBar: Bool = false, batchSize: Int? = nil) {
        let training = currentStage == .fit
        logSink?.record(name, value, onStep: onStep ?? training, onEpoch: onEpoch ?? !training,
                        progressBar: progressBar, batchSize: batchSize)
    }

    /// Logs a one-element tensor.
    public func log(_ name: String, _ value: Tensor, onStep: Bool? = nil, onEpoch: Bool? = nil,
                    progressBar: Bool = false, batchSize: Int? = nil) {
        log(name, value.item(), onStep: onStep, onEpoch: onEpoch, progressBar: progressBar, batchSize: batchSize)
    }

    // MARK: - Discovery

    static func discoverModules(in components: Components) -> [(String, Module)] {
        var result: [(String, Module)] = []
        for child in Mirror(reflecting: components).children {
            guard let label = child.label else { continue }
            if let module = child.value as? Module {
                result.append((label, module))
            } else if let modules = child.value as? [Module] {
                result.append((label, ModuleList(modules)))
            } else if let modules = child.value as? [String: Module] {
                result.append((label, ModuleDictionary(modules)))
            }
        }
        return result
    }
}

/// Holds an `SSLModule`'s components as named children of one module, so naming, modes and
/// state come from `Module`.
final class ComponentContainer: Module {
    init(_ components: [(String, Module)]) {
        super.init()
        for (name, module) in components { registerModule(name, module) }
    }

    override func makeCopy() -> Module {
        ComponentContainer(children.map { ($0.name, $0.module.makeCopy()) })
    }
}

import SSLTensor

/// The base class of every layer and model: named parameters, buffers and children under
/// PyTorch-style dotted names (`stages.0.conv1.weight`, `stages.0.bn1.running_mean`).
///
/// A subclass registers its own tensors in its initialiser (`registerParameter`,
/// `registerBuffer`) and implements `forward`. Child modules are found from its stored
/// properties (a `Module`, an optional one, an array or a string-keyed dictionary of them),
/// named by property (`layer1.0.conv1`), or registered explicitly with `registerModule`.
/// Modules are reference types: an optimizer updates the very tensors the model holds, and
/// BatchNorm statistics change in place.
///
/// ```swift
/// final class TwoLayer: Module {
///     let fc1 = Linear(784, 128)
///     let fc2 = Linear(128, 10)
///     override func forward(_ x: Tensor) -> Tensor { fc2(fc1(x).relu()) }
///     override func makeCopy() -> Module { TwoLayer() }
/// }
/// let model = TwoLayer()
/// print(model.namedParameters().map(\.name))  // ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
/// ```
open class Module {
    /// Whether the module is in training mode (see `train(_:)` and `eval()`).
    public private(set) var isTraining = true

    private var parameterEntries: [(name: String, tensor: Tensor)] = []
    private var bufferEntries: [(name: String, tensor: Tensor, isInteger: Bool)] = []
    private var registeredChildren: [(name: String, module: Module)] = []
    /// The children found by reflection, kept after the first walk (see `children`).
    private var discoveredChildren: [(name: String, module: Module)]?

    public init() {}

    // MARK: - Forward

    /// The computation of the module. Subclasses override it; callers use `module(x)`.
    open func forward(_ input: Tensor) -> Tensor {
        preconditionFailure("\(type(of: self)).forward(_:) is not implemented; override it in the subclass")
    }

    /// Runs `forward`, recording the output shape when a summary is being taken.
    public final func callAsFunction(_ input: Tensor) -> Tensor {
        let output = forward(input)
        ModuleSummary.recorder?.record(self, input: input.shape, output: output.shape)
        return output
    }

    // MARK: - Registration

    /// Registers a trainable tensor under `name` (it is marked `requiresGrad`).
    @discardableResult
    public func registerParameter(_ name: String, _ tensor: Tensor) -> Tensor {
        checkNewName(name)
        tensor.setRequiresGrad(true)
        parameterEntries.append((name, tensor))
        return tensor
    }

    /// Registers a saved but untrained tensor (running statistics). `isInteger` marks a counter
    /// (held as Float, exact to 2²⁴, saved as int64 like PyTorch's `num_batches_tracked`).
    @discardableResult
    public func registerBuffer(_ name: String, _ tensor: Tensor, isInteger: Bool = false) -> Tensor {
        checkNewName(name)
        bufferEntries.append((name, tensor, isInteger))
        return tensor
    }

    /// Registers a child module under an explicit name (children held in stored properties are
    /// found without this).
    public func registerModule(_ name: String, _ module: Module) {
        checkNewName(name)
        registeredChildren.append((name, module))
        discoveredChildren = nil
    }

    private func checkNewName(_ name: String) {
        precondition(!name.isEmpty && !name.contains("."),
                     "\(type(of: self)): invalid name \"\(name)\" (non-empty, no dots)")
        precondition(!parameterEntries.contains { $0.name == name } && !bufferEntries.contains { $0.name == name }
                     && !registeredChildren.contains { $0.name == name },
                     "\(type(of: self)): name \"\(name)\" is already registered")
    }

    // MARK: - Traversal

    /// The direct children: explicitly registered ones first, then those found in stored
    /// properties (in declaration order, superclass properties first).
    ///
    /// The stored properties are read by reflection once, on first use, and the result is
    /// kept (the EMA update and every `namedParameters()` would otherwise walk `Mirror` each
    /// step). A module assigned to a `var` property after that is not seen: hold children in
    /// `let` properties, or register later ones with `registerModule`. Modules with `lazy`
    /// children not yet initialised are read afresh until they are.
    public var children: [(name: String, module: Module)] {
        if let discoveredChildren { return discoveredChildren }
        var result = registeredChildren
        var readsLazyStorage = false
        var seen = Set(result.map { ObjectIdentifier($0.module) })
        func add(_ name: String, _ module: Module) {
            if seen.insert(ObjectIdentifier(module)).inserted { result.append((name, module)) }
        }
        var mirrors: [Mirror] = []
        var mirror: Mirror? = Mirror(reflecting: self)
        while let current = mirror {
            mirrors.append(current)
            mirror = current.superclassMirror
        }
        for current in mirrors.reversed() {
            for child in current.children {
                guard var label = child.label else { continue }
                if label.hasPrefix("$__lazy_storage_$_") {
                    label.removeFirst("$__lazy_storage_$_".count)
                    // Not yet initialised: it may hold a module later.
                    let storage = Mirror(reflecting: child.value)
                    if storage.displayStyle == .optional && storage.children.isEmpty { readsLazyStorage = true }
                }
                if let module = child.value as? Module {
                    add(label, module)
                } else if let modules = child.value as? [Module] {
                    for (index, module) in modules.enumerated() { add("\(label).\(index)", module) }
                } else if let modules = child.value as? [String: Module] {
                    for key in modules.keys.sorted() {
                        if let module = modules[key] { add("\(label).\(key)", module) }
                    }
                }
            }
        }
        if !readsLazyStorage { discoveredChildren = result }
        return result
    }

    /// This module and every descendant with its dotted name (this one is ""), each once.
    public func namedModules() -> [(name: String, module: Module)] {
        var result: [(name: String, module: Module)] = []
        var seen = Set<ObjectIdentifier>()
        var stack: [(String, Module)] = [("", self)]
        while let (name, module) = stack.popLast() {
            guard seen.insert(ObjectIdentifier(module)).inserted else { continue }
            result.append((name, module))
            for child in module.children.reversed() {
                stack.append((name.isEmpty ? child.name : "\(name).\(child.name)", child.module))
            }
        }
        return result
    }

    /// Every parameter with its dotted name, each tensor once (PyTorch's `named_parameters`).
    public func namedParameters() -> [(name: String, tensor: Tensor)] {
        var seen = Set<ObjectIdentifier>()
        var result: [(name: String, tensor: Tensor)] = []
        for (prefix, module) in namedModules() {
            for entry in module.parameterEntries where seen.insert(ObjectIdentifier(entry.tensor)).inserted {
                result.append((prefix.isEmpty ? entry.name : "\(prefix).\(entry.name)", entry.tensor))
            }
        }
        return result
    }

    /// Every buffer with its dotted name and whether it is an integer counter.
    public func namedBuffers() -> [(name: String, tensor: Tensor, isInteger: Bool)] {
        var seen = Set<ObjectIdentifier>()
        var result: [(name: String, tensor: Tensor, isInteger: Bool)] = []
        for (prefix, module) in namedModules() {
            for entry in module.bufferEntries where seen.insert(ObjectIdentifier(entry.tensor)).inserted {
                result.append((prefix.isEmpty ? entry.name : "\(prefix).\(entry.name)", entry.tensor, entry.isInteger))
            }
        }
        return result
    }

    /// The parameters, in `namedParameters()` order.
    public func parameters() -> [Tensor] { namedParameters().map(\.tensor) }

    /// This module's own parameters (not its children's).
    public var ownParameters: [(name: String, tensor: Tensor)] { parameterEntries }

    /// This module's own buffers (not its children's).
    public var ownBuffers: [(name: String, tensor: Tensor, isInteger: Bool)] { bufferEntries }

    // MARK: - Modes

    /// Sets training mode (BatchNorm uses batch statistics, Dropout drops) on this module and
    /// every descendant.
    public func train(_ mode: Bool = true) {
        for (_, module) in namedModules() { module.isTraining = mode }
    }

    /// Sets this module's mode only (not its children's), to restore modes saved per module.
    public func setTrainingMode(_ mode: Bool) { isTraining = mode }


    /// Sets evaluation mode on this module and every descendant.
    public func eval() { train(false) }

    /// Stops gradients for every parameter (they keep their values and stay in state dicts).
    public func freeze() {
        for (_, tensor) in namedParameters() { tensor.setRequiresGrad(false) }
    }

    /// Lets gradients flow to every parameter again.
    public func unfreeze() {
        for (_, tensor) in namedParameters() { tensor.setRequiresGrad(true) }
    }

    /// The number of parameter elements.
    public var parameterCount: Int { namedParameters().reduce(0) { $0 + $1.tensor.count } }

    /// The number of parameter elements that require gradients.
    public var trainableParameterCount: Int {
        namedParameters().filter { $0.tensor.requiresGrad }.reduce(0) { $0 + $1.tensor.count }
    }

    /// Sets `grad` to nil on every parameter.
    public func zeroGrad() {
        for (_, tensor) in namedParameters() { tensor.zeroGrad() }
    }

    // MARK: - Copies

    /// A new module of the same structure (weights need not match: `copy()` loads them).
    /// Every built-in layer overrides this; a custom module overrides it to build the same
    /// architecture.
    open func makeCopy() -> Module {
        preconditionFailure("\(type(of: self)) does not implement makeCopy(); override it to build a module of the same structure, so copy() can load the weights into it")
    }

    /// An independent deep copy: same structure, equal parameters and buffers (own storage),
    /// same training mode and `requiresGrad` flags. The EMA teacher is made this way.
    public func copy() -> Self {
        let clone = makeCopy()
        guard let typed = clone as? Self else {
            preconditionFailure("\(type(of: self)).makeCopy() returned \(type(of: clone)), expected \(type(of: self))")
        }
        do {
            try typed.loadStateDict(stateDict(), strict: true)
        } catch {
            preconditionFailure("\(type(of: self)).makeCopy() built a different structure: \(error)")
        }
        let flags = Dictionary(namedParameters().map { ($0.name, $0.tensor.requiresGrad) }, uniquingKeysWith: { a, _ in a })
        for (name, tensor) in typed.namedParameters() { tensor.setRequiresGrad(flags[name] ?? true) }
        let modes = namedModules().map(\.module.isTraining)
        for (module, mode) in zip(typed.namedModules().map(\.module), modes) { module.setTrainingMode(mode) }
        return typed
    }
}

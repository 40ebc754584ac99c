import SSLTensor

/// An ordered list of modules named "0", "1", … (PyTorch's `nn.ModuleList`); it has no
/// forward of its own.
public final class ModuleList: Module {
    public let modules: [Module]
    public init(_ modules: [Module]) {
        self.modules = modules
        super.init()
        for (index, module) in modules.enumerated() { registerModule(String(index), module) }
    }
    public override func makeCopy() -> Module { ModuleList(modules.map { $0.makeCopy() }) }
}

/// Modules named by string keys, in sorted key order (PyTorch's `nn.ModuleDict`).
public final class ModuleDictionary: Module {
    public let modules: [String: Module]
    public init(_ modules: [String: Module]) {
        self.modules = modules
        super.init()
        for key in modules.keys.sorted() {
            if let module = modules[key] { registerModule(key, module) }
        }
    }
    public override func makeCopy() -> Module { ModuleDictionary(modules.mapValues { $0.makeCopy() }) }
}

import SSLTensor

/// Named tensors in a fixed order: a module's parameters and buffers (the keys of
/// checkpoints), or any other named state such as an optimizer's.
///
/// Integer entries (counters such as `num_batches_tracked`) are held as Float tensors and
/// written as int64 to safetensors, as PyTorch stores them.
///
/// ```swift
/// var state = model.stateDict()
/// try SafeTensors.write(state, to: "encoder.safetensors")
/// try model.loadStateDict(try SafeTensors.read(from: "encoder.safetensors"))
/// ```
public struct StateDict: Sendable {
    /// One named tensor.
    public struct Entry: Sendable {
        public var name: String
        public var tensor: Tensor
        public var isInteger: Bool
        public init(name: String, tensor: Tensor, isInteger: Bool = false) {
            self.name = name
            self.tensor = tensor
            self.isInteger = isInteger
        }
    }

    /// The entries in order.
    public private(set) var entries: [Entry] = []
    private var index: [String: Int] = [:]

    public init() {}

    public init(_ entries: [Entry]) {
        for entry in entries { self[entry.name, isInteger: entry.isInteger] = entry.tensor }
    }

    /// The keys in order.
    public var keys: [String] { entries.map(\.name) }
    /// The number of entries.
    public var count: Int { entries.count }

    /// The tensor stored under `name`, if any. Setting a new name appends it.
    public subscript(name: String) -> Tensor? {
        get { index[name].map { entries[$0].tensor } }
        set { self[name, isInteger: entry(named: name)?.isInteger ?? false] = newValue }
    }

    /// Sets or removes an entry, marking it integer or not.
    public subscript(name: String, isInteger isInteger: Bool) -> Tensor? {
        get { self[name] }
        set {
            if let newValue {
                if let position = index[name] {
                    entries[position] = Entry(name: name, tensor: newValue, isInteger: isInteger)
                } else {
                    index[name] = entries.count
                    entries.append(Entry(name: name, tensor: newValue, isInteger: isInteger))
                }
            } else if let position = index.removeValue(forKey: name) {
                entries.remove(at: position)
                for (key, value) in index where value > position { index[key] = value - 1 }
            }
        }
    }

    /// The entry stored under `name`.
    public func entry(named name: String) -> Entry? { index[name].map { entries[$0] } }

    /// The entries whose names start with `prefix + "."`, with the prefix removed.
    public func scoped(to prefix: String) -> StateDict {
        let lead = prefix + "."
        return StateDict(entries.filter { $0.name.hasPrefix(lead) }.map {
            Entry(name: String($0.name.dropFirst(lead.count)), tensor: $0.tensor, isInteger: $0.isInteger)
        })
    }

    /// These entries with `prefix + "."` before every name.
    public func prefixed(with prefix: String) -> StateDict {
        StateDict(entries.map { Entry(name: "\(prefix).\($0.name)", tensor: $0.tensor, isInteger: $0.isInteger) })
    }

    /// Adds every entry of `other` (replacing entries of the same name).
    public mutating func merge(_ other: StateDict) {
        for entry in other.entries { self[entry.name, isInteger: entry.isInteger] = entry.tensor }
    }
}

/// Why a state dict could not be loaded into a module.
public struct StateDictMismatch: Error, CustomStringConvertible, Equatable {
    /// Keys the module has but the state dict lacks.
    public var missingKeys: [String]
    /// Keys the state dict has but the module lacks.
    public var unexpectedKeys: [String]
    /// Keys whose shapes differ: (key, shape in the state dict, shape in the module).
    public var shapeMismatches: [ShapeMismatch]

    public struct ShapeMismatch: Equatable, Sendable {
        public var key: String
        public var stateShape: [Int]
        public var moduleShape: [Int]
        public init(key: String, stateShape: [Int], moduleShape: [Int]) {
            self.key = key
            self.stateShape = stateShape
            self.moduleShape = moduleShape
        }
    }

    public var description: String {
        var parts: [String] = []
        if !missingKeys.isEmpty { parts.append("missing keys: \(missingKeys.joined(separator: ", "))") }
        if !unexpectedKeys.isEmpty { parts.append("unexpected keys: \(unexpectedKeys.joined(separator: ", "))") }
        for mismatch in shapeMismatches {
            parts.append("size mismatch for \(mismatch.key): the state dict has shape \(mismatch.stateShape), the module has \(mismatch.moduleShape)")
        }
        return "Error(s) loading state dict: " + parts.joined(separator: "; ")
    }
}

extension Module {
    /// Parameters and buffers by dotted name (detached tensors sharing the module's storage).
    ///
    /// Keys come module by module, each module's parameters then its buffers, as PyTorch's
    /// `state_dict()` orders them.
    public func stateDict() -> StateDict {
        var state = StateDict()
        var seen = Set<ObjectIdentifier>()
        for (prefix, module) in namedModules() {
            func key(_ name: String) -> String { prefix.isEmpty ? name : "\(prefix).\(name)" }
            for (name, tensor) in module.ownParameters where seen.insert(ObjectIdentifier(tensor)).inserted {
                state[key(name), isInteger: false] = tensor.detach()
            }
            for (name, tensor, isInteger) in module.ownBuffers where seen.insert(ObjectIdentifier(tensor)).inserted {
                state[key(name), isInteger: isInteger] = tensor.detach()
            }
        }
        return state
    }

    /// Copies values from `state` into this module's parameters and buffers (in place, so the
    /// tensors an optimizer holds stay the same).
    ///
    /// With `strict` (the default), every key must match and nothing is loaded unless all do;
    /// the thrown `StateDictMismatch` lists every missing key, unexpected key and shape
    /// mismatch. Without it, matching keys load and the mismatch is returned. Shape mismatches
    /// always throw.
    @discardableResult
    public func loadStateDict(_ state: StateDict, strict: Bool = true) throws -> StateDictMismatch {
        var targets: [(String, Tensor)] = namedParameters().map { ($0.name, $0.tensor) }
        targets += namedBuffers().map { ($0.name, $0.tensor) }
        let targetNames = Set(targets.map(\.0))
        var mismatch = StateDictMismatch(missingKeys: [], unexpectedKeys: [], shapeMismatches: [])
        for (name, tensor) in targets {
            guard let value = state[name] else {
                mismatch.missingKeys.append(name)
                continue
            }
            if value.shape != tensor.shape && !(value.count == 1 && tensor.count == 1) {
                mismatch.shapeMismatches.append(.init(key: name, stateShape: value.shape, moduleShape: tensor.shape))
            }
        }
        mismatch.unexpectedKeys = state.keys.filter { !targetNames.contains($0) }
        let failed = !mismatch.shapeMismatches.isEmpty
            || (strict && !(mismatch.missingKeys.isEmpty && mismatch.unexpectedKeys.isEmpty))
        if failed { throw mismatch }
        noGrad {
            for (name, tensor) in targets {
                if let value = state[name] { tensor.copyIn(value.count == tensor.count ? value.reshape(tensor.shape) : value) }
            }
        }
        return mismatch
    }
}

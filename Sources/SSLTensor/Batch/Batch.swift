
/// One value of a `Batch`: a float tensor (images, embeddings, the loss) or integers (labels,
/// sample indices).
public enum BatchValue: Sendable {
    case tensor(Tensor)
    case integers(IntTensor)
}

/// A dictionary of named values that flows through the forward closure: the loader fills it
/// (`"image"` or `"views"`, `"label"`, `"sample_idx"`), the forward adds outputs (`"embedding"`,
/// `"loss"`).
///
/// `batch["image"]` reads a float tensor (integer entries are converted); `batch[integers:
/// "label"]` reads integers. Reading a missing key stops with a message listing the keys
/// present; `tensorIfPresent(_:)` is the optional lookup.
///
/// ```swift
/// var out = batch
/// out["embedding"] = backbone(batch["image"])
/// let labels = batch[integers: "label"]
/// ```
public struct Batch: Sendable, CustomStringConvertible {
    private var values: [String: BatchValue] = [:]

    public init() {}

    /// A batch with the given values.
    public init(_ values: [String: BatchValue]) { self.values = values }

    /// The keys present, sorted.
    public var keys: [String] { values.keys.sorted() }

    /// Whether `key` is present.
    public func contains(_ key: String) -> Bool { values[key] != nil }

    /// The raw value under `key`, if any.
    public func value(_ key: String) -> BatchValue? { values[key] }

    /// The float tensor under `key`, or nil when absent.
    public func tensorIfPresent(_ key: String) -> Tensor? {
        switch values[key] {
        case .tensor(let tensor): return tensor
        case .integers(let integers): return integers.asFloat
        case nil: return nil
        }
    }

    /// The integers under `key`, or nil when absent (float entries are rounded).
    public func integersIfPresent(_ key: String) -> IntTensor? {
        switch values[key] {
        case .integers(let integers): return integers
        case .tensor(let tensor): return IntTensor(shape: tensor.shape, scalars: tensor.scalars.map { Int($0.rounded()) })
        case nil: return nil
        }
    }

    /// The float tensor under `key`; a missing key stops with the keys present.
    public subscript(key: String) -> Tensor {
        get {
            guard let tensor = tensorIfPresent(key) else { missing(key) }
            return tensor
        }
        set { values[key] = .tensor(newValue) }
    }

    /// The integers under `key`; a missing key stops with the keys present.
    public subscript(integers key: String) -> IntTensor {
        get {
            guard let integers = integersIfPresent(key) else { missing(key) }
            return integers
        }
        set { values[key] = .integers(newValue) }
    }

    /// Removes `key` and returns its value.
    @discardableResult
    public mutating func removeValue(forKey key: String) -> BatchValue? { values.removeValue(forKey: key) }

    /// The entries of `other` added to (or replacing) these.
    public func merging(_ other: Batch) -> Batch {
        var result = self
        for (key, value) in other.values { result.values[key] = value }
        return result
    }

    private func missing(_ key: String) -> Never {
        preconditionFailure("Batch has no key \"\(key)\"; keys present: \(keys.joined(separator: ", "))")
    }

    public var description: String {
        let parts = keys.map { key -> String in
            switch values[key] {
            case .tensor(let tensor): return "\(key): \(tensor.shape)"
            case .integers(let integers): return "\(key): integers \(integers.shape)"
            case nil: return key
            }
        }
        return "Batch(\(parts.joined(separator: ", ")))"
    }
}

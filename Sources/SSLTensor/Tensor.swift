/// An N-dimensional array of `Float32` with reverse-mode automatic differentiation.
///
/// A tensor is a view (shape, strides, offset) over shared `TensorStorage`. Reshape, transpose,
/// permute, slice and expand make views without copying where the layout allows;
/// `contiguous()` copies only when needed. Operations return new tensors; when gradient
/// recording is on (the default, see `noGrad`) and an input has `requiresGrad`, the result
/// remembers how to push gradients back, and `backward()` fills `.grad` of the leaves.
///
/// ```swift
/// var generator = RandomGenerator(seed: 0)
/// let w = Tensor.normal([3, 2], generator: &generator).requiringGrad()
/// let x = Tensor(shape: [4, 3], scalars: (0..<12).map(Float.init))
/// let loss = x.matmul(w).relu().mean()
/// loss.backward()
/// print(w.grad!.shape)   // [3, 2]
/// ```
///
/// Tensors are reference types: a parameter updated in place by an optimizer is the same
/// object the model holds. They are not safe to mutate from several threads at once.
public final class Tensor: @unchecked Sendable {
    /// The size of each dimension.
    public let shape: [Int]
    /// The distance, in elements, between neighbours along each dimension.
    public let strides: [Int]
    /// The index of the first element in `storage`.
    public let offset: Int
    /// The memory this tensor views.
    public let storage: TensorStorage

    /// Whether gradients are accumulated into `grad` (leaves) or propagated (results).
    public internal(set) var requiresGrad: Bool
    /// The accumulated gradient of the last `backward()` calls (leaves only); same shape.
    public var grad: Tensor?
    /// The node that produced this tensor, when it was recorded for autograd.
    var gradFn: AutogradNode?

    init(storage: TensorStorage, shape: [Int], strides: [Int], offset: Int = 0,
         requiresGrad: Bool = false) {
        self.storage = storage
        self.shape = shape
        self.strides = strides
        self.offset = offset
        self.requiresGrad = requiresGrad
    }

    /// An uninitialised contiguous tensor (for kernels that write every element).
    init(uninitializedShape shape: [Int], context: ComputeContext = .current) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor: negative dimension in shape \(shape)")
        let count = shape.reduce(1, *)
        self.storage = TensorStorage(uninitializedCount: count, context: context)
        self.shape = shape
        self.strides = Tensor.contiguousStrides(for: shape)
        self.offset = 0
        self.requiresGrad = false
    }

    // MARK: - Shape facts

    /// The number of dimensions.
    @inlinable public var rank: Int { shape.count }
    /// The number of elements.
    public var count: Int { shape.reduce(1, *) }
    /// Whether the elements are laid out row-major without gaps.
    public var isContiguous: Bool { strides == Tensor.contiguousStrides(for: shape) }
    /// Whether this tensor was created by the user rather than computed by a recorded op.
    public var isLeaf: Bool { gradFn == nil }

    /// Row-major strides for a shape.
    public static func contiguousStrides(for shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var running = 1
        for axis in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[axis] = running
            running *= Swift.max(shape[axis], 1)
        }
        return strides
    }

    /// Normalises a possibly negative axis (`-1` is the last) and checks it is in range.
    @inlinable
    public func normalizedAxis(_ axis: Int, operation: String) -> Int {
        let resolved = axis < 0 ? axis + rank : axis
        precondition(resolved >= 0 && resolved < rank,
                     "\(operation): axis \(axis) is out of range for shape \(shape) (rank \(rank))")
        return resolved
    }

    // MARK: - Gradient flags

    /// Marks a leaf as a variable whose gradient `backward()` accumulates; returns `self`.
    @discardableResult
    public func requiringGrad(_ flag: Bool = true) -> Tensor {
        precondition(gradFn == nil || flag,
                     "requiringGrad(false): only leaves can stop requiring grad; use detach()")
        requiresGrad = flag
        return self
    }

    /// Sets `requiresGrad` on a leaf (for freezing and unfreezing parameters).
    public func setRequiresGrad(_ flag: Bool) {
        precondition(gradFn == nil,
                     "setRequiresGrad: only leaves can change requiresGrad (this tensor is computed)")
        requiresGrad = flag
    }

    /// A tensor sharing this one's storage, cut from the graph (no gradient flows through it).
    public func detach() -> Tensor {
        Tensor(storage: storage, shape: shape, strides: strides, offset: offset)
    }

    /// Sets `grad` to nil.
    public func zeroGrad() { grad = nil }

    // MARK: - Read-out

    /// The single value of a one-element tensor.
    public func item() -> Float {
        precondition(count == 1, "item(): tensor has shape \(shape) (\(count) elements), expected 1")
        return storage.pointer[offset]
    }

    /// All values in row-major order.
    public var scalars: [Float] {
        let source = contiguous()
        return Array(UnsafeBufferPointer(start: source.storage.pointer + source.offset, count: count))
    }

    /// The value at a multi-index.
    public subscript(_ indices: Int...) -> Float {
        precondition(indices.count == rank,
                     "Tensor subscript: \(indices.count) indices for shape \(shape)")
        var position = offset
        for (axis, index) in indices.enumerated() {
            precondition(index >= 0 && index < shape[axis],
                         "Tensor subscript: index \(index) out of range for axis \(axis) of shape \(shape)")
            position += index * strides[axis]
        }
        return storage.pointer[position]
    }

    /// Calls `body` with the elements in row-major order (copying first if not contiguous).
    public func withContiguousBuffer<Result>(_ body: (UnsafeBufferPointer<Float>) throws -> Result)
        rethrows -> Result
    {
        let source = contiguous()
        return try body(UnsafeBufferPointer(start: source.storage.pointer + source.offset, count: count))
    }

    /// Calls `body` with the elements of a contiguous tensor for in-place updates (optimizer
    /// steps, EMA, counters). Not recorded by autograd; views sharing the storage see the
    /// change.
    public func withUnsafeMutableElements<Result>(
        _ body: (UnsafeMutableBufferPointer<Float>) throws -> Result
    ) rethrows -> Result {
        precondition(isContiguous,
                     "withUnsafeMutableElements: tensor of shape \(shape) is a non-contiguous view; make it contiguous first")
        return try body(UnsafeMutableBufferPointer(start: storage.pointer + offset, count: count))
    }

    /// The base pointer of a contiguous tensor (internal; callers hold `self` alive).
    @inline(__always)
    var dataPointer: UnsafeMutablePointer<Float> { storage.pointer + offset }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let values = count <= 16 ? "\(scalars)" : "\(Array(scalars.prefix(16)))…"
        let flag = requiresGrad ? ", requiresGrad" : ""
        return "Tensor(shape: \(shape)\(flag), \(values))"
    }
}

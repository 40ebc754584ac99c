/// An integer tensor for labels, class indices and sample indices: a shape and row-major
/// values. It takes part in indexing ops (`gather`, `indexSelect`, `crossEntropy`) but is never
/// differentiated.
///
/// ```swift
/// let labels = IntTensor([3, 0, 1])
/// let loss = logits.crossEntropy(targets: labels)
/// ```
public struct IntTensor: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// The size of each dimension.
    public let shape: [Int]
    /// The values in row-major order.
    public var scalars: [Int]

    /// An integer tensor of the given shape.
    public init(shape: [Int], scalars: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "IntTensor: negative dimension in shape \(shape)")
        let count = shape.reduce(1, *)
        precondition(count == scalars.count,
                     "IntTensor: shape \(shape) holds \(count) values but \(scalars.count) were given")
        self.shape = shape
        self.scalars = scalars
    }

    /// A 1-D integer tensor.
    public init(_ scalars: [Int]) {
        self.init(shape: [scalars.count], scalars: scalars)
    }

    /// The number of values.
    public var count: Int { scalars.count }

    /// The values as a float tensor of the same shape.
    public var asFloat: Tensor { Tensor(shape: shape, scalars: scalars.map { Float($0) }) }

    public var description: String { "IntTensor(shape: \(shape), \(scalars.prefix(16))\(count > 16 ? "…" : ""))" }
}

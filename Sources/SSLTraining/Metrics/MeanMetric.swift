/// A running (weighted) mean, accumulated in double precision.
///
/// ```swift
/// var loss = MeanMetric()
/// loss.update(0.5, weight: 32)
/// print(loss.compute())
/// ```
public struct MeanMetric: Sendable {
    private var total: Double = 0
    private var weight: Double = 0

    public init() {}

    public mutating func update(_ value: Float, weight: Float = 1) {
        total += Double(value) * Double(weight)
        self.weight += Double(weight)
    }

    /// The mean so far (NaN before any update).
    public func compute() -> Float { weight > 0 ? Float(total / weight) : .nan }

    public mutating func reset() {
        total = 0
        weight = 0
    }
}

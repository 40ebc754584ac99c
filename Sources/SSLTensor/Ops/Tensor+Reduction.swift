// MARK: - Reductions

extension Tensor {
    /// Resolves and sorts reduction axes (all axes when nil).
    func reductionAxes(_ axes: [Int]?, operation: String) -> [Int] {
        guard let axes else { return Array(0..<rank) }
        let resolved = axes.map { normalizedAxis($0, operation: operation) }
        precondition(Set(resolved).count == resolved.count, "\(operation): repeated axis in \(axes)")
        return resolved.sorted()
    }

    /// The shape after reducing `axes`, with or without the reduced axes kept as size 1.
    func reducedShape(_ axes: [Int], keepDims: Bool) -> [Int] {
        keepDims ? shape.enumerated().map { axes.contains($0.offset) ? 1 : $0.element }
            : shape.enumerated().filter { !axes.contains($0.offset) }.map(\.element)
    }

    /// The sum over `axes` (all when nil).
    ///
    /// ```swift
    /// let perRow = x.sum(axes: [1])                  // [N, C] → [N]
    /// let kept = x.sum(axes: [0], keepDims: true)     // [N, C] → [1, C]
    /// ```
    public func sum(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
        let resolved = reductionAxes(axes, operation: "sum")
        let reduced = reduce(axes: resolved, kind: .sum, operation: "sum")
        let inputShape = shape
        let keptShape = reduced.shape
        let result = keepDims ? reduced : reduced.reshapeView(reducedShape(resolved, keepDims: false))
        return Tensor.record(result, operation: "sum", inputs: [self]) { gradient, _ in
            [gradient.reshape(keptShape).expand(inputShape)]
        }
    }

    /// The sum over one axis.
    public func sum(axis: Int, keepDims: Bool = false) -> Tensor { sum(axes: [axis], keepDims: keepDims) }

    /// The mean over `axes` (all when nil).
    public func mean(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
        let resolved = reductionAxes(axes, operation: "mean")
        let elements = resolved.map { shape[$0] }.reduce(1, *)
        return sum(axes: resolved, keepDims: keepDims) * (1 / Float(Swift.max(elements, 1)))
    }

    /// The mean over one axis.
    public func mean(axis: Int, keepDims: Bool = false) -> Tensor { mean(axes: [axis], keepDims: keepDims) }

    /// The maximum over `axes` (all when nil). The gradient is shared equally among tied
    /// maxima (PyTorch's `amax`).
    public func max(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
        extremum(axes: axes, keepDims: keepDims, kind: .max, operation: "max")
    }

    /// The minimum over `axes` (all when nil); gradients as for `max`.
    public func min(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
        extremum(axes: axes, keepDims: keepDims, kind: .min, operation: "min")
    }

    private func extremum(axes: [Int]?, keepDims: Bool, kind: ReductionKind, operation: String) -> Tensor {
        let resolved = reductionAxes(axes, operation: operation)
        let reduced = reduce(axes: resolved, kind: kind, operation: operation)
        let savedInput = detach(), savedExtremum = reduced.detach()
        let keptShape = reduced.shape
        let result = keepDims ? reduced : reduced.reshapeView(reducedShape(resolved, keepDims: false))
        return Tensor.record(result, operation: operation, inputs: [self]) { gradient, _ in
            let mask = Tensor.zipElements(savedInput, savedExtremum, operation: "\(operation) backward", Elementwise.Equal())
            let ties = mask.reduce(axes: resolved, kind: .sum, operation: "\(operation) backward")
            let share = gradient.reshape(keptShape) / ties
            return [mask * share]
        }
    }

    /// The variance over `axes` (all when nil) with Bessel's `correction` (1, the unbiased
    /// estimate, as PyTorch's default; 0 for the population variance).
    public func variance(axes: [Int]? = nil, correction: Int = 1, keepDims: Bool = false) -> Tensor {
        let resolved = reductionAxes(axes, operation: "variance")
        let elements = resolved.map { shape[$0] }.reduce(1, *)
        precondition(elements - correction > 0,
                     "variance: \(elements) elements over axes \(resolved) of shape \(shape) with correction \(correction)")
        let centered = self - mean(axes: resolved, keepDims: true)
        let squares = (centered * centered).sum(axes: resolved, keepDims: keepDims)
        return squares * (1 / Float(elements - correction))
    }

    /// An unrecorded reshape of a contiguous tensor.
    func reshapeView(_ newShape: [Int]) -> Tensor {
        Tensor(storage: storage, shape: newShape, strides: Tensor.contiguousStrides(for: newShape), offset: offset)
    }
}

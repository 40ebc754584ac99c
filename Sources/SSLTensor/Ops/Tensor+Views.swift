// MARK: - Views and layout

extension Tensor {
    /// This tensor with a row-major layout: itself when already contiguous, else a copy.
    /// Gradients pass through unchanged.
    public func contiguous() -> Tensor {
        if isContiguous { return self }
        let result = contiguousCopy()
        return Tensor.record(result, operation: "contiguous", inputs: [self]) { gradient, _ in [gradient] }
    }

    /// The same elements with a new shape; one dimension may be -1 (inferred). A view when
    /// the layout allows, else a copy.
    public func reshape(_ newShape: [Int]) -> Tensor {
        var resolved = newShape
        let inferred = newShape.indices.filter { newShape[$0] == -1 }
        precondition(inferred.count <= 1, "reshape: more than one -1 in \(newShape)")
        if let axis = inferred.first {
            let known = newShape.filter { $0 != -1 }.reduce(1, *)
            precondition(known > 0 && count % known == 0,
                         "reshape: cannot reshape \(shape) (\(count) elements) to \(newShape)")
            resolved[axis] = count / known
        }
        precondition(resolved.reduce(1, *) == count,
                     "reshape: cannot reshape \(shape) (\(count) elements) to \(newShape) (\(resolved.reduce(1, *)) elements)")
        if resolved == shape { return self }
        let source = contiguous()
        let view = Tensor(storage: source.storage, shape: resolved,
                          strides: Tensor.contiguousStrides(for: resolved), offset: source.offset)
        let inputShape = shape
        return Tensor.record(view, operation: "reshape", inputs: [source]) { gradient, _ in
            [gradient.reshape(inputShape)]
        }
    }

    /// Flattens axes `startAxis…` into one (`[N, C, H, W]` → `[N, C·H·W]` by default).
    public func flatten(startAxis: Int = 1) -> Tensor {
        let start = normalizedAxis(startAxis, operation: "flatten")
        return reshape(Array(shape[..<start]) + [shape[start...].reduce(1, *)])
    }

    /// Inserts an axis of size 1 at `axis`.
    public func unsqueeze(_ axis: Int) -> Tensor {
        let resolved = axis < 0 ? axis + rank + 1 : axis
        precondition(resolved >= 0 && resolved <= rank, "unsqueeze: axis \(axis) out of range for shape \(shape)")
        var newShape = shape
        newShape.insert(1, at: resolved)
        return reshape(newShape)
    }

    /// Removes axes of size 1 (all of them, or the given one).
    public func squeeze(_ axis: Int? = nil) -> Tensor {
        if let axis {
            let resolved = normalizedAxis(axis, operation: "squeeze")
            precondition(shape[resolved] == 1, "squeeze: axis \(axis) of shape \(shape) has size \(shape[resolved]), not 1")
            var newShape = shape
            newShape.remove(at: resolved)
            return reshape(newShape)
        }
        return reshape(shape.filter { $0 != 1 })
    }

    /// Reorders the axes: result axis i is input axis `order[i]` (a view).
    public func permute(_ order: [Int]) -> Tensor {
        precondition(order.count == rank && Set(order) == Set(0..<rank),
                     "permute: \(order) is not a permutation of the axes of shape \(shape)")
        if order == Array(0..<rank) { return self }
        let view = Tensor(storage: storage, shape: order.map { shape[$0] },
                          strides: order.map { strides[$0] }, offset: offset)
        var inverse = [Int](repeating: 0, count: rank)
        for (position, axis) in order.enumerated() { inverse[axis] = position }
        return Tensor.record(view, operation: "permute", inputs: [self]) { gradient, _ in
            [gradient.permute(inverse)]
        }
    }

    /// Swaps two axes (a view). `transposed()` swaps the last two.
    public func transpose(_ axis0: Int, _ axis1: Int) -> Tensor {
        let a = normalizedAxis(axis0, operation: "transpose")
        let b = normalizedAxis(axis1, operation: "transpose")
        var order = Array(0..<rank)
        order.swapAt(a, b)
        return permute(order)
    }

    /// The matrix transpose of the last two axes.
    public func transposed() -> Tensor {
        precondition(rank >= 2, "transposed: needs at least 2 dimensions, shape is \(shape)")
        return transpose(rank - 2, rank - 1)
    }

    /// Elements `range` (with `step`) along `axis` (a view).
    public func slice(axis: Int, _ range: Range<Int>, step: Int = 1) -> Tensor {
        let resolved = normalizedAxis(axis, operation: "slice")
        precondition(step > 0, "slice: step must be positive, got \(step)")
        precondition(range.lowerBound >= 0 && range.upperBound <= shape[resolved],
                     "slice: range \(range) is out of bounds for axis \(axis) of shape \(shape)")
        var newShape = shape
        newShape[resolved] = (range.count + step - 1) / step
        var newStrides = strides
        newStrides[resolved] *= step
        let view = Tensor(storage: storage, shape: newShape, strides: newStrides,
                          offset: offset + range.lowerBound * strides[resolved])
        let inputShape = shape
        return Tensor.record(view, operation: "slice", inputs: [self]) { gradient, _ in
            let full = Tensor.zeros(inputShape)
            full.sliceView(axis: resolved, range, step: step).assign(from: gradient, operation: "slice backward")
            return [full]
        }
    }

    /// An unrecorded slice view (for kernels and backward rules).
    func sliceView(axis: Int, _ range: Range<Int>, step: Int = 1) -> Tensor {
        var newShape = shape
        newShape[axis] = (range.count + step - 1) / step
        var newStrides = strides
        newStrides[axis] *= step
        return Tensor(storage: storage, shape: newShape, strides: newStrides,
                      offset: offset + range.lowerBound * strides[axis])
    }

    /// Repeats axes of size 1 (and prepends axes) to reach `targetShape` without copying.
    public func expand(_ targetShape: [Int]) -> Tensor {
        if targetShape == shape { return self }
        let view = Tensor(storage: storage, shape: targetShape,
                          strides: broadcastStrides(to: targetShape, operation: "expand"), offset: offset)
        let inputShape = shape
        return Tensor.record(view, operation: "expand", inputs: [self]) { gradient, _ in
            [gradient.sumToShape(inputShape)]
        }
    }

    /// Sums a broadcast result back to `target` (the reverse of broadcasting).
    public func sumToShape(_ target: [Int]) -> Tensor {
        if shape == target { return self }
        precondition(rank >= target.count, "sumToShape: cannot reduce \(shape) to \(target)")
        let lead = rank - target.count
        var axes = Array(0..<lead)
        for axis in 0..<target.count where target[axis] == 1 && shape[axis + lead] != 1 {
            axes.append(axis + lead)
        }
        let reduced = axes.isEmpty ? self : sum(axes: axes, keepDims: true)
        return reduced.reshape(target)
    }
}

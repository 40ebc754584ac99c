// MARK: - Concatenating and splitting

extension Tensor {
    /// Joins tensors along an existing axis; all other axes must match.
    ///
    /// ```swift
    /// let both = Tensor.concat([view1, view2], axis: 0)   // [2N, D]
    /// ```
    public static func concat(_ tensors: [Tensor], axis: Int = 0) -> Tensor {
        precondition(!tensors.isEmpty, "concat: no tensors given")
        let first = tensors[0]
        let resolved = first.normalizedAxis(axis, operation: "concat")
        for (index, tensor) in tensors.enumerated() {
            var expected = first.shape, actual = tensor.shape
            precondition(actual.count == expected.count,
                         "concat: tensor \(index) has shape \(tensor.shape), expected rank \(first.rank) like \(first.shape)")
            expected[resolved] = 0
            actual[resolved] = 0
            precondition(actual == expected,
                         "concat: tensor \(index) has shape \(tensor.shape), incompatible with \(first.shape) along axis \(resolved)")
        }
        var shape = first.shape
        let sizes = tensors.map { $0.shape[resolved] }
        shape[resolved] = sizes.reduce(0, +)
        let result = Tensor(uninitializedShape: shape)
        var start = 0
        for (tensor, size) in zip(tensors, sizes) {
            result.sliceView(axis: resolved, start..<(start + size)).assign(from: tensor, operation: "concat")
            start += size
        }
        return record(result, operation: "concat", inputs: tensors) { gradient, needs in
            var offset = 0
            return zip(sizes, needs).map { size, needed in
                defer { offset += size }
                return needed ? gradient.sliceView(axis: resolved, offset..<(offset + size)) : nil
            }
        }
    }

    /// Joins tensors of one shape along a new axis.
    public static func stack(_ tensors: [Tensor], axis: Int = 0) -> Tensor {
        precondition(!tensors.isEmpty, "stack: no tensors given")
        let shape = tensors[0].shape
        precondition(tensors.allSatisfy { $0.shape == shape },
                     "stack: shapes differ: \(tensors.map(\.shape))")
        return concat(tensors.map { $0.unsqueeze(axis) }, axis: axis)
    }

    /// Splits along `axis` into pieces of the given sizes (views).
    public func split(sizes: [Int], axis: Int = 0) -> [Tensor] {
        let resolved = normalizedAxis(axis, operation: "split")
        precondition(sizes.allSatisfy { $0 >= 0 } && sizes.reduce(0, +) == shape[resolved],
                     "split: sizes \(sizes) do not add up to \(shape[resolved]) (axis \(resolved) of \(shape))")
        var start = 0
        return sizes.map { size in
            defer { start += size }
            return slice(axis: resolved, start..<(start + size))
        }
    }

    /// Splits along `axis` into `count` pieces of equal size (the last may be smaller), as
    /// PyTorch's `chunk`.
    public func chunk(_ count: Int, axis: Int = 0) -> [Tensor] {
        let resolved = normalizedAxis(axis, operation: "chunk")
        precondition(count > 0, "chunk: count must be positive, got \(count)")
        let size = shape[resolved]
        let pieceSize = Swift.max(1, (size + count - 1) / count)
        var sizes: [Int] = []
        var remaining = size
        while remaining > 0 {
            sizes.append(Swift.min(pieceSize, remaining))
            remaining -= pieceSize
        }
        return split(sizes: sizes.isEmpty ? [0] : sizes, axis: resolved)
    }
}

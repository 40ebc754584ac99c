// MARK: - Gathering and filling

extension Tensor {
    /// Picks, along `axis`, the element named by `index` at every position (PyTorch's
    /// `gather`): for axis 1 of a 2-D tensor, `out[i][j] = self[i][index[i][j]]`. `index` has
    /// this tensor's rank and no larger size on other axes.
    public func gather(axis: Int, index: IntTensor) -> Tensor {
        let resolved = normalizedAxis(axis, operation: "gather")
        precondition(index.shape.count == rank,
                     "gather: index shape \(index.shape) must have rank \(rank) like input \(shape)")
        for a in 0..<rank where a != resolved {
            precondition(index.shape[a] <= shape[a],
                         "gather: index shape \(index.shape) exceeds input \(shape) on axis \(a)")
        }
        let source = contiguousCopyIfNeeded()
        let result = Tensor(uninitializedShape: index.shape)
        let inputStrides = source.strides
        let positions = Tensor.gatherPositions(index: index, axis: resolved, inputShape: shape, inputStrides: inputStrides)
        let x = source.dataPointer, y = result.dataPointer
        for (i, position) in positions.enumerated() { y[i] = x[position] }
        let inputShape = shape
        return Tensor.record(result, operation: "gather", inputs: [self]) { gradient, _ in
            let gradient = gradient.contiguousCopyIfNeeded()
            let inputGradient = Tensor.zeros(inputShape)
            let dx = inputGradient.dataPointer, dy = gradient.dataPointer
            for (i, position) in positions.enumerated() { dx[position] += dy[i] }
            return [inputGradient]
        }
    }

    /// Flat input positions addressed by a gather index.
    private static func gatherPositions(index: IntTensor, axis: Int, inputShape: [Int], inputStrides: [Int]) -> [Int] {
        let indexStrides = Tensor.contiguousStrides(for: index.shape)
        var positions = [Int](repeating: 0, count: index.count)
        for flat in 0..<index.count {
            var remainder = flat
            var position = 0
            for a in 0..<index.shape.count {
                let coordinate = remainder / indexStrides[a]
                remainder %= indexStrides[a]
                if a == axis {
                    let target = index.scalars[flat]
                    precondition(target >= 0 && target < inputShape[axis],
                                 "gather: index \(target) out of range for axis \(axis) of size \(inputShape[axis])")
                    position += target * inputStrides[a]
                } else {
                    position += coordinate * inputStrides[a]
                }
            }
            positions[flat] = position
        }
        return positions
    }

    /// The entries `indices` along `axis` (PyTorch's `index_select`); indices may repeat.
    ///
    /// ```swift
    /// let firstView = embeddings.indexSelect(axis: 0, indices: [0, 2, 4])
    /// ```
    public func indexSelect(axis: Int, indices: [Int]) -> Tensor {
        let resolved = normalizedAxis(axis, operation: "indexSelect")
        let size = shape[resolved]
        for index in indices {
            precondition(index >= 0 && index < size,
                         "indexSelect: index \(index) out of range for axis \(resolved) of size \(size) (shape \(shape))")
        }
        let source = contiguousCopyIfNeeded()
        let outer = shape[..<resolved].reduce(1, *), inner = shape[(resolved + 1)...].reduce(1, *)
        var resultShape = shape
        resultShape[resolved] = indices.count
        let result = Tensor(uninitializedShape: resultShape)
        let x = source.dataPointer, y = result.dataPointer
        for o in 0..<outer {
            for (j, index) in indices.enumerated() {
                (y + (o * indices.count + j) * inner).update(from: x + (o * size + index) * inner, count: inner)
            }
        }
        let inputShape = shape
        return Tensor.record(result, operation: "indexSelect", inputs: [self]) { gradient, _ in
            let gradient = gradient.contiguousCopyIfNeeded()
            let inputGradient = Tensor.zeros(inputShape)
            let dx = inputGradient.dataPointer, dy = gradient.dataPointer
            for o in 0..<outer {
                for (j, index) in indices.enumerated() {
                    let from = dy + (o * indices.count + j) * inner, to = dx + (o * size + index) * inner
                    for i in 0..<inner { to[i] += from[i] }
                }
            }
            return [inputGradient]
        }
    }

    /// `value` where `mask` (broadcast to this shape) is non-zero, this tensor elsewhere. No
    /// gradient flows to the filled positions.
    public func maskedFill(_ mask: Tensor, value: Float) -> Tensor {
        let result = Tensor.zipElements(self, mask.expand(shape), operation: "maskedFill", Elementwise.FillWhere(value: value))
        let savedMask = mask.detach()
        let inputShape = shape
        return Tensor.record(result, operation: "maskedFill", inputs: [self]) { gradient, _ in
            [Tensor.zipElements(gradient, savedMask.expand(inputShape), operation: "maskedFill backward", Elementwise.FillWhere(value: 0))]
        }
    }

    /// A copy with the main diagonal of the last two axes set to `value` (PyTorch's
    /// `fill_diagonal_`, out of place); no gradient flows to the diagonal.
    public func diagonalFill(_ value: Float) -> Tensor {
        precondition(rank >= 2, "diagonalFill: needs at least 2 dimensions, shape is \(shape)")
        let result = contiguousCopy()
        Tensor.setDiagonal(result, to: value)
        return Tensor.record(result, operation: "diagonalFill", inputs: [self]) { gradient, _ in
            let inputGradient = gradient.contiguousCopy()
            Tensor.setDiagonal(inputGradient, to: 0)
            return [inputGradient]
        }
    }

    private static func setDiagonal(_ tensor: Tensor, to value: Float) {
        let rows = tensor.shape[tensor.rank - 2], columns = tensor.shape[tensor.rank - 1]
        let matrices = tensor.count / Swift.max(rows * columns, 1)
        let pointer = tensor.dataPointer
        for matrix in 0..<matrices {
            for i in 0..<Swift.min(rows, columns) { pointer[matrix * rows * columns + i * columns + i] = value }
        }
    }
}

// MARK: - Comparisons, argmax and top-k (not differentiable)

extension Tensor {
    /// 1 where `self > other` (broadcast), else 0.
    public func isGreater(than other: Tensor) -> Tensor { Tensor.zipElements(self, other, operation: "isGreater", Elementwise.Greater()) }
    /// 1 where `self < other` (broadcast), else 0.
    public func isLess(than other: Tensor) -> Tensor { Tensor.zipElements(self, other, operation: "isLess", Elementwise.Less()) }
    /// 1 where `self == other` (broadcast), else 0.
    public func isEqual(to other: Tensor) -> Tensor { Tensor.zipElements(self, other, operation: "isEqual", Elementwise.Equal()) }
    /// 1 where `self >= other` (broadcast), else 0.
    public func isGreaterOrEqual(to other: Tensor) -> Tensor {
        Tensor.zipElements(self, other, operation: "isGreaterOrEqual", Elementwise.GreaterOrEqual())
    }
    /// 1 where `self <= other` (broadcast), else 0.
    public func isLessOrEqual(to other: Tensor) -> Tensor {
        Tensor.zipElements(self, other, operation: "isLessOrEqual", Elementwise.LessOrEqual())
    }
    /// 1 where `self > value`, else 0.
    public func isGreater(than value: Float) -> Tensor { isGreater(than: Tensor(value)) }
    /// 1 where `self < value`, else 0.
    public func isLess(than value: Float) -> Tensor { isLess(than: Tensor(value)) }

    /// The index of the largest value along `axis` (the first on ties).
    public func argmax(axis: Int = -1) -> IntTensor {
        let resolved = normalizedAxis(axis, operation: "argmax")
        let (values, indices) = topK(1, axis: resolved)
        _ = values
        return IntTensor(shape: shape.enumerated().filter { $0.offset != resolved }.map(\.element),
                         scalars: indices.scalars)
    }

    /// The `k` largest values along `axis`, in descending order (ties by lower index), and
    /// their indices.
    public func topK(_ k: Int, axis: Int = -1) -> (values: Tensor, indices: IntTensor) {
        let resolved = normalizedAxis(axis, operation: "topK")
        let size = shape[resolved]
        precondition(k >= 0 && k <= size, "topK: k = \(k) exceeds size \(size) of axis \(resolved) (shape \(shape))")
        let moved = transpose(resolved, rank - 1).detach().contiguousCopy()
        let rows = size == 0 ? 0 : moved.count / size
        var values = [Float](repeating: 0, count: rows * k)
        var indices = [Int](repeating: 0, count: rows * k)
        let x = moved.dataPointer
        var order = [Int](repeating: 0, count: size)
        for row in 0..<rows {
            let base = x + row * size
            for i in 0..<size { order[i] = i }
            order.sort { a, b in
                let va = base[a], vb = base[b]
                return va > vb || (va == vb && a < b) || (va.isNaN && !vb.isNaN)
            }
            for j in 0..<k {
                values[row * k + j] = base[order[j]]
                indices[row * k + j] = order[j]
            }
        }
        var movedShape = moved.shape
        movedShape[rank - 1] = k
        let valueTensor = Tensor(shape: movedShape, scalars: values).transpose(resolved, rank - 1).contiguousCopy()
        let indexTensor = Tensor(shape: movedShape, scalars: indices.map(Float.init)).transpose(resolved, rank - 1).contiguousCopy()
        return (valueTensor, IntTensor(shape: indexTensor.shape, scalars: indexTensor.scalars.map { Int($0) }))
    }
}

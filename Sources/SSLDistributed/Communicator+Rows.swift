import SSLTensor

// MARK: - Gathering rows of different counts

extension Communicator {
    /// Every rank's rows of `columns` values, rank after rank, where the ranks may hold
    /// different numbers of rows (none included): what evaluation callbacks gather (embeddings,
    /// labels, keys). Returns the values and each rank's row count. Two collectives: the counts,
    /// then the rows padded to the largest count. Every rank must pass the same `columns`.
    ///
    /// ```swift
    /// let (labels, counts) = communicator.allGatherRows(localLabels, columns: 1)
    /// ```
    public func allGatherRows(_ values: [Float], columns: Int) -> (values: [Float], counts: [Int]) {
        gatherRows(values, columns: columns, padding: 0) { allGather($0, into: $1) }
    }

    /// Integer rows of different counts, rank after rank (see the `Float` version).
    public func allGatherRows(_ values: [Int], columns: Int) -> (values: [Int], counts: [Int]) {
        gatherRows(values, columns: columns, padding: 0) { allGather($0, into: $1) }
    }

    /// Every rank's `tensor` (`[n, …]`, `n` may differ between ranks, the other axes may not)
    /// concatenated along axis 0, rank after rank; detached (not recorded for autograd; see
    /// `allGather(_:)` for the differentiable, equal-count version).
    ///
    /// ```swift
    /// let bankRows = communicator.allGatherRows(embeddings.detach())   // [Σ n, D]
    /// ```
    public func allGatherRows(_ tensor: Tensor) -> Tensor {
        precondition(tensor.rank >= 1, "allGatherRows(Tensor): needs at least one axis, got shape \(tensor.shape)")
        guard worldSize > 1 else { return tensor.detach() }
        let trailing = Array(tensor.shape.dropFirst())
        let columns = trailing.reduce(1, *)
        var check = [columns, -columns]
        allReduce(&check, .max)
        precondition(check[0] == -check[1], "allGatherRows(Tensor): rank \(rank) has rows of shape \(trailing) (\(columns) values), other ranks rows of \(-check[1]) to \(check[0]) values; every rank needs the same trailing shape")
        let gathered = allGatherRows(tensor.contiguousCopy().scalars, columns: columns)
        let total = gathered.counts.reduce(0, +)
        return Tensor(shape: [total] + trailing, scalars: gathered.values)
    }

    private func gatherRows<Element>(_ values: [Element], columns: Int, padding: Element,
                                     gather: (UnsafeBufferPointer<Element>, UnsafeMutableBufferPointer<Element>) -> Void)
        -> (values: [Element], counts: [Int])
    {
        precondition(columns >= 1 && values.count % columns == 0,
                     "allGatherRows: \(values.count) values do not make rows of \(columns)")
        let rows = values.count / columns
        guard worldSize > 1 else { return (values, [rows]) }
        let counts = allGather([rows])
        let largest = counts.max() ?? 0
        guard largest > 0 else { return ([], counts) }
        var padded = values
        padded.append(contentsOf: repeatElement(padding, count: (largest - rows) * columns))
        var all = [Element](repeating: padding, count: largest * columns * worldSize)
        padded.withUnsafeBufferPointer { input in all.withUnsafeMutableBufferPointer { gather(input, $0) } }
        var result: [Element] = []
        result.reserveCapacity(counts.reduce(0, +) * columns)
        for (source, count) in counts.enumerated() {
            let start = source * largest * columns
            result.append(contentsOf: all[start ..< start + count * columns])
        }
        return (result, counts)
    }
}

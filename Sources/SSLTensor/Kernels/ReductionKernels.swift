/// Which reduction a kernel computes.
enum ReductionKind: Sendable { case sum, max, min }

extension Tensor {
    /// Reduces `axes` (sorted, distinct, valid) of this tensor into a contiguous tensor with
    /// those axes kept at size 1. Runs as `[outer, reduced, inner]` over a contiguous input,
    /// permuting first when the reduced axes are not adjacent.
    func reduce(axes: [Int], kind: ReductionKind, operation: String) -> Tensor {
        var keptShape = shape
        for axis in axes { keptShape[axis] = 1 }
        let result = Tensor(uninitializedShape: keptShape)
        if count == 0 {
            result.fill(with: kind == .sum ? 0 : (kind == .max ? -.infinity : .infinity))
            return result
        }
        precondition(kind == .sum || axes.allSatisfy { shape[$0] > 0 },
                     "\(operation): cannot take max/min over an empty axis of shape \(shape)")
        let adjacent = axes.isEmpty || (axes.first.map { first in axes.last.map { $0 - first + 1 == axes.count } ?? false } ?? false)
        let source: Tensor
        let outer: Int, reduced: Int, inner: Int
        if adjacent, let first = axes.first, let last = axes.last {
            source = contiguousCopyIfNeeded()
            outer = shape[..<first].reduce(1, *)
            reduced = shape[first...last].reduce(1, *)
            inner = shape[(last + 1)...].reduce(1, *)
        } else if axes.isEmpty {
            result.assign(from: self)
            return result
        } else {
            let kept = (0..<rank).filter { !axes.contains($0) }
            source = permuteView(kept + axes).contiguousCopy()
            outer = kept.map { shape[$0] }.reduce(1, *)
            reduced = axes.map { shape[$0] }.reduce(1, *)
            inner = 1
        }
        Tensor.reduceKernel(source.dataPointer, outer: outer, reduced: reduced, inner: inner,
                            kind: kind, into: result.dataPointer)
        return result
    }

    /// Self when contiguous, else an unrecorded contiguous copy.
    func contiguousCopyIfNeeded() -> Tensor { isContiguous ? self : contiguousCopy() }

    /// An unrecorded permuted view.
    func permuteView(_ order: [Int]) -> Tensor {
        Tensor(storage: storage, shape: order.map { shape[$0] }, strides: order.map { strides[$0] },
               offset: offset)
    }

    /// out[o, i] = reduce over r of x[o, r, i].
    static func reduceKernel(
        _ input: UnsafeMutablePointer<Float>, outer: Int, reduced: Int, inner: Int,
        kind: ReductionKind, into output: UnsafeMutablePointer<Float>
    ) {
        let x = SendablePointer(input), y = SendablePointer(output)
        let threads = outer * reduced * inner >= 1 << 15 ? ComputeContext.current.threadCount : 1
        if inner == 1 {
            ParallelLoop.forEachChunk(count: outer, minimumChunk: 1, threads: threads) { rows in
                for row in rows {
                    let values = UnsafePointer(x.base + row &* reduced)
                    y.base[row] = reduceRow(values, count: reduced, kind: kind)
                }
            }
        } else if outer >= threads {
            ParallelLoop.forEachChunk(count: outer, minimumChunk: 1, threads: threads) { blocks in
                for block in blocks {
                    reduceColumns(UnsafePointer(x.base + block &* reduced &* inner), rows: reduced,
                                  columns: inner, stride: inner, kind: kind,
                                  into: y.base + block &* inner)
                }
            }
        } else {
            // One outer block: split its columns between workers.
            ParallelLoop.forEachChunk(count: inner, minimumChunk: 64, threads: threads) { columns in
                for block in 0..<outer {
                    reduceColumns(UnsafePointer(x.base + block &* reduced &* inner + columns.lowerBound),
                                  rows: reduced, columns: columns.count, stride: inner, kind: kind,
                                  into: y.base + block &* inner + columns.lowerBound)
                }
            }
        }
    }

    /// Reduces one contiguous row with eight independent accumulators.
    @inline(__always)
    static func reduceRow(_ values: UnsafePointer<Float>, count: Int, kind: ReductionKind) -> Float {
        var i = 0
        switch kind {
        case .sum:
            var accumulator = SIMD8<Float>(repeating: 0)
            while i &+ 8 <= count {
                accumulator += UnsafeRawPointer(values + i).loadUnaligned(as: SIMD8<Float>.self)
                i &+= 8
            }
            var total = accumulator.sum()
            while i < count { total += values[i]; i &+= 1 }
            return total
        case .max:
            var accumulator = SIMD8<Float>(repeating: -.infinity)
            while i &+ 8 <= count {
                let chunk = UnsafeRawPointer(values + i).loadUnaligned(as: SIMD8<Float>.self)
                accumulator = pointwiseMax(accumulator, chunk)
                accumulator.replace(with: chunk, where: chunk .!= chunk)  // NaN propagates
                i &+= 8
            }
            if any(accumulator .!= accumulator) { return .nan }
            var best = accumulator.max()
            while i < count {
                let value = values[i]
                best = value > best || value != value ? value : best
                i &+= 1
            }
            return best
        case .min:
            var accumulator = SIMD8<Float>(repeating: .infinity)
            while i &+ 8 <= count {
                let chunk = UnsafeRawPointer(values + i).loadUnaligned(as: SIMD8<Float>.self)
                accumulator = pointwiseMin(accumulator, chunk)
                accumulator.replace(with: chunk, where: chunk .!= chunk)  // NaN propagates
                i &+= 8
            }
            if any(accumulator .!= accumulator) { return .nan }
            var best = accumulator.min()
            while i < count {
                let value = values[i]
                best = value < best || value != value ? value : best
                i &+= 1
            }
            return best
        }
    }

    /// out[c] = reduce over r of x[r·stride + c] for c in 0..<columns.
    @inline(__always)
    static func reduceColumns(
        _ x: UnsafePointer<Float>, rows: Int, columns: Int, stride: Int, kind: ReductionKind,
        into out: UnsafeMutablePointer<Float>
    ) {
        out.update(from: x, count: columns)
        for row in 1..<Swift.max(rows, 1) {
            let values = x + row &* stride
            switch kind {
            case .sum: for c in 0..<columns { out[c] += values[c] }
            case .max: for c in 0..<columns { let v = values[c]; out[c] = v > out[c] || v != v ? v : out[c] }
            case .min: for c in 0..<columns { let v = values[c]; out[c] = v < out[c] || v != v ? v : out[c] }
            }
        }
    }
}

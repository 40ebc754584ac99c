/// The iteration space of an elementwise kernel over up to three operands that share a shape
/// but not a layout (broadcast operands have stride 0 along broadcast axes).
///
/// Axes of size 1 are dropped and neighbouring axes that are contiguous for every operand are
/// merged, so most kernels run one long innermost loop per row. `forEachRun` hands out those
/// innermost runs (offsets of the three operands and a length), split across threads by the
/// outer index when the work is large.
struct StridedLayout {
    /// Sizes of the coalesced axes (at least one axis).
    private(set) var sizes: [Int]
    private(set) var stridesA: [Int]
    private(set) var stridesB: [Int]
    private(set) var stridesC: [Int]

    /// The total number of elements.
    let count: Int

    init(shape: [Int], a: [Int], b: [Int], c: [Int]) {
        count = shape.reduce(1, *)
        var sizes: [Int] = []
        var sa: [Int] = [], sb: [Int] = [], sc: [Int] = []
        for axis in shape.indices where shape[axis] != 1 {
            let size = shape[axis]
            if let last = sizes.indices.last,
               sa[last] == a[axis] * size, sb[last] == b[axis] * size, sc[last] == c[axis] * size {
                sizes[last] *= size
                sa[last] = a[axis]
                sb[last] = b[axis]
                sc[last] = c[axis]
            } else {
                sizes.append(size)
                sa.append(a[axis])
                sb.append(b[axis])
                sc.append(c[axis])
            }
        }
        if sizes.isEmpty {
            sizes = [1]
            sa = [0]
            sb = [0]
            sc = [0]
        }
        self.sizes = sizes
        stridesA = sa
        stridesB = sb
        stridesC = sc
    }

    /// Length of every innermost run.
    var innerCount: Int { sizes[sizes.count - 1] }
    /// Innermost strides of the three operands.
    var innerStrides: (a: Int, b: Int, c: Int) {
        (stridesA[sizes.count - 1], stridesB[sizes.count - 1], stridesC[sizes.count - 1])
    }

    /// Calls `body(offsetA, offsetB, offsetC, length)` once per innermost run. Runs are split
    /// across `threads` workers when there are at least `parallelThreshold` elements; `body`
    /// must then only write elements of its own run.
    @inline(__always)
    func forEachRun(
        threads: Int, parallelThreshold: Int = 1 << 15,
        _ body: @Sendable (Int, Int, Int, Int) -> Void
    ) {
        if count == 0 { return }
        let inner = innerCount
        let outerCount = count / inner
        let outerRank = sizes.count - 1
        let sizes = self.sizes, sa = stridesA, sb = stridesB, sc = stridesC
        let workers = count >= parallelThreshold ? (outerRank == 0 ? threads : Swift.min(threads, outerCount)) : 1
        if outerRank == 0 {
            if workers <= 1 || inner < 2 * 4096 {
                body(0, 0, 0, inner)
                return
            }
            // A single long run: cut it into chunks.
            let innerA = sa[0], innerB = sb[0], innerC = sc[0]
            let perWorker = (inner + workers - 1) / workers
            ParallelLoop.run(workers: workers) { worker in
                let start = worker * perWorker
                let end = Swift.min(inner, start + perWorker)
                if start < end { body(start * innerA, start * innerB, start * innerC, end - start) }
            }
            return
        }
        ParallelLoop.forEachChunk(count: outerCount, minimumChunk: 1, threads: workers) { range in
            // Decompose the first outer index, then step a mixed-radix counter.
            var index = [Int](repeating: 0, count: outerRank)
            var remainder = range.lowerBound
            var offsetA = 0, offsetB = 0, offsetC = 0
            for axis in stride(from: outerRank - 1, through: 0, by: -1) {
                index[axis] = remainder % sizes[axis]
                remainder /= sizes[axis]
                offsetA += index[axis] * sa[axis]
                offsetB += index[axis] * sb[axis]
                offsetC += index[axis] * sc[axis]
            }
            for _ in range {
                body(offsetA, offsetB, offsetC, inner)
                var axis = outerRank - 1
                while axis >= 0 {
                    index[axis] += 1
                    offsetA += sa[axis]
                    offsetB += sb[axis]
                    offsetC += sc[axis]
                    if index[axis] < sizes[axis] { break }
                    offsetA -= sa[axis] * sizes[axis]
                    offsetB -= sb[axis] * sizes[axis]
                    offsetC -= sc[axis] * sizes[axis]
                    index[axis] = 0
                    axis -= 1
                }
            }
        }
    }
}

extension Tensor {
    /// The shape two operands broadcast to (NumPy rules), or a stop naming the operation.
    static func broadcastShape(_ a: [Int], _ b: [Int], operation: String) -> [Int] {
        let rank = Swift.max(a.count, b.count)
        var result = [Int](repeating: 1, count: rank)
        for axis in 0..<rank {
            let da = axis < rank - a.count ? 1 : a[axis - (rank - a.count)]
            let db = axis < rank - b.count ? 1 : b[axis - (rank - b.count)]
            precondition(da == db || da == 1 || db == 1,
                         "\(operation): shapes \(a) and \(b) cannot be broadcast together (axis \(axis): \(da) vs \(db))")
            result[axis] = da == 1 ? db : da
        }
        return result
    }

    /// This tensor's strides when broadcast to `target` (0 along broadcast axes).
    func broadcastStrides(to target: [Int], operation: String) -> [Int] {
        precondition(target.count >= rank,
                     "\(operation): cannot broadcast shape \(shape) to lower-rank shape \(target)")
        var result = [Int](repeating: 0, count: target.count)
        let shift = target.count - rank
        for axis in 0..<rank {
            let size = shape[axis]
            precondition(size == target[axis + shift] || size == 1,
                         "\(operation): cannot broadcast shape \(shape) to \(target)")
            result[axis + shift] = size == 1 ? 0 : strides[axis]
        }
        return result
    }
}

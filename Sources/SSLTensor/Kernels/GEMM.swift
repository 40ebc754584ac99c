/// A strided view of a matrix operand: element (row, column) is at
/// `base[row * rowStride + column * columnStride]`. A transposed operand is the same memory with
/// the strides swapped.
public struct MatrixOperand: @unchecked Sendable {
    public let base: UnsafePointer<Float>
    public let rowStride: Int
    public let columnStride: Int

    @inlinable
    public init(base: UnsafePointer<Float>, rowStride: Int, columnStride: Int) {
        self.base = base
        self.rowStride = rowStride
        self.columnStride = columnStride
    }

    /// A row-major matrix with `columns` columns, optionally read transposed.
    @inlinable
    public static func rowMajor(_ base: UnsafePointer<Float>, columns: Int, transposed: Bool = false)
        -> MatrixOperand
    {
        transposed
            ? MatrixOperand(base: base, rowStride: 1, columnStride: columns)
            : MatrixOperand(base: base, rowStride: columns, columnStride: 1)
    }
}

/// Single-precision general matrix multiply, `C = alpha·A·B + beta·C`, with `A` m×k, `B` k×n and
/// `C` m×n row-major with row stride `ldc`.
///
/// BLIS-style: B is packed into KC×NC panels of NR-wide slivers, A into MC×KC blocks of MR-tall
/// slivers, and the micro-kernel (`GEMMMicroKernel`) computes MR×NR tiles from registers. The
/// work is split between `threads` workers by column slivers of C when C is at least as wide as
/// it is tall, else by rows.
/// When `beta == 0`, C is never read. Pack buffers come from the context's pool; nothing is
/// allocated inside the loops.
///
/// ```swift
/// a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in
///     gemm(m: 2, n: 2, k: 3, a: .rowMajor(pa.baseAddress!, columns: 3),
///          b: .rowMajor(pb.baseAddress!, columns: 2), c: out, ldc: 2)
/// } }
/// ```
public func gemm(
    m: Int, n: Int, k: Int,
    alpha: Float = 1,
    a: MatrixOperand, b: MatrixOperand,
    beta: Float = 0,
    c: UnsafeMutablePointer<Float>, ldc: Int,
    threads requestedThreads: Int? = nil,
    context: ComputeContext = .current
) {
    precondition(m >= 0 && n >= 0 && k >= 0, "gemm: negative size m=\(m) n=\(n) k=\(k)")
    precondition(ldc >= n, "gemm: ldc \(ldc) is smaller than n \(n)")
    if m == 0 || n == 0 { return }
    if k == 0 {
        scaleMatrix(c, rows: m, columns: n, ldc: ldc, by: beta)
        return
    }
    let kernel = context.gemmKernel
    let mr = kernel.tileRows, nr = kernel.tileColumns
    // Equal panel depths: a shallow last panel would reload and store every C tile for little work.
    let kcMax = PanelSplit(depth: k, maximumDepth: kernel.panelDepth).maximumDepth
    let ncMax = kernel.panelColumns
    let flops = 2.0 * Double(m) * Double(n) * Double(k)
    let threads = flops < 3.0e6 ? 1 : max(1, requestedThreads ?? context.threadCount)

    // Workers are independent (one fork-join per call): each owns a rectangle of C and packs
    // its own panels: all of A and its share of B when split by columns, its share of A and all
    // of B when split by rows. Split the larger of the two, when it is large enough to share.
    let splitColumns = n >= threads * nr * 4 && (n >= m || m < threads * mr * 4)
    let columnsPerWorker = splitColumns ? roundUp((n + threads - 1) / threads, to: nr) : n
    let rowsPerWorker = splitColumns ? m : roundUp((m + threads - 1) / threads, to: mr)
    let mcMax = min(kernel.blockRows, roundUp(rowsPerWorker, to: mr))
    let ncWorker = min(ncMax, roundUp(columnsPerWorker, to: nr))

    let pool = context.bufferPool
    let packedBCount = kcMax * ncWorker
    let packedACount = mcMax * kcMax
    let tileCount = mr * nr
    let perWorker = packedBCount + packedACount + tileCount
    let scratch = pool.allocate(count: threads * perWorker)
    defer { pool.release(scratch.pointer, capacity: scratch.capacity) }
    let scratchPointer = SendablePointer(scratch.pointer)
    let cPointer = SendablePointer(c)

    ParallelLoop.run(workers: threads, context: context) { worker in
        let rowStart = splitColumns ? 0 : min(m, worker * rowsPerWorker)
        let rowEnd = splitColumns ? m : min(m, rowStart + rowsPerWorker)
        let columnStart = splitColumns ? min(n, worker * columnsPerWorker) : 0
        let columnEnd = splitColumns ? min(n, columnStart + columnsPerWorker) : n
        if rowStart >= rowEnd || columnStart >= columnEnd { return }
        let base = scratchPointer.base + worker * perWorker
        let packedB = base
        let packedA = base + packedBCount
        let tile = packedA + packedACount
        var jc = columnStart
        while jc < columnEnd {
            let nc = min(ncMax, columnEnd - jc)
            let slivers = (nc + nr - 1) / nr
            var pc = 0
            while pc < k {
                let kc = min(kcMax, k - pc)
                let panelBeta: Float = pc == 0 ? beta : 1
                packBPanel(b, depthStart: pc, depth: kc, columnStart: jc, columns: nc, sliverWidth: nr, into: packedB)
                var ic = rowStart
                while ic < rowEnd {
                    let mc = min(mcMax, rowEnd - ic)
                    packA(a, rowStart: ic, rows: mc, depthStart: pc, depth: kc, sliverHeight: mr,
                          into: packedA)
                    for sliver in 0..<slivers {
                        let column = jc + sliver * nr
                        let columnsHere = min(nr, jc + nc - column)
                        let bSliver = UnsafePointer(packedB + sliver * nr * kc)
                        var ir = 0
                        while ir < mc {
                            let rowsHere = min(mr, mc - ir)
                            let aSliver = UnsafePointer(packedA + ir * kc)
                            let cTile = cPointer.base + (ic + ir) * ldc + column
                            if columnsHere == nr && kernel.writesExactly(rows: rowsHere) {
                                kernel.run(rows: rowsHere, depth: kc, a: aSliver, b: bSliver, c: cTile, ldc: ldc,
                                           alpha: alpha, beta: panelBeta)
                            } else {
                                kernel.run(depth: kc, a: aSliver, b: bSliver, c: tile, ldc: nr,
                                           alpha: alpha, beta: 0)
                                mergeTile(tile, tileStride: nr, into: cTile, ldc: ldc,
                                          rows: rowsHere, columns: columnsHere, beta: panelBeta)
                            }
                            ir &+= mr
                        }
                    }
                    ic &+= mc
                }
                pc += kc
            }
            jc += nc
        }
    }
}

@inline(__always)
func roundUp(_ value: Int, to multiple: Int) -> Int {
    (value + multiple - 1) / multiple * multiple
}

/// C[0..<rows, 0..<columns] = tile + beta·C (C not read when beta is 0).
@inline(__always)
private func mergeTile(
    _ tile: UnsafeMutablePointer<Float>, tileStride: Int, into c: UnsafeMutablePointer<Float>,
    ldc: Int, rows: Int, columns: Int, beta: Float
) {
    for row in 0..<rows {
        let source = tile + row * tileStride
        let destination = c + row * ldc
        if beta == 0 {
            destination.update(from: source, count: columns)
        } else {
            for column in 0..<columns {
                destination[column] = source[column] + beta * destination[column]
            }
        }
    }
}

/// C = beta·C over an m×n block (zero when beta is 0, without reading C).
func scaleMatrix(_ c: UnsafeMutablePointer<Float>, rows: Int, columns: Int, ldc: Int, by beta: Float) {
    for row in 0..<rows {
        let destination = c + row * ldc
        if beta == 0 {
            destination.update(repeating: 0, count: columns)
        } else if beta != 1 {
            for column in 0..<columns { destination[column] *= beta }
        }
    }
}

/// Equal panel depths up to a maximum (784 → 4 × 196, not 3 × 256 + 16).
struct PanelSplit {
    let count: Int
    let maximumDepth: Int
    let depth: Int

    init(depth: Int, maximumDepth limit: Int) {
        self.depth = depth
        count = max(1, (depth + limit - 1) / limit)
        maximumDepth = max(1, (depth + count - 1) / count)
    }

    /// Start and size of panel `index`.
    subscript(index: Int) -> (start: Int, size: Int) {
        let start = index * maximumDepth
        return (start, min(maximumDepth, depth - start))
    }
}

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
/// it is tall, else by rows; the operand every worker reads whole is packed once and shared.
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
    let panels = PanelSplit(depth: k, maximumDepth: kernel.panelDepth)
    let kcMax = panels.maximumDepth
    let ncMax = kernel.panelColumns
    let flops = 2.0 * Double(m) * Double(n) * Double(k)
    let threads = flops < 3.0e6 ? 1 : max(1, requestedThreads ?? context.threadCount)

    // Each worker owns a rectangle of C: a share of the columns (all the rows) when C is at least
    // as wide as it is tall, else a share of the rows; split the larger of the two, when it is
    // large enough to share. Every worker then needs all of the other operand (all of A when
    // split by columns, all of B when split by rows): with several workers that operand is
    // packed once, shared, in a first fork-join (each worker packs a part), instead of by every
    // worker; each worker packs its own share of the split operand as it goes.
    let splitColumns = n >= threads * nr * 4 && (n >= m || m < threads * mr * 4)
    let columnsPerWorker = splitColumns ? roundUp((n + threads - 1) / threads, to: nr) : n
    let rowsPerWorker = splitColumns ? m : roundUp((m + threads - 1) / threads, to: mr)
    let mcMax = min(kernel.blockRows, roundUp(rowsPerWorker, to: mr))
    let ncWorker = min(ncMax, roundUp(columnsPerWorker, to: nr))
    let sharesA = threads > 1 && splitColumns, sharesB = threads > 1 && !splitColumns
    let paddedRows = roundUp(m, to: mr), paddedColumns = roundUp(n, to: nr)

    let pool = context.bufferPool
    let packedBCount = sharesB ? 0 : kcMax * ncWorker
    let packedACount = sharesA ? 0 : mcMax * kcMax
    let tileCount = mr * nr
    let perWorker = packedBCount + packedACount + tileCount
    let sharedCount = sharesA ? paddedRows * k : sharesB ? k * paddedColumns : 0
    let scratch = pool.allocate(count: sharedCount + threads * perWorker)
    defer { pool.release(scratch.pointer, capacity: scratch.capacity) }
    let sharedPointer = SendablePointer(scratch.pointer)
    let scratchPointer = SendablePointer(scratch.pointer + sharedCount)
    let cPointer = SendablePointer(c)
    if sharesA {
        packShared(a: a, b: nil, count: m, paddedWidth: paddedRows, sliver: mr, panels: panels, threads: threads,
                   into: sharedPointer, context: context)
    } else if sharesB {
        packShared(a: nil, b: b, count: n, paddedWidth: paddedColumns, sliver: nr, panels: panels, threads: threads,
                   into: sharedPointer, context: context)
    }

    ParallelLoop.run(workers: threads, context: context) { worker in
        let rowStart = splitColumns ? 0 : min(m, worker * rowsPerWorker)
        let rowEnd = splitColumns ? m : min(m, rowStart + rowsPerWorker)
        let columnStart = splitColumns ? min(n, worker * columnsPerWorker) : 0
        let columnEnd = splitColumns ? min(n, columnStart + columnsPerWorker) : n
        if rowStart >= rowEnd || columnStart >= columnEnd { return }
        let base = scratchPointer.base + worker * perWorker
        let ownB = base
        let ownA = base + packedBCount
        let tile = ownA + packedACount
        var jc = columnStart
        while jc < columnEnd {
            let nc = min(ncMax, columnEnd - jc)
            let slivers = (nc + nr - 1) / nr
            for panel in 0..<panels.count {
                let (pc, kc) = panels[panel]
                let panelBeta: Float = pc == 0 ? beta : 1
                let packedB: UnsafeMutablePointer<Float>
                if sharesB {
                    packedB = sharedPointer.base + pc * paddedColumns + jc * kc
                } else {
                    packedB = ownB
                    packBPanel(b, depthStart: pc, depth: kc, columnStart: jc, columns: nc, sliverWidth: nr, into: packedB)
                }
                var ic = rowStart
                while ic < rowEnd {
                    let mc = min(mcMax, rowEnd - ic)
                    let packedA: UnsafeMutablePointer<Float>
                    if sharesA {
                        packedA = sharedPointer.base + pc * paddedRows + ic * kc
                    } else {
                        packedA = ownA
                        packA(a, rowStart: ic, rows: mc, depthStart: pc, depth: kc, sliverHeight: mr, into: packedA)
                    }
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
            }
            jc += nc
        }
    }
}

/// Packs all of A (when `a` is given: `count` rows) or all of B (`count` columns) once, for
/// every worker to read, each of `threads` workers packing a share of slivers. Panel pc (depth
/// kc) starts at pc × `paddedWidth`; in it, the sliver of row (column) r is at r × kc, as packA
/// (packBPanel) lays out a block, so a worker's block or panel is a pointer into it.
private func packShared(
    a: MatrixOperand?, b: MatrixOperand?, count: Int, paddedWidth: Int, sliver: Int, panels: PanelSplit,
    threads: Int, into shared: SendablePointer<Float>, context: ComputeContext
) {
    let perPacker = roundUp((paddedWidth + threads - 1) / threads, to: sliver)
    ParallelLoop.run(workers: threads, context: context) { worker in
        let start = worker * perPacker, end = min(count, start + perPacker)
        if start >= end { return }
        for panel in 0..<panels.count {
            let (pc, kc) = panels[panel]
            let destination = shared.base + pc * paddedWidth + start * kc
            if let a {
                packA(a, rowStart: start, rows: end - start, depthStart: pc, depth: kc, sliverHeight: sliver,
                      into: destination)
            } else if let b {
                packBPanel(b, depthStart: pc, depth: kc, columnStart: start, columns: end - start,
                           sliverWidth: sliver, into: destination)
            }
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

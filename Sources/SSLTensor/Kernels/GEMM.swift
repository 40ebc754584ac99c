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

/// Packs rows `rowStart..<rowStart+rows` and depth `depthStart..<depthStart+depth` of A into
/// MR-tall slivers: sliver s holds `depth` groups of MR floats, zero-padded past the last row.
@inline(__always)
func packA(
    _ a: MatrixOperand, rowStart: Int, rows: Int, depthStart: Int, depth: Int, sliverHeight mr: Int,
    into destination: UnsafeMutablePointer<Float>
) {
    if a.rowStride == 1 && a.columnStride != 1 {
        // A stored transposed: its stored rows run along the rows of C.
        distributeRows(a.base + depthStart * a.columnStride + rowStart, stride: a.columnStride, depth: depth,
                       count: rows, sliverWidth: mr, into: destination)
        return
    }
    var sliverRow = 0
    while sliverRow < rows {
        let rowsHere = min(mr, rows - sliverRow)
        let sliver = destination + sliverRow * depth
        let firstRow = rowStart + sliverRow
        if a.columnStride == 1 {
            packTransposed(a.base + firstRow * a.rowStride + depthStart, laneStride: a.rowStride, lanes: rowsHere,
                           depth: depth, destinationStride: mr, into: sliver)
        } else {
            for p in 0..<depth {
                for r in 0..<rowsHere {
                    sliver[p * mr + r] = a.base[(firstRow + r) * a.rowStride + (depthStart + p) * a.columnStride]
                }
            }
        }
        if rowsHere < mr {
            for p in 0..<depth {
                (sliver + p * mr + rowsHere).update(repeating: 0, count: mr - rowsHere)
            }
        }
        sliverRow += mr
    }
}

/// Packs `depth` stored rows of `count` floats (row p at `source + p·stride`) into slivers
/// `sliverWidth` floats wide, `depth · sliverWidth` floats apart: float j of row p goes to
/// sliver j / sliverWidth, at p · sliverWidth + j % sliverWidth; the last sliver is zero-padded.
/// Walking the source row by row reads it in order; gathering sliver by sliver would touch
/// `depth` lines a whole stored row apart, which share L1 sets when that row is a multiple of
/// 4 KB (1024-wide layers).
@inline(__always)
func distributeRows(
    _ source: UnsafePointer<Float>, stride: Int, depth: Int, count: Int, sliverWidth width: Int,
    into destination: UnsafeMutablePointer<Float>
) {
    let fullSlivers = count / width, remainder = count % width
    for p in 0..<depth {
        let row = source + p * stride, target = destination + p * width
        for sliver in 0..<fullSlivers {
            copyFloats(from: row + sliver * width, to: target + sliver * width * depth, count: width)
        }
        if remainder > 0 {
            let partial = target + fullSlivers * width * depth
            copyFloats(from: row + fullSlivers * width, to: partial, count: remainder)
            (partial + remainder).update(repeating: 0, count: width - remainder)
        }
    }
}

/// Copies `count` floats with vector moves (short rows, where a `memmove` call costs more
/// than the copy).
@inline(__always)
func copyFloats(from source: UnsafePointer<Float>, to destination: UnsafeMutablePointer<Float>, count: Int) {
    let from = UnsafeRawPointer(source), to = UnsafeMutableRawPointer(destination)
    var i = 0
    while i &+ 4 <= count {
        to.storeBytes(of: from.loadUnaligned(fromByteOffset: i &* 4, as: SIMD4<Float>.self),
                      toByteOffset: i &* 4, as: SIMD4<Float>.self)
        i &+= 4
    }
    while i < count {
        destination[i] = source[i]
        i &+= 1
    }
}

/// Stores the transpose of the 4×4 block whose rows are `r0…r3`: column i of the block (the
/// i-th element of each row) goes to `target + byteOffset + i·rowBytes`.
@inline(__always)
func storeTransposed(
    _ r0: SIMD4<Float>, _ r1: SIMD4<Float>, _ r2: SIMD4<Float>, _ r3: SIMD4<Float>,
    into target: UnsafeMutableRawPointer, byteOffset: Int, rowBytes: Int
) {
    let t0 = SIMD4(r0[0], r1[0], r0[1], r1[1]), t1 = SIMD4(r0[2], r1[2], r0[3], r1[3])
    let t2 = SIMD4(r2[0], r3[0], r2[1], r3[1]), t3 = SIMD4(r2[2], r3[2], r2[3], r3[3])
    target.storeBytes(of: SIMD4(lowHalf: t0.lowHalf, highHalf: t2.lowHalf), toByteOffset: byteOffset,
                      as: SIMD4<Float>.self)
    target.storeBytes(of: SIMD4(lowHalf: t0.highHalf, highHalf: t2.highHalf), toByteOffset: byteOffset &+ rowBytes,
                      as: SIMD4<Float>.self)
    target.storeBytes(of: SIMD4(lowHalf: t1.lowHalf, highHalf: t3.lowHalf), toByteOffset: byteOffset &+ 2 &* rowBytes,
                      as: SIMD4<Float>.self)
    target.storeBytes(of: SIMD4(lowHalf: t1.highHalf, highHalf: t3.highHalf), toByteOffset: byteOffset &+ 3 &* rowBytes,
                      as: SIMD4<Float>.self)
}

/// `destination[p·destinationStride + l] = source[l·laneStride + p]` for `l < lanes`, `p < depth`:
/// lanes (rows of A, columns of B) that are contiguous along the depth, written interleaved.
/// Blocks of 4 lanes × 4 depths go through 4×4 vector transposes; the edges element by element.
@inline(__always)
func packTransposed(
    _ source: UnsafePointer<Float>, laneStride: Int, lanes: Int, depth: Int, destinationStride: Int,
    into destination: UnsafeMutablePointer<Float>
) {
    let raw = UnsafeRawPointer(source), target = UnsafeMutableRawPointer(destination)
    let blockDepth = depth & ~3
    var l = 0
    if destinationStride & 3 == 0 {
        while l &+ 4 <= lanes {
            var p = 0
            while p < blockDepth {
                let r0 = raw.loadUnaligned(fromByteOffset: (l &* laneStride &+ p) &* 4, as: SIMD4<Float>.self)
                let r1 = raw.loadUnaligned(fromByteOffset: ((l &+ 1) &* laneStride &+ p) &* 4, as: SIMD4<Float>.self)
                let r2 = raw.loadUnaligned(fromByteOffset: ((l &+ 2) &* laneStride &+ p) &* 4, as: SIMD4<Float>.self)
                let r3 = raw.loadUnaligned(fromByteOffset: ((l &+ 3) &* laneStride &+ p) &* 4, as: SIMD4<Float>.self)
                storeTransposed(r0, r1, r2, r3, into: target, byteOffset: (p &* destinationStride &+ l) &* 4,
                                rowBytes: destinationStride &* 4)
                p &+= 4
            }
            for lane in l..<(l &+ 4) {
                let line = source + lane &* laneStride
                var q = blockDepth
                while q < depth {
                    destination[q &* destinationStride &+ lane] = line[q]
                    q &+= 1
                }
            }
            l &+= 4
        }
    }
    while l < lanes {
        let line = source + l &* laneStride
        var p = 0
        while p < depth {
            destination[p &* destinationStride &+ l] = line[p]
            p &+= 1
        }
        l &+= 1
    }
}

/// Packs columns `columnStart..<columnStart+columns` of B (depth rows from `depthStart`) into
/// NR-wide slivers, the last zero-padded.
@inline(__always)
func packBPanel(
    _ b: MatrixOperand, depthStart: Int, depth: Int, columnStart: Int, columns: Int,
    sliverWidth nr: Int, into destination: UnsafeMutablePointer<Float>
) {
    if b.columnStride == 1 {
        distributeRows(b.base + depthStart * b.rowStride + columnStart, stride: b.rowStride, depth: depth,
                       count: columns, sliverWidth: nr, into: destination)
        return
    }
    let slivers = (columns + nr - 1) / nr
    for sliver in 0..<slivers {
        packB(b, depthStart: depthStart, depth: depth, columnStart: columnStart + sliver * nr,
              columns: min(nr, columns - sliver * nr), sliverWidth: nr, into: destination + sliver * nr * depth)
    }
}

/// Packs one NR-wide sliver of a B that is not row-major (depth × columns, zero-padded to NR
/// columns): `depth` groups of NR floats.
@inline(__always)
private func packB(
    _ b: MatrixOperand, depthStart: Int, depth: Int, columnStart: Int, columns: Int,
    sliverWidth nr: Int, into sliver: UnsafeMutablePointer<Float>
) {
    if b.rowStride == 1 {
        packTransposed(b.base + columnStart * b.columnStride + depthStart, laneStride: b.columnStride, lanes: columns,
                       depth: depth, destinationStride: nr, into: sliver)
        if columns < nr {
            for p in 0..<depth {
                (sliver + p * nr + columns).update(repeating: 0, count: nr - columns)
            }
        }
    } else {
        for p in 0..<depth {
            let row = sliver + p * nr
            for j in 0..<columns {
                row[j] = b.base[(depthStart + p) * b.rowStride + (columnStart + j) * b.columnStride]
            }
            if columns < nr { (row + columns).update(repeating: 0, count: nr - columns) }
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

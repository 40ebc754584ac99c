// MARK: - Packing A and B into micro-kernel slivers

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
/// Blocks of 4 lanes × 4 depths go through 4×4 vector transposes, a last pair of lanes through
/// 2×4 ones (the AVX2 kernel's 6-row slivers are 4 + 2), the edges element by element. The
/// stores need no alignment.
@inline(__always)
func packTransposed(
    _ source: UnsafePointer<Float>, laneStride: Int, lanes: Int, depth: Int, destinationStride: Int,
    into destination: UnsafeMutablePointer<Float>
) {
    let raw = UnsafeRawPointer(source), target = UnsafeMutableRawPointer(destination)
    let blockDepth = depth & ~3
    var l = 0
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
        packTransposedTail(source, laneStride: laneStride, lanes: l..<(l &+ 4), depths: blockDepth..<depth,
                           destinationStride: destinationStride, into: destination)
        l &+= 4
    }
    if l &+ 2 <= lanes {
        var p = 0
        while p < blockDepth {
            let r0 = raw.loadUnaligned(fromByteOffset: (l &* laneStride &+ p) &* 4, as: SIMD4<Float>.self)
            let r1 = raw.loadUnaligned(fromByteOffset: ((l &+ 1) &* laneStride &+ p) &* 4, as: SIMD4<Float>.self)
            let rowBytes = destinationStride &* 4
            let offset = (p &* destinationStride &+ l) &* 4
            target.storeBytes(of: SIMD2(r0[0], r1[0]), toByteOffset: offset, as: SIMD2<Float>.self)
            target.storeBytes(of: SIMD2(r0[1], r1[1]), toByteOffset: offset &+ rowBytes, as: SIMD2<Float>.self)
            target.storeBytes(of: SIMD2(r0[2], r1[2]), toByteOffset: offset &+ 2 &* rowBytes, as: SIMD2<Float>.self)
            target.storeBytes(of: SIMD2(r0[3], r1[3]), toByteOffset: offset &+ 3 &* rowBytes, as: SIMD2<Float>.self)
            p &+= 4
        }
        packTransposedTail(source, laneStride: laneStride, lanes: l..<(l &+ 2), depths: blockDepth..<depth,
                           destinationStride: destinationStride, into: destination)
        l &+= 2
    }
    packTransposedTail(source, laneStride: laneStride, lanes: l..<lanes, depths: 0..<depth,
                       destinationStride: destinationStride, into: destination)
}

/// `packTransposed` element by element over `lanes` × `depths`.
@inline(__always)
private func packTransposedTail(
    _ source: UnsafePointer<Float>, laneStride: Int, lanes: Range<Int>, depths: Range<Int>, destinationStride: Int,
    into destination: UnsafeMutablePointer<Float>
) {
    for lane in lanes {
        let line = source + lane &* laneStride
        var p = depths.lowerBound
        while p < depths.upperBound {
            destination[p &* destinationStride &+ lane] = line[p]
            p &+= 1
        }
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

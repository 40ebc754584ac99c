// MARK: - Packing

extension BatchedConvolution {
    /// Packs `rows` rows of `matrix` once for every depth panel, from the pool: panel q's
    /// MR-tall slivers start at q·paddedRows·maximumDepth. The caller releases the buffer.
    static func packPanels(
        _ matrix: MatrixOperand, rows: Int, paddedRows: Int, panels: PanelSplit, sliverHeight mr: Int, pool: BufferPool
    ) -> (pointer: UnsafeMutablePointer<Float>, capacity: Int) {
        let buffer = pool.allocate(count: panels.count * paddedRows * panels.maximumDepth)
        for panel in 0..<panels.count {
            let (start, size) = panels[panel]
            packA(matrix, rowStart: 0, rows: rows, depthStart: start, depth: size, sliverHeight: mr,
                  into: buffer.pointer + panel * paddedRows * panels.maximumDepth)
        }
        return buffer
    }

    /// Turns a sliver's column offsets into a copy program of four-float moves: pairs
    /// (column, offset) such that copying four floats from `row + offset` to `target + column`
    /// for every pair writes the sliver row. Each run of consecutive addresses becomes ⌈length/4⌉
    /// moves, the last one overlapping its neighbour. Returns the number of moves, or nil when a
    /// run is shorter than four (stride > 1): such slivers are gathered element by element.
    @inline(__always)
    static func copyProgram(of offsets: UnsafePointer<Int>, width: Int, into program: UnsafeMutablePointer<Int>) -> Int? {
        var count = 0, start = 0
        for j in 1...width where j == width || offsets[j] != offsets[j - 1] + 1 {
            let length = j - start
            if length < 4 { return nil }
            var column = start
            while true {
                let move = min(column, j - 4)
                program[2 * count] = move
                program[2 * count + 1] = offsets[start] + (move - start)
                count += 1
                if move == j - 4 { break }
                column += 4
            }
            start = j
        }
        return count
    }

    /// Packs one sliver: by the four-float moves of its copy program when it has one, else by
    /// gathering element by element.
    @inline(__always)
    static func packSliver(
        _ source: UnsafePointer<Float>, rowOffsets: UnsafePointer<Int>, depth: Int, columnOffsets: UnsafePointer<Int>,
        program: UnsafePointer<Int>, moves: Int?, width: Int, into destination: UnsafeMutablePointer<Float>
    ) {
        guard let moves else {
            gatherSliver(source, rowOffsets: rowOffsets, depth: depth, columnOffsets: columnOffsets, width: width,
                         into: destination)
            return
        }
        var p = 0
        while p < depth {
            let row = UnsafeRawPointer(source + rowOffsets[p])
            let target = UnsafeMutableRawPointer(destination + p &* width)
            var move = 0
            while move < moves {
                let column = program[2 &* move], offset = program[2 &* move &+ 1]
                target.storeBytes(of: row.loadUnaligned(fromByteOffset: offset &* 4, as: SIMD4<Float>.self),
                                  toByteOffset: column &* 4, as: SIMD4<Float>.self)
                move &+= 1
            }
            p &+= 1
        }
    }

    /// `destination[p·width + j] = source[rowOffsets[p] + columnOffsets[j]]`: one packed sliver.
    @inline(__always)
    static func gatherSliver(
        _ source: UnsafePointer<Float>, rowOffsets: UnsafePointer<Int>, depth: Int,
        columnOffsets: UnsafePointer<Int>, width: Int, into destination: UnsafeMutablePointer<Float>
    ) {
        switch width {
        case 32: gatherSliver(source, rowOffsets: rowOffsets, depth: depth, columnOffsets: columnOffsets,
                              fixedWidth: 32, into: destination)
        case 16: gatherSliver(source, rowOffsets: rowOffsets, depth: depth, columnOffsets: columnOffsets,
                              fixedWidth: 16, into: destination)
        default: gatherSliver(source, rowOffsets: rowOffsets, depth: depth, columnOffsets: columnOffsets,
                              fixedWidth: width, into: destination)
        }
    }

    @inline(__always)
    private static func gatherSliver(
        _ source: UnsafePointer<Float>, rowOffsets: UnsafePointer<Int>, depth: Int,
        columnOffsets: UnsafePointer<Int>, fixedWidth width: Int, into destination: UnsafeMutablePointer<Float>
    ) {
        var p = 0
        while p < depth {
            let row = source + rowOffsets[p]
            let target = destination + p &* width
            var j = 0
            while j < width {
                target[j] = row[columnOffsets[j]]
                j &+= 1
            }
            p &+= 1
        }
    }

    /// Packs one sliver of the transposed column matrix, `destination[p·width + j] =
    /// source[positionOffsets[p] + tapOffsets[j]]` (depth = output positions, columns = kernel
    /// taps). Four positions at consecutive addresses (stride 1, one output row) are read as one
    /// vector per tap and written through 4×4 transposes; other positions element by element.
    @inline(__always)
    static func packTapSliver(
        _ source: UnsafePointer<Float>, positionOffsets: UnsafePointer<Int>, depth: Int, tapOffsets: UnsafePointer<Int>,
        width: Int, into destination: UnsafeMutablePointer<Float>
    ) {
        let raw = UnsafeRawPointer(source)
        let target = UnsafeMutableRawPointer(destination)
        var p = 0
        while p < depth {
            let base = positionOffsets[p]
            if width & 3 == 0 && p &+ 4 <= depth && positionOffsets[p &+ 3] == base &+ 3 {
                var j = 0
                while j < width {
                    let r0 = raw.loadUnaligned(fromByteOffset: (base &+ tapOffsets[j]) &* 4, as: SIMD4<Float>.self)
                    let r1 = raw.loadUnaligned(fromByteOffset: (base &+ tapOffsets[j &+ 1]) &* 4, as: SIMD4<Float>.self)
                    let r2 = raw.loadUnaligned(fromByteOffset: (base &+ tapOffsets[j &+ 2]) &* 4, as: SIMD4<Float>.self)
                    let r3 = raw.loadUnaligned(fromByteOffset: (base &+ tapOffsets[j &+ 3]) &* 4, as: SIMD4<Float>.self)
                    storeTransposed(r0, r1, r2, r3, into: target, byteOffset: (p &* width &+ j) &* 4,
                                    rowBytes: width &* 4)
                    j &+= 4
                }
                p &+= 4
            } else {
                let row = source + base, out = destination + p &* width
                var j = 0
                while j < width {
                    out[j] = row[tapOffsets[j]]
                    j &+= 1
                }
                p &+= 1
            }
        }
    }

    /// Packs rows `0..<rows` of the output gradient at positions `firstPosition..<firstPosition+count`
    /// (running across images) into MR-tall slivers of depth `count`, zero rows up to `paddedRows`.
    static func packGradientRows(
        _ gradient: UnsafePointer<Float>, rows: Int, paddedRows: Int, sliverHeight mr: Int,
        firstPosition: Int, count: Int, positions: Int, into destination: UnsafeMutablePointer<Float>
    ) {
        var done = 0
        while done < count {
            let image = (firstPosition + done) / positions, position = (firstPosition + done) % positions
            let run = min(count - done, positions - position)
            let imageBase = gradient + image * rows * positions + position
            for row in 0..<rows {
                let sourceRow = imageBase + row * positions
                let target = destination + (row / mr) * mr * count + done * mr + row % mr
                var t = 0
                while t < run {
                    target[t &* mr] = sourceRow[t]
                    t &+= 1
                }
            }
            done += run
        }
        for row in rows..<paddedRows {
            let target = destination + (row / mr) * mr * count + row % mr
            for p in 0..<count { target[p * mr] = 0 }
        }
    }
}

// MARK: - Input and output transforms

/// Four vectors: four rows (or columns) of a 4×4 block, each over four tiles or four columns.
typealias Quad = (SIMD4<Float>, SIMD4<Float>, SIMD4<Float>, SIMD4<Float>)

extension WinogradConvolution {
    /// Bᵀ applied along one axis: (d0 − d2, d1 + d2, d2 − d1, d1 − d3).
    @inline(__always)
    static func transformB(_ d: Quad) -> Quad { (d.0 - d.2, d.1 + d.2, d.2 - d.1, d.1 - d.3) }

    /// Aᵀ applied along one axis: (m0 + m1 + m2, m1 − m2 − m3).
    @inline(__always)
    static func transformA(_ m: Quad) -> (SIMD4<Float>, SIMD4<Float>) { (m.0 + m.1 + m.2, m.1 - m.2 - m.3) }

    /// The transpose of the 4×4 block whose rows are `q`.
    @inline(__always)
    static func transpose(_ q: Quad) -> Quad {
        let t0 = SIMD4(q.0[0], q.1[0], q.0[1], q.1[1]), t1 = SIMD4(q.0[2], q.1[2], q.0[3], q.1[3])
        let t2 = SIMD4(q.2[0], q.3[0], q.2[1], q.3[1]), t3 = SIMD4(q.2[2], q.3[2], q.2[3], q.3[3])
        return (SIMD4(lowHalf: t0.lowHalf, highHalf: t2.lowHalf), SIMD4(lowHalf: t0.highHalf, highHalf: t2.highHalf),
                SIMD4(lowHalf: t1.lowHalf, highHalf: t3.lowHalf), SIMD4(lowHalf: t1.highHalf, highHalf: t3.highHalf))
    }

    /// Ten floats from `row` as two overlapping 8-float vectors (floats 0…7 and 2…9).
    @inline(__always)
    static func rowHalves(_ row: UnsafeRawPointer) -> (SIMD8<Float>, SIMD8<Float>) {
        (row.loadUnaligned(as: SIMD8<Float>.self), row.loadUnaligned(fromByteOffset: 8, as: SIMD8<Float>.self))
    }

    /// V[α][c][slot] = (Bᵀ d B)[α] for the patch d of every tile slot of the block and every
    /// channel c, written as B slivers: slot j of channel c at
    /// `transformed + α·transformedStride + (j / NR)·C·NR + c·NR + j % NR` (Bᵀ = [1 0 −1 0;
    /// 0 1 1 0; 0 −1 1 0; 0 1 0 −1]). Four slots at a time, vectors over the four tiles, one
    /// row combination of Bᵀ (d0 − d2, d1 + d2, d2 − d1, d1 − d3) after the other, so few
    /// vectors are live at once (SSE2 has 16 registers). Four whole tiles of one tile row read
    /// their rows as two overlapping 8-float loads, whose even and odd lanes are the tiles'
    /// columns; other groups read tile by tile and transpose. Windows are read whole, from
    /// the addresses in `table` (see `WinogradTiles.fill`). 4×4 tiles go to
    /// `transformInputLargeTiles`.
    static func transformInput(
        tiles: WinogradTiles, table: TileTable, layout: BlockLayout, channels: Int, tileColumns nr: Int,
        kernel: GEMMMicroKernel, into transformed: UnsafeMutablePointer<Float>
    ) {
        if tiles.size == 4 {
            transformInputLargeTiles(tiles: tiles, table: table, layout: layout, channels: channels, tileColumns: nr,
                                     widestGroup: kernel.winogradTileGroup, into: transformed)
            return
        }
        let alphaBytes = layout.transformedStride &* 4, channelBytes = nr &* 4
        let planeBytes = tiles.inputPlane &* 4, rowBytes = tiles.paddedWidth &* 4
        var slot = 0
        while slot < layout.tiles {
            let target = UnsafeMutableRawPointer(transformed + (slot / nr) * channels * nr + slot % nr)
            // Bᵀ along the columns of row combination i (Quad over columns, vectors over the
            // tiles), stored as α = 4i…4i+3 of channel c.
            @inline(__always) func store(_ columns: Quad, row i: Int, channel c: Int) {
                let v = transformB(columns)
                let offset = 4 &* i &* alphaBytes &+ c &* channelBytes
                target.storeBytes(of: v.0, toByteOffset: offset, as: SIMD4<Float>.self)
                target.storeBytes(of: v.1, toByteOffset: offset &+ alphaBytes, as: SIMD4<Float>.self)
                target.storeBytes(of: v.2, toByteOffset: offset &+ 2 &* alphaBytes, as: SIMD4<Float>.self)
                target.storeBytes(of: v.3, toByteOffset: offset &+ 3 &* alphaBytes, as: SIMD4<Float>.self)
            }
            if table.inputRuns[slot / 4] != 0 {
                let origin = UnsafeRawPointer(bitPattern: table.inputAddresses[slot]).unsafelyUnwrapped
                // The columns of four consecutive tiles: even and odd lanes of the two halves.
                @inline(__always) func split(_ low: SIMD8<Float>, _ high: SIMD8<Float>) -> Quad {
                    (low.evenHalf, low.oddHalf, high.evenHalf, high.oddHalf)
                }
                for c in 0..<channels {
                    let base = origin + c &* planeBytes
                    let (low1, high1) = rowHalves(base + rowBytes)
                    let (low2, high2) = rowHalves(base + 2 &* rowBytes)
                    store(split(low1 + low2, high1 + high2), row: 1, channel: c)
                    store(split(low2 - low1, high2 - high1), row: 2, channel: c)
                    let (low0, high0) = rowHalves(base)
                    store(split(low0 - low2, high0 - high2), row: 0, channel: c)
                    let (low3, high3) = rowHalves(base + 3 &* rowBytes)
                    let (again1, againHigh1) = rowHalves(base + rowBytes)
                    store(split(again1 - low3, againHigh1 - high3), row: 3, channel: c)
                }
            } else {
                let window0 = UnsafeRawPointer(bitPattern: table.inputAddresses[slot]).unsafelyUnwrapped
                let window1 = UnsafeRawPointer(bitPattern: table.inputAddresses[slot + 1]).unsafelyUnwrapped
                let window2 = UnsafeRawPointer(bitPattern: table.inputAddresses[slot + 2]).unsafelyUnwrapped
                let window3 = UnsafeRawPointer(bitPattern: table.inputAddresses[slot + 3]).unsafelyUnwrapped
                for c in 0..<channels {
                    let shift = c &* planeBytes
                    // Row `row` of each tile's window (vectors over columns), to be transposed to vectors over tiles.
                    @inline(__always) func rows(_ row: Int) -> Quad {
                        let offset = shift &+ row &* rowBytes
                        return (window0.loadUnaligned(fromByteOffset: offset, as: SIMD4<Float>.self),
                                window1.loadUnaligned(fromByteOffset: offset, as: SIMD4<Float>.self),
                                window2.loadUnaligned(fromByteOffset: offset, as: SIMD4<Float>.self),
                                window3.loadUnaligned(fromByteOffset: offset, as: SIMD4<Float>.self))
                    }
                    let d1 = rows(1), d2 = rows(2)
                    store(transpose((d1.0 + d2.0, d1.1 + d2.1, d1.2 + d2.2, d1.3 + d2.3)), row: 1, channel: c)
                    store(transpose((d2.0 - d1.0, d2.1 - d1.1, d2.2 - d1.2, d2.3 - d1.3)), row: 2, channel: c)
                    let d0 = rows(0)
                    store(transpose((d0.0 - d2.0, d0.1 - d2.1, d0.2 - d2.2, d0.3 - d2.3)), row: 0, channel: c)
                    let d3 = rows(3), again1 = rows(1)
                    store(transpose((again1.0 - d3.0, again1.1 - d3.1, again1.2 - d3.2, again1.3 - d3.3)), row: 3, channel: c)
                }
            }
            slot &+= 4
        }
    }

    /// Y = Aᵀ M A for the first `usedTiles` slots of the block and every output channel o
    /// (M[α][o][slot] at `products + α·productStride + o·layout.tiles + slot`; Aᵀ =
    /// [1 1 1 0; 0 1 −1 −1]), written to the output images, clipped at odd edges. Four whole
    /// tiles of one tile row store their two output rows as two 8-float vectors. 4×4 tiles go
    /// to `transformOutputLargeTiles`.
    static func transformOutput(
        _ products: UnsafePointer<Float>, tiles: WinogradTiles, table: TileTable, layout: BlockLayout, usedTiles: Int,
        outChannels m: Int, kernel: GEMMMicroKernel, into output: UnsafeMutablePointer<Float>
    ) {
        if tiles.size == 4 {
            transformOutputLargeTiles(products, tiles: tiles, table: table, layout: layout, usedTiles: usedTiles,
                                      outChannels: m, widestGroup: kernel.winogradTileGroup, into: output)
            return
        }
        let blockTiles = layout.tiles
        let alphaBytes = layout.productStride &* 4
        let plane = tiles.outputPlane, width = tiles.outputWidth
        for o in 0..<m {
            let source = UnsafeRawPointer(products + o * blockTiles)
            let destination = output + o * plane
            var slot = 0
            while slot < usedTiles {
                @inline(__always) func load(_ alpha: Int) -> SIMD4<Float> {
                    source.loadUnaligned(fromByteOffset: alpha &* alphaBytes &+ slot &* 4, as: SIMD4<Float>.self)
                }
                // Aᵀ along the rows for each column k, then along the columns.
                let s0 = transformA((load(0), load(4), load(8), load(12)))
                let s1 = transformA((load(1), load(5), load(9), load(13)))
                let s2 = transformA((load(2), load(6), load(10), load(14)))
                let s3 = transformA((load(3), load(7), load(11), load(15)))
                let (y00, y01) = transformA((s0.0, s1.0, s2.0, s3.0))
                let (y10, y11) = transformA((s0.1, s1.1, s2.1, s3.1))
                if table.outputRuns[slot / 4] != 0 {
                    let target = UnsafeMutableRawPointer(destination + table.outputOffsets[slot])
                    let top = SIMD8(y00[0], y01[0], y00[1], y01[1], y00[2], y01[2], y00[3], y01[3])
                    let bottom = SIMD8(y10[0], y11[0], y10[1], y11[1], y10[2], y11[2], y10[3], y11[3])
                    target.storeBytes(of: top, as: SIMD8<Float>.self)
                    target.storeBytes(of: bottom, toByteOffset: width &* 4, as: SIMD8<Float>.self)
                } else {
                    for j in 0..<min(4, usedTiles - slot) {
                        let extent = table.outputExtents[slot + j]
                        let rows = extent >> 2, columns = extent & 3
                        let target = destination + table.outputOffsets[slot + j]
                        target[0] = y00[j]
                        if columns == 2 { target[1] = y01[j] }
                        if rows == 2 {
                            target[width] = y10[j]
                            if columns == 2 { target[width + 1] = y11[j] }
                        }
                    }
                }
                slot &+= 4
            }
        }
    }
}

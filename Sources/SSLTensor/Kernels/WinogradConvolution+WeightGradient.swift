// MARK: - Weight gradient

extension WinogradConvolution {
    /// `weightGradient[o, c, ky, kx] = Σ outputGradient[n, o, oy, ox] · input[n, c, oy + ky, ox + kx]`
    /// for a 3×3 stride-1 geometry, by Winograd F(2×2, 3×3): the forward pass Y = Aᵀ(U ⊙ V)A is
    /// linear in U = G g Gᵀ, so
    ///
    ///     dU[α][o][c] = Σ_tiles (A dY_o Aᵀ)[α] · (Bᵀ d_c B)[α],   dW = Gᵀ dU G,
    ///
    /// 16 products `dU[α] (O × C) += dM[α] (O × tiles) · V[α]ᵀ (tiles × C)`, 2.25× fewer
    /// multiplications than the direct product. The output-gradient tiles dY are 2×2 (zero past
    /// the output's edge, so the windows' out-of-image row or column, read as in the forward
    /// pass, only ever meets zeros). Where `weightGradientTakesLargeTiles` says so, the same with
    /// F(4×4, 3×3)'s 4×4 tiles and 36 products (4× fewer multiplications than direct), the input
    /// windows the forward pass's (the images padded further where they would reach two rows or
    /// columns past them). Workers take blocks of tiles and sum into private dU accumulators,
    /// added at the end (`reduceSmallTiles`, `reduceLargeTiles`). `input` is `[N, C, H, W]`
    /// (unpadded: `TileImages` pads it), `outputGradient` `[N, O, OH, OW]`, `weightGradient`
    /// `[O, C, 3, 3]`.
    static func weightGradient(
        outputGradient: UnsafePointer<Float>, input: UnsafePointer<Float>, batch: Int, outChannels m: Int,
        geometry: ConvolutionGeometry, into weightGradient: UnsafeMutablePointer<Float>, context: ComputeContext
    ) {
        precondition(geometry.kernelHeight == 3 && geometry.kernelWidth == 3 && geometry.stride == 1,
                     "WinogradConvolution.weightGradient: needs a 3×3 stride-1 geometry, got \(geometry)")
        let channels = geometry.channels
        if m == 0 || channels == 0 { return }
        let large = weightGradientTakesLargeTiles(geometry, batch: batch, algorithm: .current,
                                                  threads: context.threadCount)
        let extended = large && largeTilesNeedExtendedImages(geometry)
        let tiles = WinogradTiles(geometry: geometry, batch: batch, outChannels: m, size: large ? 4 : 2,
                                  extended: extended)
        if tiles.count == 0 {
            weightGradient.update(repeating: 0, count: m * channels * 9)
            return
        }
        tileWeightGradient(outputGradient: outputGradient, input: input, batch: batch, tiles: tiles, large: large,
                           outChannels: m, geometry: geometry, into: weightGradient, context: context)
    }

    /// The weight gradient in `tiles`, each worker padding the images of its blocks as it goes
    /// (`TileImages`).
    private static func tileWeightGradient(
        outputGradient: UnsafePointer<Float>, input: UnsafePointer<Float>, batch: Int, tiles: WinogradTiles,
        large: Bool, outChannels m: Int, geometry: ConvolutionGeometry, into weightGradient: UnsafeMutablePointer<Float>,
        context: ComputeContext
    ) {
        let slices = large ? 36 : 16, channels = geometry.channels
        let pool = context.bufferPool
        let threads = max(1, min(context.threadCount, tiles.count / (large ? 32 : 64)))
        // Tiles per block: the depth of the products, a multiple of 4; V and dM of a block about 2 MiB.
        let share = roundUp((tiles.count + threads - 1) / threads, to: 4)
        let budget = (1 << 21) / (4 * slices * (channels + m)) / 4 * 4
        let blockTiles = min(share, max(large ? 32 : 64, min(512, budget)))
        let blocks = (tiles.count + blockTiles - 1) / blockTiles
        let layout = BlockLayout(tiles: blockTiles, channels: channels, paddedRows: m)
        let accumulatorStride = m * channels
        let perWorker = slices * (layout.transformedStride + layout.productStride + accumulatorStride)
        let scratch = pool.allocate(count: threads * perWorker)
        defer { pool.release(scratch.pointer, capacity: scratch.capacity) }
        let tableStride = TileTable.count(capacity: blockTiles)
        let tableBuffer = UnsafeMutablePointer<Int>.allocate(capacity: threads * tableStride)
        defer { tableBuffer.deallocate() }
        let gradient = SendablePointer(outputGradient)
        let buffers = SendablePointer(scratch.pointer), tables = SendablePointer(tableBuffer)
        let blocksPerWorker = (blocks + threads - 1) / threads
        TileImages.with(input, batch: batch, geometry: geometry, tiles: tiles, blockTiles: blockTiles, workers: threads,
                        context: context) { images in
            ParallelLoop.run(workers: threads, context: context) { worker in
                let transformed = buffers.base + worker * perWorker
                let products = transformed + slices * layout.transformedStride
                let accumulator = products + slices * layout.productStride
                let table = TileTable(base: tables.base + worker * tableStride, capacity: blockTiles)
                let firstBlock = min(blocks, worker * blocksPerWorker)
                let endBlock = min(blocks, firstBlock + blocksPerWorker)
                if firstBlock == endBlock { accumulator.update(repeating: 0, count: slices * accumulatorStride) }
                for block in firstBlock..<endBlock {
                    let first = block * blockTiles, count = min(blockTiles, tiles.count - first)
                    images.prepare(first: first, count: count, worker: worker)
                    tiles.fill(table, first: first, count: count) { images.start(of: $0, worker: worker) }
                    // V[α][c][slot]: the forward's input transform with one sliver as wide as the block.
                    transformInput(tiles: tiles, table: table, layout: layout, channels: channels, tileColumns: blockTiles,
                                   kernel: context.gemmKernel, into: transformed)
                    transformOutputGradient(UnsafePointer(gradient.base), tiles: tiles, table: table, layout: layout,
                                            outChannels: m, kernel: context.gemmKernel, into: products)
                    for alpha in 0..<slices {
                        gemm(m: m, n: channels, k: count,
                             a: MatrixOperand(base: products + alpha * layout.productStride, rowStride: blockTiles,
                                              columnStride: 1),
                             b: MatrixOperand(base: transformed + alpha * layout.transformedStride, rowStride: 1,
                                              columnStride: blockTiles),
                             beta: block == firstBlock ? 0 : 1, c: accumulator + alpha * accumulatorStride, ldc: channels,
                             threads: 1, context: context)
                    }
                }
            }
        }
        let accumulators = UnsafePointer(scratch.pointer + slices * (layout.transformedStride + layout.productStride))
        if large {
            reduceLargeTiles(accumulators, workers: threads, workerStride: perWorker, accumulatorStride: accumulatorStride,
                             into: weightGradient, context: context)
        } else {
            reduceSmallTiles(accumulators, workers: threads, workerStride: perWorker, accumulatorStride: accumulatorStride,
                             into: weightGradient, context: context)
        }
    }

    /// dW = Gᵀ (Σ_workers dU) G for every (o, c), F(2×2, 3×3)'s G: worker w's dU[α] at
    /// `accumulatorBase + w·workerStride + α·accumulatorStride`, row o at `o·C`.
    static func reduceSmallTiles(
        _ accumulatorBase: UnsafePointer<Float>, workers threads: Int, workerStride perWorker: Int,
        accumulatorStride: Int, into weightGradient: UnsafeMutablePointer<Float>, context: ComputeContext
    ) {
        let accumulators = SendablePointer(UnsafeMutablePointer(mutating: accumulatorBase))
        let result = SendablePointer(weightGradient)
        ParallelLoop.forEachChunk(count: accumulatorStride, minimumChunk: 1024, threads: context.threadCount) { range in
            for index in range {
                // Row `row` of dU (α = 4·row…4·row + 3), summed over the workers.
                func row(_ row: Int) -> SIMD4<Float> {
                    var total = SIMD4<Float>()
                    for worker in 0..<threads {
                        let base = accumulators.base + worker * perWorker + 4 * row * accumulatorStride + index
                        total += SIMD4(base[0], base[accumulatorStride], base[2 * accumulatorStride],
                                       base[3 * accumulatorStride])
                    }
                    return total
                }
                // Gᵀ along the columns of each row (four rows of three), then along the rows.
                let r0 = applyGTransposed(row(0)), r1 = applyGTransposed(row(1))
                let r2 = applyGTransposed(row(2)), r3 = applyGTransposed(row(3))
                let target = result.base + index * 9
                for kx in 0..<3 {
                    let column = applyGTransposed(SIMD4(r0[kx], r1[kx], r2[kx], r3[kx]))
                    target[kx] = column[0]
                    target[3 + kx] = column[1]
                    target[6 + kx] = column[2]
                }
            }
        }
    }

    /// Gᵀ applied to four values (Gᵀ = [1 ½ ½ 0; 0 ½ −½ 0; 0 ½ ½ 1]): three results, in a vector's first lanes.
    @inline(__always)
    static func applyGTransposed(_ v: SIMD4<Float>) -> SIMD4<Float> {
        let sum = (v[1] + v[2]) * 0.5, difference = (v[1] - v[2]) * 0.5
        return SIMD4(v[0] + sum, difference, sum + v[3], 0)
    }

    /// dM[α][o][slot] = (A dY Aᵀ)[α] for the 2×2 output-gradient tile dY of every used slot and
    /// output channel (A = [1 0; 1 1; 1 −1; 0 −1]; outputs past the edge read as zeros), at
    /// `products + α·productStride + o·layout.tiles + slot`; empty slots get zeros. Four slots at a
    /// time, vectors over the tiles: four whole tiles of one tile row read their two gradient
    /// rows as 8-float vectors whose even and odd lanes are the tiles' columns. 4×4 tiles go to
    /// `transformOutputGradientLargeTiles`.
    static func transformOutputGradient(
        _ gradient: UnsafePointer<Float>, tiles: WinogradTiles, table: TileTable, layout: BlockLayout, outChannels m: Int,
        kernel: GEMMMicroKernel, into products: UnsafeMutablePointer<Float>
    ) {
        if tiles.size == 4 {
            transformOutputGradientLargeTiles(gradient, tiles: tiles, table: table, layout: layout, outChannels: m,
                                              widestGroup: kernel.winogradTileGroup, into: products)
            return
        }
        let alphaBytes = layout.productStride &* 4
        let plane = tiles.outputPlane, width = tiles.outputWidth
        for o in 0..<m {
            let target = UnsafeMutableRawPointer(products + o * layout.tiles)
            let source = gradient + o * plane
            var slot = 0
            while slot < layout.tiles {
                let a: SIMD4<Float>, b: SIMD4<Float>, c: SIMD4<Float>, d: SIMD4<Float>
                if table.outputRuns[slot / 4] != 0 {
                    let top = UnsafeRawPointer(source + table.outputOffsets[slot]).loadUnaligned(as: SIMD8<Float>.self)
                    let bottom = UnsafeRawPointer(source + table.outputOffsets[slot] + width)
                        .loadUnaligned(as: SIMD8<Float>.self)
                    (a, b, c, d) = (top.evenHalf, top.oddHalf, bottom.evenHalf, bottom.oddHalf)
                } else {
                    var values = (SIMD4<Float>(), SIMD4<Float>(), SIMD4<Float>(), SIMD4<Float>())
                    for j in 0..<4 {
                        let extent = table.outputExtents[slot + j]
                        if extent == 0 { continue }
                        let rows = extent >> 2, columns = extent & 3
                        let corner = source + table.outputOffsets[slot + j]
                        values.0[j] = corner[0]
                        if columns == 2 { values.1[j] = corner[1] }
                        if rows == 2 {
                            values.2[j] = corner[width]
                            if columns == 2 { values.3[j] = corner[width + 1] }
                        }
                    }
                    (a, b, c, d) = values
                }
                // A dY: rows (a, b), (a + c, b + d), (a − c, b − d), (−c, −d); then each row (p, q)
                // times Aᵀ: (p, p + q, p − q, −q).
                @inline(__always) func store(_ p: SIMD4<Float>, _ q: SIMD4<Float>, row i: Int) {
                    let offset = 4 &* i &* alphaBytes &+ slot &* 4
                    target.storeBytes(of: p, toByteOffset: offset, as: SIMD4<Float>.self)
                    target.storeBytes(of: p + q, toByteOffset: offset &+ alphaBytes, as: SIMD4<Float>.self)
                    target.storeBytes(of: p - q, toByteOffset: offset &+ 2 &* alphaBytes, as: SIMD4<Float>.self)
                    target.storeBytes(of: -q, toByteOffset: offset &+ 3 &* alphaBytes, as: SIMD4<Float>.self)
                }
                store(a, b, row: 0)
                store(a + c, b + d, row: 1)
                store(a - c, b - d, row: 2)
                store(-c, -d, row: 3)
                slot &+= 4
            }
        }
    }
}

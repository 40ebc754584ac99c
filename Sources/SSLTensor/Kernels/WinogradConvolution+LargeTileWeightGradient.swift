import CSSLKernels

// MARK: - Weight gradient by F(4×4, 3×3)

extension WinogradConvolution {
    /// `weightGradient` with 4×4 tiles (for the shapes `takesLargeTiles` picks): as the forward
    /// pass Y = Aᵀ(U ⊙ V)A is linear in U = G g Gᵀ (F(4×4, 3×3)'s matrices, see
    /// `forwardLargeTiles`),
    ///
    ///     dU[α][o][c] = Σ_tiles (A dY_o Aᵀ)[α] · (Bᵀ d_c B)[α],   dW = Gᵀ dU G,
    ///
    /// 36 products `dU[α] (O × C) += dM[α] (O × tiles) · V[α]ᵀ (tiles × C)` per 4×4 tile of the
    /// output gradient, 4× fewer multiplications than the direct product (F(2×2, 3×3): 2.25×).
    /// The output-gradient tiles are zero past the output's edge; the input windows are the
    /// forward pass's (the images copied with zeros up to the windows' reach where they would
    /// run two rows or columns past them). Workers take blocks of tiles and sum into private dU
    /// accumulators, added at the end.
    static func weightGradientLargeTiles(
        outputGradient: UnsafePointer<Float>, paddedInput input: UnsafePointer<Float>, batch: Int, outChannels m: Int,
        geometry: ConvolutionGeometry, into weightGradient: UnsafeMutablePointer<Float>, context: ComputeContext
    ) {
        let channels = geometry.channels
        let extended = [1, 2].contains(geometry.outputHeight % 4) || [1, 2].contains(geometry.outputWidth % 4)
        let tiles = WinogradTiles(geometry: geometry, batch: batch, outChannels: m, size: 4, extended: extended)
        if m == 0 || channels == 0 { return }
        if tiles.count == 0 {
            weightGradient.update(repeating: 0, count: m * channels * 9)
            return
        }
        let pool = context.bufferPool
        let extendedImages = extended ? extendedCopy(input, batch: batch, geometry: geometry, tiles: tiles, context: context) : nil
        defer { if let extendedImages { pool.release(extendedImages.pointer, capacity: extendedImages.capacity) } }
        let input = extendedImages.map { UnsafePointer($0.pointer) } ?? input
        let threads = max(1, min(context.threadCount, tiles.count / 32))
        // Tiles per block: the depth of the 36 products, a multiple of 4; V and dM of a block about 2 MiB.
        let share = roundUp((tiles.count + threads - 1) / threads, to: 4)
        let blockTiles = min(share, max(32, min(512, (1 << 21) / (144 * (channels + m)) / 4 * 4)))
        let blocks = (tiles.count + blockTiles - 1) / blockTiles
        let layout = BlockLayout(tiles: blockTiles, channels: channels, paddedRows: m)
        let accumulatorStride = m * channels
        let perWorker = 36 * (layout.transformedStride + layout.productStride + accumulatorStride)
        let scratch = pool.allocate(count: threads * perWorker)
        defer { pool.release(scratch.pointer, capacity: scratch.capacity) }
        let tableStride = TileTable.count(capacity: blockTiles)
        let tableBuffer = UnsafeMutablePointer<Int>.allocate(capacity: threads * tableStride)
        defer { tableBuffer.deallocate() }
        let lastImage = copyOfLastImage(input, batch: batch, tiles: tiles, pool: pool)
        defer { pool.release(lastImage.pointer, capacity: lastImage.capacity) }

        let source = SendablePointer(input), last = SendablePointer(lastImage.pointer)
        let gradient = SendablePointer(outputGradient)
        let buffers = SendablePointer(scratch.pointer), tables = SendablePointer(tableBuffer)
        let blocksPerWorker = (blocks + threads - 1) / threads
        ParallelLoop.run(workers: threads, context: context) { worker in
            let transformed = buffers.base + worker * perWorker
            let products = transformed + 36 * layout.transformedStride
            let accumulator = products + 36 * layout.productStride
            let table = TileTable(base: tables.base + worker * tableStride, capacity: blockTiles)
            let firstBlock = min(blocks, worker * blocksPerWorker)
            let endBlock = min(blocks, firstBlock + blocksPerWorker)
            if firstBlock == endBlock { accumulator.update(repeating: 0, count: 36 * accumulatorStride) }
            for block in firstBlock..<endBlock {
                let first = block * blockTiles, count = min(blockTiles, tiles.count - first)
                tiles.fillLargeTiles(table, first: first, count: count, source: UnsafePointer(source.base),
                                     lastImage: UnsafePointer(last.base), batch: batch)
                // V[α][c][slot]: the forward's input transform with one sliver as wide as the block.
                transformInputLargeTiles(tiles: tiles, table: table, layout: layout, channels: channels,
                                         tileColumns: blockTiles, into: transformed)
                transformOutputGradientLargeTiles(UnsafePointer(gradient.base), tiles: tiles, table: table,
                                                  layout: layout, outChannels: m, into: products)
                for alpha in 0..<36 {
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
        // dW = Gᵀ (Σ_workers dU) G for every (o, c).
        let accumulators = SendablePointer(scratch.pointer + 36 * (layout.transformedStride + layout.productStride))
        let result = SendablePointer(weightGradient)
        ParallelLoop.forEachChunk(count: accumulatorStride, minimumChunk: 256, threads: context.threadCount) { range in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 36 + 18) { scratch in
                guard let sums = scratch.baseAddress else { return }
                let rows = sums + 36  // (dU G)[i][kx], six rows of three
                for index in range {
                    for alpha in 0..<36 {
                        var total: Float = 0
                        for worker in 0..<threads {
                            total += accumulators.base[worker * perWorker + alpha * accumulatorStride + index]
                        }
                        sums[alpha] = total
                    }
                    for i in 0..<6 {
                        let row = applyLargeGTransposed(sums + 6 * i, stride: 1)
                        rows[3 * i] = row.0
                        rows[3 * i + 1] = row.1
                        rows[3 * i + 2] = row.2
                    }
                    let target = result.base + index * 9
                    for kx in 0..<3 {
                        let column = applyLargeGTransposed(rows + kx, stride: 3)
                        target[kx] = column.0
                        target[3 + kx] = column.1
                        target[6 + kx] = column.2
                    }
                }
            }
        }
    }

    /// Gᵀ (F(4×4, 3×3)'s, 3×6) applied to the six values `v[0], v[stride], …, v[5·stride]`.
    @inline(__always)
    static func applyLargeGTransposed(_ v: UnsafePointer<Float>, stride: Int) -> (Float, Float, Float) {
        let v0 = v[0], v1 = v[stride], v2 = v[2 * stride], v3 = v[3 * stride], v4 = v[4 * stride], v5 = v[5 * stride]
        let sum12 = v1 + v2, sum34 = v3 + v4
        return (v0 * 0.25 - sum12 / 6 + sum34 / 24, (v2 - v1) / 6 + (v3 - v4) / 12, (sum34 - sum12) / 6 + v5)
    }

    /// dM[α][o][slot] = (A dY Aᵀ)[α] for the 4×4 output-gradient tile dY of every slot and
    /// output channel (zeros past the output's edge and for empty slots), at
    /// `products + α·productStride + o·layout.tiles + slot`: four slots at a time by
    /// `ssl_winograd4_transform_output_gradient`.
    static func transformOutputGradientLargeTiles(
        _ gradient: UnsafePointer<Float>, tiles: WinogradTiles, table: TileTable, layout: BlockLayout, outChannels m: Int,
        into products: UnsafeMutablePointer<Float>
    ) {
        withUnsafeTemporaryAllocation(of: UnsafePointer<Float>?.self, capacity: 4) { sources in
            for o in 0..<m {
                let channel = gradient + o * tiles.outputPlane
                var slot = 0
                while slot < layout.tiles {
                    for j in 0..<4 { sources[j] = channel + table.outputOffsets[slot + j] }
                    ssl_winograd4_transform_output_gradient(sources.baseAddress, table.outputExtents + slot,
                                                            tiles.outputWidth, layout.productStride,
                                                            products + o * layout.tiles + slot)
                    slot &+= 4
                }
            }
        }
    }
}

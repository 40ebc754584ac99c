// MARK: - Winograd F(2×2, 3×3)

/// 3×3 stride-1 convolutions by Winograd's minimal filtering F(2×2, 3×3)
/// ([Lavin & Gray 2016](https://arxiv.org/abs/1509.09308)). Every 2×2 block of outputs (a
/// *tile*) comes from the 4×4 input patch `d` under it:
///
///     Y = Aᵀ [ Σ_c (G g_c Gᵀ) ⊙ (Bᵀ d_c B) ] A
///
/// with 16 products per tile and channel pair where the direct convolution takes 36 (2.25×
/// fewer). At each of the 16 patch positions α the sum over input channels is a matrix product,
/// `M[α] (O × tiles) = U[α] (O × C) · V[α] (C × tiles)`, and runs on the GEMM micro-kernels:
/// the transformed weights U are packed once per call as A slivers, and the input transform
/// writes V straight in the packed B-sliver layout, so nothing is packed per tile. Tiles run
/// in blocks sized so that a block's V and M stay in L2; each worker takes whole blocks
/// (input transform, the 16 products, output transform).
///
/// The transforms use only 0, ±1 and ±½, so the rounding error stays within a small multiple
/// of the direct product's (`WinogradConvolutionTests` states the bound it checks).
///
/// Where `takesLargeTiles` says so, the forward product (and so the input gradient) runs as
/// F(4×4, 3×3) instead (its matrices in `WinogradConvolution+LargeTiles.swift`): 36 products
/// per 4×4 tile, 4× fewer than direct, at a larger but bounded rounding error; the weight
/// gradient too, where `weightGradientTakesLargeTiles` says so.
enum WinogradConvolution {
    /// Whether `algorithm` computes a product of this shape with Winograd: a 3×3 stride-1
    /// convolution, and with `.automatic` one whose shape pays (`pays`).
    static func applies(
        _ geometry: ConvolutionGeometry, outChannels: Int, batch: Int, algorithm: ConvolutionAlgorithm
    ) -> Bool {
        guard geometry.kernelHeight == 3, geometry.kernelWidth == 3, geometry.stride == 1,
              geometry.channels > 0, outChannels > 0 else { return false }
        switch algorithm {
        case .direct: return false
        case .winograd, .winograd4x4: return true
        case .automatic: return pays(geometry, outChannels: outChannels, batch: batch)
        }
    }

    /// Whether a product `applies` takes runs with F(4×4, 3×3) rather than
    /// F(2×2, 3×3): always with `.winograd4x4`; with `.automatic` when its 36 products per 4×4
    /// tile come to less than three quarters of F(2×2)'s 16 per 2×2 tile over the output
    /// (28×28 and 7×7 maps: 0.56; 14×14: 0.73; 6×6 or 10×10: no gain, the tiles cover too
    /// much past the edge).
    static func takesLargeTiles(_ geometry: ConvolutionGeometry, algorithm: ConvolutionAlgorithm) -> Bool {
        switch algorithm {
        case .winograd4x4: return true
        case .automatic:
            let large = ((geometry.outputHeight + 3) / 4) * ((geometry.outputWidth + 3) / 4)
            let small = ((geometry.outputHeight + 1) / 2) * ((geometry.outputWidth + 1) / 2)
            return 36 * large * 4 < 16 * small * 3
        case .direct, .winograd: return false
        }
    }

    /// Whether `algorithm` computes the weight gradient of this shape with Winograd
    /// (`weightGradient`). Its products go through `gemm`, which packs both operands per block.
    /// With `.automatic`, F(4×4, 3×3) (`weightGradientTakesLargeTiles`) pays from 32 input and
    /// output channels (AVX2, two threads, against the direct product: 1.7× at 32 channels on
    /// 28×28, 1.5× at 64 on 14×14, 1.9× at 128 on 7×7; against F(2×2): 1.1–1.5×). AVX-512 takes
    /// the same rule, not measured yet. F(2×2, 3×3) pays only from 128 channels with the AVX-512
    /// kernel (single-core measurements on the ConvNet's and ResNet-18's layers: about 1.1–1.5×
    /// the direct product from 128 channels, 0.7–1.0× at 32 and 64) and from 64 with the others,
    /// whose slower multiply-adds leave the packing a smaller share (AVX2: 1.0× at 32, 1.25× at
    /// 64, 1.5× at 128), besides the forward product's conditions.
    static func appliesToWeightGradient(
        _ geometry: ConvolutionGeometry, outChannels: Int, batch: Int, algorithm: ConvolutionAlgorithm,
        kernel: GEMMMicroKernel, threads: Int
    ) -> Bool {
        guard applies(geometry, outChannels: outChannels, batch: batch, algorithm: algorithm) else { return false }
        if algorithm == .winograd || algorithm == .winograd4x4 { return true }
        let large = weightGradientTakesLargeTiles(geometry, batch: batch, algorithm: algorithm, threads: threads)
        let minimum = large ? 32 : kernel == .avx512 ? 128 : 64
        return geometry.channels >= minimum && outChannels >= minimum
    }

    /// Whether a weight gradient `appliesToWeightGradient` takes runs with F(4×4, 3×3)
    /// (in `weightGradient`): always with `.winograd4x4`; with `.automatic` where the
    /// forward product does (`takesLargeTiles`) and there are at least 256 tiles of 4×4 per
    /// thread. Each worker adds its products into 36 accumulators of O × C, against F(2×2)'s 16,
    /// a cost that only enough tiles repay (512→512 on 4×4 maps, two threads: 0.77× F(2×2)'s
    /// speed at 64 tiles a thread, 0.98× at 128, 1.17× at 256).
    static func weightGradientTakesLargeTiles(
        _ geometry: ConvolutionGeometry, batch: Int, algorithm: ConvolutionAlgorithm, threads: Int
    ) -> Bool {
        switch algorithm {
        case .winograd4x4: return true
        case .automatic:
            let tiles = batch * ((geometry.outputHeight + 3) / 4) * ((geometry.outputWidth + 3) / 4)
            return takesLargeTiles(geometry, algorithm: algorithm) && tiles >= 256 * max(1, threads)
        case .direct, .winograd: return false
        }
    }

    /// Winograd pays when the per-α products are deep and wide enough for the micro-kernel to
    /// run near its peak, so the 2.25× fewer multiplications are not spent again on the
    /// transforms (at least 16 input and 16 output channels), and when there are enough tiles
    /// to spread the weight transform over (at least 256, e.g. 64 images of 8×8 outputs).
    static func pays(_ geometry: ConvolutionGeometry, outChannels: Int, batch: Int) -> Bool {
        let tiles = batch * ((geometry.outputHeight + 1) / 2) * ((geometry.outputWidth + 1) / 2)
        return geometry.channels >= 16 && outChannels >= 16 && tiles >= 256
    }

    /// `output[n, o, oy, ox] = Σ_{c, ky, kx} weight[o, c, ky, kx] · input[n, c, oy + ky, ox + kx]`
    /// over the padded images: the same contract as `BatchedConvolution.forward` for a 3×3
    /// stride-1 geometry. `input` is `[N, C, H, W]` (unpadded: `TileImages` pads it), `weight`
    /// `[O, C·3·3]`, `output` `[N, O, OH, OW]`. With F(4×4, 3×3) (`takesLargeTiles`) the same
    /// blocks and products, with 36 slices and the images padded further where the windows
    /// would reach two rows or columns past them (`largeTilesNeedExtendedImages`).
    static func forward(
        input: UnsafePointer<Float>, batch: Int, weight: UnsafePointer<Float>, outChannels: Int,
        geometry: ConvolutionGeometry, output: UnsafeMutablePointer<Float>, context: ComputeContext
    ) {
        precondition(geometry.kernelHeight == 3 && geometry.kernelWidth == 3 && geometry.stride == 1,
                     "WinogradConvolution.forward: needs a 3×3 stride-1 geometry, got \(geometry)")
        let large = takesLargeTiles(geometry, algorithm: .current), m = outChannels
        let extended = large && largeTilesNeedExtendedImages(geometry)
        let tiles = WinogradTiles(geometry: geometry, batch: batch, outChannels: m, size: large ? 4 : 2,
                                  extended: extended)
        if tiles.count == 0 || m == 0 { return }
        forward(input: input, batch: batch, tiles: tiles, large: large, weight: weight, outChannels: m,
                geometry: geometry, output: output, context: context)
    }

    /// The forward product in `tiles`, each worker padding the images of its blocks as it goes
    /// (`TileImages`).
    private static func forward(
        input: UnsafePointer<Float>, batch: Int, tiles: WinogradTiles, large: Bool, weight: UnsafePointer<Float>,
        outChannels m: Int, geometry: ConvolutionGeometry, output: UnsafeMutablePointer<Float>, context: ComputeContext
    ) {
        let slices = large ? 36 : 16
        let kernel = context.gemmKernel
        let mr = kernel.tileRows, nr = kernel.tileColumns
        let channels = geometry.channels
        let pool = context.bufferPool
        let paddedRows = roundUp(m, to: mr)
        let panels = PanelSplit(depth: channels, maximumDepth: kernel.panelDepth)
        let packedWeights = large
            ? transformAndPackWeightsLargeTiles(weight, outChannels: m, channels: channels, paddedRows: paddedRows,
                                                panels: panels, sliverHeight: mr, context: context)
            : transformAndPackWeights(weight, outChannels: m, channels: channels, paddedRows: paddedRows,
                                      panels: panels, sliverHeight: mr, context: context)
        defer { pool.release(packedWeights.pointer, capacity: packedWeights.capacity) }

        let threads = max(1, min(context.threadCount, (tiles.count + nr - 1) / nr))
        let blockTiles = blockSize(channels: channels, paddedRows: paddedRows, tileColumns: nr,
                                   tileCount: tiles.count, threads: threads, slices: slices)
        let blocks = (tiles.count + blockTiles - 1) / blockTiles
        let layout = BlockLayout(tiles: blockTiles, channels: channels, paddedRows: paddedRows)
        let perWorker = slices * (layout.transformedStride + layout.productStride)
        let scratch = pool.allocate(count: threads * perWorker)
        defer { pool.release(scratch.pointer, capacity: scratch.capacity) }
        let tableStride = TileTable.count(capacity: blockTiles)
        let tableBuffer = UnsafeMutablePointer<Int>.allocate(capacity: threads * tableStride)
        defer { tableBuffer.deallocate() }
        let weights = SendablePointer(packedWeights.pointer)
        let buffers = SendablePointer(scratch.pointer), tables = SendablePointer(tableBuffer)
        let result = SendablePointer(output)
        let blocksPerWorker = (blocks + threads - 1) / threads
        TileImages.with(input, batch: batch, geometry: geometry, tiles: tiles, blockTiles: blockTiles, workers: threads,
                        context: context) { images in
            ParallelLoop.run(workers: threads, context: context) { worker in
                let transformed = buffers.base + worker * perWorker
                let products = transformed + slices * layout.transformedStride
                let table = TileTable(base: tables.base + worker * tableStride, capacity: blockTiles)
                let firstBlock = min(blocks, worker * blocksPerWorker)
                for block in firstBlock..<min(blocks, firstBlock + blocksPerWorker) {
                    let first = block * blockTiles, count = min(blockTiles, tiles.count - first)
                    images.prepare(first: first, count: count, worker: worker)
                    tiles.fill(table, first: first, count: count) { images.start(of: $0, worker: worker) }
                    transformInput(tiles: tiles, table: table, layout: layout, channels: channels, tileColumns: nr,
                                   kernel: kernel, into: transformed)
                    multiply(weights: UnsafePointer(weights.base), transformed: UnsafePointer(transformed),
                             into: products, layout: layout, outChannels: m, paddedRows: paddedRows, channels: channels,
                             panels: panels, usedTiles: count, kernel: kernel, slices: slices)
                    transformOutput(UnsafePointer(products), tiles: tiles, table: table, layout: layout,
                                    usedTiles: count, outChannels: m, kernel: kernel, into: result.base)
                }
            }
        }
    }

    /// Tiles per block: a multiple of NR whose V (`slices`·C floats a tile) and M (`slices`·O)
    /// fill about 1 MiB, at least one sliver, and no more than the workers' even share of the tiles.
    static func blockSize(
        channels: Int, paddedRows: Int, tileColumns nr: Int, tileCount: Int, threads: Int, slices: Int = 16
    ) -> Int {
        let bytesPerTile = slices * (channels + paddedRows) * 4
        let fitting = max(nr, (1 << 20) / bytesPerTile / nr * nr)
        let share = roundUp((tileCount + threads - 1) / threads, to: nr)
        return max(nr, min(fitting, share))
    }

    /// The products of one block, one per slice α (16 of them for F(2×2, 3×3), `slices`):
    /// `M[α] = U[α] · V[α]` over depth panels of the channels.
    /// U[α]'s panel q is at `weights + α·weightStride + q·paddedRows·maximumDepth` (MR-tall
    /// slivers); V[α] sliver s is `transformed + α·transformedStride + s·C·NR` (C groups of NR
    /// floats); M[α] is `products + α·productStride`, rows `layout.tiles` apart.
    @inline(__always)
    static func multiply(
        weights: UnsafePointer<Float>, transformed: UnsafePointer<Float>, into products: UnsafeMutablePointer<Float>,
        layout: BlockLayout, outChannels m: Int, paddedRows: Int, channels: Int, panels: PanelSplit, usedTiles: Int,
        kernel: GEMMMicroKernel, slices: Int = 16
    ) {
        let mr = kernel.tileRows, nr = kernel.tileColumns, blockTiles = layout.tiles
        let slivers = (usedTiles + nr - 1) / nr
        let weightStride = weightStride(paddedRows: paddedRows, panels: panels)
        for alpha in 0..<slices {
            let v = transformed + alpha * layout.transformedStride
            let product = products + alpha * layout.productStride
            for panel in 0..<panels.count {
                let (start, size) = panels[panel]
                let u = weights + alpha * weightStride + panel * paddedRows * panels.maximumDepth
                let beta: Float = panel == 0 ? 0 : 1
                for sliver in 0..<slivers {
                    let b = v + sliver * channels * nr + start * nr
                    var row = 0
                    while row < m {
                        kernel.run(rows: min(mr, m - row), depth: size, a: u + row * size, b: b,
                                   c: product + row * blockTiles + sliver * nr, ldc: blockTiles, alpha: 1, beta: beta)
                        row &+= mr
                    }
                }
            }
        }
    }

    /// G applied to three values: the four rows (or columns) of G·(a, b, c)ᵀ.
    @inline(__always)
    static func applyG(_ a: Float, _ b: Float, _ c: Float) -> SIMD4<Float> {
        SIMD4(a, (a + b + c) * 0.5, (a - b + c) * 0.5, c)
    }

    /// Floats from U[α] to U[α + 1] in the packed weights: all depth panels, staggered
    /// (`BlockLayout.staggered`), as the transform writes all 16 at once.
    static func weightStride(paddedRows: Int, panels: PanelSplit) -> Int {
        BlockLayout.staggered(panels.count * paddedRows * panels.maximumDepth)
    }

    /// U[α][o][c] = (G g Gᵀ)[α] for the 3×3 kernel g = weight[o, c] (G = [1 0 0; ½ ½ ½; ½ −½ ½;
    /// 0 0 1]), written straight in the packed layout `multiply` reads (`packTransformedWeights`).
    /// The caller releases the buffer.
    static func transformAndPackWeights(
        _ weight: UnsafePointer<Float>, outChannels m: Int, channels: Int, paddedRows: Int, panels: PanelSplit,
        sliverHeight mr: Int, context: ComputeContext
    ) -> (pointer: UnsafeMutablePointer<Float>, capacity: Int) {
        packTransformedWeights(weight, outChannels: m, channels: channels, paddedRows: paddedRows, panels: panels,
                               sliverHeight: mr, slices: 16, context: context) { g, base, alphaStride in
            // The columns of G·g (each over its four rows), then (G·g)·Gᵀ column by column.
            let c0 = applyG(g[0], g[3], g[6]), c1 = applyG(g[1], g[4], g[7]), c2 = applyG(g[2], g[5], g[8])
            let u1 = (c0 + c1 + c2) * 0.5, u2 = (c0 - c1 + c2) * 0.5
            for i in 0..<4 {
                let row = base + 4 * i * alphaStride
                row[0] = c0[i]
                row[alphaStride] = u1[i]
                row[2 * alphaStride] = u2[i]
                row[3 * alphaStride] = c2[i]
            }
        }
    }

    /// The transformed weights U[α][o][c] in the packed layout `multiply` reads: for each of the
    /// `slices` α and depth panel q, MR-tall slivers of output channels (zero rows past O),
    /// `depth` groups of MR floats each. `transform` writes the slices of one 3×3 kernel g
    /// (9 floats) at `target + α·alphaStride`. The caller releases the buffer.
    static func packTransformedWeights(
        _ weight: UnsafePointer<Float>, outChannels m: Int, channels: Int, paddedRows: Int, panels: PanelSplit,
        sliverHeight mr: Int, slices: Int, context: ComputeContext,
        transform: @Sendable (_ g: UnsafePointer<Float>, _ target: UnsafeMutablePointer<Float>, _ alphaStride: Int) -> Void
    ) -> (pointer: UnsafeMutablePointer<Float>, capacity: Int) {
        let panelSize = paddedRows * panels.maximumDepth
        let alphaStride = weightStride(paddedRows: paddedRows, panels: panels)
        let packed = context.bufferPool.allocate(count: slices * alphaStride)
        let slivers = paddedRows / mr
        let source = SendablePointer(weight), destination = SendablePointer(packed.pointer)
        ParallelLoop.forEachChunk(count: panels.count * slivers, minimumChunk: max(1, 4096 / (mr * channels)),
                                  threads: context.threadCount) { range in
            for unit in range {
                let panel = unit / slivers, sliverRow = (unit % slivers) * mr
                let (start, size) = panels[panel]
                // Sliver of rows sliverRow…, depth index c − start, row o − sliverRow within it.
                let sliver = destination.base + panel * panelSize + sliverRow * size
                for c in start..<(start + size) {
                    let target = sliver + (c - start) * mr
                    for row in 0..<mr {
                        let o = sliverRow + row
                        guard o < m else {
                            for alpha in 0..<slices { target[alpha * alphaStride + row] = 0 }
                            continue
                        }
                        transform(UnsafePointer(source.base) + (o * channels + c) * 9, target + row, alphaStride)
                    }
                }
            }
        }
        return packed
    }
}

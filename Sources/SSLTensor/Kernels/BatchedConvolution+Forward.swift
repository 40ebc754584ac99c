// MARK: - Forward

extension BatchedConvolution {
    /// `output[n, o, oy, ox] = Σ_k weight[o, k] · columns[k, (n, oy, ox)]`: the forward pass of
    /// `input` (`[N, C, H, W]`); `weight` is `[O, C·KH·KW]` row-major; `output` is `[N, O, OH, OW]`.
    /// The packed path reads a padded copy of the batch (`withPaddedImages`); Winograd
    /// (`TileImages`) and the in-place path pad one image at a time, into cache.
    static func forward(
        input: UnsafePointer<Float>, batch: Int, weight: UnsafePointer<Float>, outChannels: Int,
        geometry: ConvolutionGeometry, output: UnsafeMutablePointer<Float>, context: ComputeContext
    ) {
        let m = outChannels, positions = geometry.columnCount
        if m == 0 || batch * positions == 0 { return }
        if WinogradConvolution.applies(geometry, outChannels: outChannels, batch: batch, algorithm: .current) {
            WinogradConvolution.forward(input: input, batch: batch, weight: weight, outChannels: outChannels,
                                        geometry: geometry, output: output, context: context)
            return
        }
        if readsImagesInPlace(geometry, outChannels: outChannels, kernel: context.gemmKernel) {
            forwardInPlace(input: input, batch: batch, weight: weight, outChannels: outChannels,
                           geometry: geometry, output: output, context: context)
            return
        }
        withPaddedImages(input, batch: batch, geometry: geometry, context: context) { padded in
            forwardPacked(paddedInput: padded, batch: batch, weight: weight, outChannels: outChannels,
                          geometry: geometry, output: output, context: context)
        }
    }

    /// Calls `body` with the images padded (`PaddedImages.writePadded`) in a buffer of the pool,
    /// or with `images` themselves when the padding is 0.
    static func withPaddedImages(
        _ images: UnsafePointer<Float>, batch: Int, geometry: ConvolutionGeometry, context: ComputeContext,
        _ body: (UnsafePointer<Float>) -> Void
    ) {
        guard geometry.padding > 0 else {
            body(images)
            return
        }
        let pool = context.bufferPool
        let padded = pool.allocate(count: max(1, batch * PaddedImages.imageSize(geometry)))
        defer { pool.release(padded.pointer, capacity: padded.capacity) }
        PaddedImages.writePadded(images, batch: batch, geometry: geometry, into: padded.pointer, context: context)
        body(UnsafePointer(padded.pointer))
    }

    /// The forward product over packed column slivers of the padded images (`PaddedImages`
    /// layout): NR output positions per sliver, running across images.
    private static func forwardPacked(
        paddedInput input: UnsafePointer<Float>, batch: Int, weight: UnsafePointer<Float>, outChannels: Int,
        geometry: ConvolutionGeometry, output: UnsafeMutablePointer<Float>, context: ComputeContext
    ) {
        let kernel = context.gemmKernel
        let mr = kernel.tileRows, nr = kernel.tileColumns
        let m = outChannels, depth = geometry.columnRows, positions = geometry.columnCount
        let total = batch * positions
        let padded = PaddedImages(alreadyPadded: input, geometry: geometry)
        let rowOffsets = padded.depthRowOffsets(geometry)
        defer { rowOffsets.deallocate() }
        let panels = PanelSplit(depth: depth, maximumDepth: kernel.panelDepth)
        let paddedRows = roundUp(m, to: mr)

        let pool = context.bufferPool
        let packedWeights = packPanels(.rowMajor(weight, columns: depth), rows: m, paddedRows: paddedRows,
                                       panels: panels, sliverHeight: mr, pool: pool)
        defer { pool.release(packedWeights.pointer, capacity: packedWeights.capacity) }

        let slivers = (total + nr - 1) / nr
        let threads = min(context.threadCount, slivers)
        let perWorker = panels.maximumDepth * nr + paddedRows * nr
        let scratch = pool.allocate(count: threads * perWorker)
        defer { pool.release(scratch.pointer, capacity: scratch.capacity) }
        let columnOffsetTable = UnsafeMutablePointer<Int>.allocate(capacity: threads * 4 * nr)
        defer { columnOffsetTable.deallocate() }

        let source = SendablePointer(padded.pointer), weights = SendablePointer(packedWeights.pointer)
        let buffers = SendablePointer(scratch.pointer), offsets = SendablePointer(columnOffsetTable)
        let rows = SendablePointer(rowOffsets), result = SendablePointer(output)
        let outputImageSize = m * positions
        ParallelLoop.forEachChunk(count: slivers, minimumChunk: 1, threads: threads) { range in
            let worker = range.lowerBound / ((slivers + threads - 1) / threads)
            let packedColumns = buffers.base + worker * perWorker
            let tileBuffer = packedColumns + panels.maximumDepth * nr
            let columnOffsets = offsets.base + worker * 4 * nr
            let program = columnOffsets + nr
            for sliver in range {
                let first = sliver * nr
                let columns = min(nr, total - first)
                padded.fillColumnOffsets(columnOffsets, firstPosition: first, count: columns, width: nr,
                                         geometry: geometry)
                let moves = copyProgram(of: UnsafePointer(columnOffsets), width: nr, into: program)
                let image = first / positions, position = first % positions
                // A full sliver inside one image writes its full-height tiles straight into the output.
                let direct = columns == nr && position + nr <= positions
                let directRows = direct ? (kernel.writesExactly(rows: m - m / mr * mr) ? m : m / mr * mr) : 0
                for panel in 0..<panels.count {
                    let (start, size) = panels[panel]
                    packSliver(UnsafePointer(source.base), rowOffsets: UnsafePointer(rows.base + start), depth: size,
                               columnOffsets: UnsafePointer(columnOffsets), program: UnsafePointer(program), moves: moves,
                               width: nr, into: packedColumns)
                    let beta: Float = panel == 0 ? 0 : 1
                    let panelWeights = weights.base + panel * paddedRows * panels.maximumDepth
                    var row = 0
                    while row < m {
                        let a = UnsafePointer(panelWeights + row * size), rowsHere = min(mr, m - row)
                        if row < directRows {
                            kernel.run(rows: rowsHere, depth: size, a: a, b: UnsafePointer(packedColumns),
                                       c: result.base + image * outputImageSize + row * positions + position,
                                       ldc: positions, alpha: 1, beta: beta)
                        } else {
                            kernel.run(rows: rowsHere, depth: size, a: a, b: UnsafePointer(packedColumns),
                                       c: tileBuffer + row * nr, ldc: nr, alpha: 1, beta: beta)
                        }
                        row += mr
                    }
                }
                if directRows < m {
                    scatterTile(UnsafePointer(tileBuffer), tileStride: nr, rows: directRows..<m, firstPosition: first, count: columns,
                                positions: positions, into: result.base)
                }
            }
        }
    }

    /// The forward product of stride 1 (or of a stride the padded images are split by, which reads
    /// each phase as stride 1 does), computed transposed (outputᵀ = columnsᵀ · weightᵀ) without
    /// packing the columns. Over the positions of a phase's width (g = oy·Ws + ox, with ox running
    /// to Ws; Ws = Wp unsplit), column k = (c, ky, kx) of columnsᵀ is the padded image itself,
    /// read from `rowOffset[k]` (`PaddedImages.depthRowOffsets`) on, one float per position. So
    /// the micro-kernel reads its A slivers in place (`runGathered`: MR positions per tile,
    /// broadcast from the image) and only the weights are packed, once per call, as B (NR output
    /// channels per sliver). Each worker takes groups of up to 16 tiles of one image, so a weight
    /// sliver stays in L1 while the group runs; the group's tiles are then transposed into the
    /// output, skipping the positions with ox ≥ OW. Each worker pads the image its units are on
    /// into a buffer of its own (so the padded image is read from cache, never stored for the
    /// batch), with zeros after it: the last tile reads up to a tile past the image's end.
    private static func forwardInPlace(
        input: UnsafePointer<Float>, batch: Int, weight: UnsafePointer<Float>, outChannels: Int,
        geometry: ConvolutionGeometry, output: UnsafeMutablePointer<Float>, context: ComputeContext
    ) {
        let kernel = context.gemmKernel
        let mr = kernel.tileRows, nr = kernel.tileColumns
        let m = outChannels, depth = geometry.columnRows, positions = geometry.columnCount
        let pool = context.bufferPool
        // The layout of the padded images (its pointer is never read: each worker pads its own).
        let layout = PaddedImages(alreadyPadded: input, geometry: geometry)
        let phaseWidth = layout.phaseWidth, imageSize = layout.imageSize
        let outputWidth = geometry.outputWidth
        let span = PaddedImages.paddedWidthSpan(geometry)
        let tilesPerImage = (span + mr - 1) / mr
        let groupsPerImage = (tilesPerImage + 15) / 16
        let tilesPerGroup = (tilesPerImage + groupsPerImage - 1) / groupsPerImage
        let panels = PanelSplit(depth: depth, maximumDepth: kernel.panelDepth)
        let paddedChannels = roundUp(m, to: nr), slivers = paddedChannels / nr

        // The weights as B (depth × output channels), every panel packed once.
        let panelSize = panels.maximumDepth * paddedChannels
        let packedWeights = pool.allocate(count: panels.count * panelSize)
        defer { pool.release(packedWeights.pointer, capacity: packedWeights.capacity) }
        for panel in 0..<panels.count {
            let (start, size) = panels[panel]
            packBPanel(.rowMajor(weight, columns: depth, transposed: true), depthStart: start, depth: size,
                       columnStart: 0, columns: m, sliverWidth: nr, into: packedWeights.pointer + panel * panelSize)
        }

        let units = batch * groupsPerImage
        let threads = min(context.threadCount, units)
        // Each worker pads its current image into its own buffer, with room after it for the
        // farthest float a tile reads (zeros, written once).
        let rowOffsets = layout.depthRowOffsets(geometry)
        defer { rowOffsets.deallocate() }
        var farthestRow = 0
        for k in 0..<depth { farthestRow = max(farthestRow, rowOffsets[k]) }
        let imageRoom = max(imageSize, farthestRow + tilesPerImage * mr)
        let tilesSize = tilesPerGroup * mr * paddedChannels
        let perWorker = tilesSize + imageRoom
        let scratch = pool.allocate(count: threads * perWorker)
        defer { pool.release(scratch.pointer, capacity: scratch.capacity) }
        let source = SendablePointer(input), inputImageSize = geometry.channels * geometry.height * geometry.width
        let weights = SendablePointer(packedWeights.pointer), buffers = SendablePointer(scratch.pointer)
        let rows = SendablePointer(rowOffsets), result = SendablePointer(output)
        let unitsPerWorker = (units + threads - 1) / threads
        ParallelLoop.run(workers: threads, context: context) { worker in
            let tiles = buffers.base + worker * perWorker   // [group position, output channel]
            let paddedImage = tiles + tilesSize
            (paddedImage + imageSize).update(repeating: 0, count: imageRoom - imageSize)
            let paddedRow = layout.makeRowBuffer()
            defer { paddedRow.deallocate() }
            var paddedIndex = -1
            // With more threads than units divide evenly, the last workers may get nothing.
            let firstUnit = min(units, worker * unitsPerWorker)
            for unit in firstUnit..<min(units, firstUnit + unitsPerWorker) {
                let image = unit / groupsPerImage, group = unit % groupsPerImage
                let firstTile = group * tilesPerGroup, endTile = min(tilesPerImage, firstTile + tilesPerGroup)
                if firstTile >= endTile { continue }
                if image != paddedIndex {
                    layout.writePlanes(from: source.base + image * inputImageSize, count: geometry.channels,
                                       into: paddedImage, geometry: geometry, paddedRow: paddedRow)
                    paddedIndex = image
                }
                let imageBase = UnsafePointer(paddedImage)
                for panel in 0..<panels.count {
                    let (start, size) = panels[panel]
                    let columnOffsets = UnsafePointer(rows.base + start)
                    for sliver in 0..<slivers {
                        let b = UnsafePointer(weights.base + panel * panelSize + sliver * size * nr)
                        for tile in firstTile..<endTile {
                            kernel.runGathered(depth: size, a: imageBase + tile * mr, aColumnOffsets: columnOffsets, b: b,
                                               c: tiles + (tile - firstTile) * mr * paddedChannels + sliver * nr,
                                               ldc: paddedChannels, alpha: 1, beta: panel == 0 ? 0 : 1)
                        }
                    }
                }
                transposeOut(UnsafePointer(tiles), stride: paddedChannels, channels: m, firstPosition: firstTile * mr,
                             endPosition: min(endTile * mr, span), phaseWidth: phaseWidth, outputWidth: outputWidth,
                             positions: positions, into: result.base + image * m * positions)
            }
        }
    }

    /// Writes rows `firstPosition..<endPosition` of a [phase-width position, channel] block
    /// (row g at `block + (g − firstPosition)·stride`) into one image's `[channels, OH·OW]`
    /// output, skipping positions with ox ≥ OW: each run of one output row is a transpose
    /// (`packTransposed`, the GEMM packer's 4×4 transposes).
    @inline(__always)
    private static func transposeOut(
        _ block: UnsafePointer<Float>, stride: Int, channels: Int, firstPosition: Int, endPosition: Int,
        phaseWidth: Int, outputWidth: Int, positions: Int, into output: UnsafeMutablePointer<Float>
    ) {
        var g = firstPosition
        while g < endPosition {
            let oy = g / phaseWidth, ox = g - oy * phaseWidth
            if ox >= outputWidth {
                g = (oy + 1) * phaseWidth
                continue
            }
            let run = min(outputWidth - ox, endPosition - g)
            packTransposed(block + (g - firstPosition) * stride, laneStride: stride, lanes: run, depth: channels,
                           destinationStride: positions, into: output + oy * outputWidth + ox)
            g += run
        }
    }

    /// Writes tile rows `rows` (columns `0..<count`) to the `[N, rows, positions]` output, the
    /// columns being output positions `firstPosition…` that may run across images.
    private static func scatterTile(
        _ tile: UnsafePointer<Float>, tileStride: Int, rows: Range<Int>, firstPosition: Int, count: Int,
        positions: Int, into output: UnsafeMutablePointer<Float>
    ) {
        let channels = rows.upperBound
        var done = 0
        while done < count {
            let image = (firstPosition + done) / positions, position = (firstPosition + done) % positions
            let run = min(count - done, positions - position)
            for row in rows {
                copyFloats(from: tile + row * tileStride + done,
                           to: output + (image * channels + row) * positions + position, count: run)
            }
            done += run
        }
    }
}

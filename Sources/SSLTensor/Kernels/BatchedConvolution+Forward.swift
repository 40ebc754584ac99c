// MARK: - Forward

extension BatchedConvolution {
    /// `output[n, o, oy, ox] = Σ_k weight[o, k] · columns[k, (n, oy, ox)]`: the forward pass.
    /// `paddedInput` holds the images with the padding written out (`PaddedImages.writePadded`;
    /// the images themselves when the padding is 0); `weight` is `[O, C·KH·KW]` row-major;
    /// `output` is `[N, O, OH, OW]`.
    static func forward(
        paddedInput input: UnsafePointer<Float>, batch: Int, weight: UnsafePointer<Float>, outChannels: Int,
        geometry: ConvolutionGeometry, output: UnsafeMutablePointer<Float>, context: ComputeContext
    ) {
        let kernel = context.gemmKernel
        let mr = kernel.tileRows, nr = kernel.tileColumns
        let m = outChannels, depth = geometry.columnRows, positions = geometry.columnCount
        let total = batch * positions
        if m == 0 || total == 0 { return }
        if WinogradConvolution.applies(geometry, outChannels: outChannels, batch: batch, algorithm: .current) {
            WinogradConvolution.forward(paddedInput: input, batch: batch, weight: weight, outChannels: outChannels,
                                        geometry: geometry, output: output, context: context)
            return
        }
        if readsImagesInPlace(geometry, outChannels: outChannels, kernel: kernel) {
            forwardInPlace(paddedInput: input, batch: batch, weight: weight, outChannels: outChannels,
                           geometry: geometry, output: output, context: context)
            return
        }
        let padded = PaddedImages(alreadyPadded: input, batch: batch, geometry: geometry)
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

    /// The stride-1 forward product, computed transposed (outputᵀ = columnsᵀ · weightᵀ) without
    /// packing the columns. Over the positions of the padded width (g = oy·Wp + ox, with ox
    /// running to Wp), column k = (c, ky, kx) of columnsᵀ is the padded image itself, read from
    /// `rowOffset[k] = c·Hp·Wp + ky·Wp + kx` on, one float per position. So the micro-kernel
    /// reads its A slivers in place (`runGathered`: MR positions per tile, broadcast from the
    /// image) and only the weights are packed, once per call, as B (NR output channels per
    /// sliver). Each worker takes groups of up to 16 tiles of one image, so a weight sliver stays
    /// in L1 while the group runs; the group's tiles are then transposed into the output,
    /// skipping the positions with ox ≥ OW. The last image is read from a copy with room after
    /// it, because its last tile reads up to a tile past its end.
    private static func forwardInPlace(
        paddedInput input: UnsafePointer<Float>, batch: Int, weight: UnsafePointer<Float>, outChannels: Int,
        geometry: ConvolutionGeometry, output: UnsafeMutablePointer<Float>, context: ComputeContext
    ) {
        let kernel = context.gemmKernel
        let mr = kernel.tileRows, nr = kernel.tileColumns
        let m = outChannels, depth = geometry.columnRows, positions = geometry.columnCount
        let padded = PaddedImages(alreadyPadded: input, batch: batch, geometry: geometry)
        let paddedWidth = padded.paddedWidth, imageSize = padded.imageSize
        let outputWidth = geometry.outputWidth
        let span = PaddedImages.paddedWidthSpan(geometry)
        let tilesPerImage = (span + mr - 1) / mr
        let groupsPerImage = (tilesPerImage + 15) / 16
        let tilesPerGroup = (tilesPerImage + groupsPerImage - 1) / groupsPerImage
        let rowOffsets = padded.depthRowOffsets(geometry)
        defer { rowOffsets.deallocate() }
        let panels = PanelSplit(depth: depth, maximumDepth: kernel.panelDepth)
        let paddedChannels = roundUp(m, to: nr), slivers = paddedChannels / nr
        let pool = context.bufferPool

        // The weights as B (depth × output channels), every panel packed once.
        let panelSize = panels.maximumDepth * paddedChannels
        let packedWeights = pool.allocate(count: panels.count * panelSize)
        defer { pool.release(packedWeights.pointer, capacity: packedWeights.capacity) }
        for panel in 0..<panels.count {
            let (start, size) = panels[panel]
            packBPanel(.rowMajor(weight, columns: depth, transposed: true), depthStart: start, depth: size,
                       columnStart: 0, columns: m, sliverWidth: nr, into: packedWeights.pointer + panel * panelSize)
        }

        // The farthest float a tile of the last image reads, and that image with room after it.
        let reach = rowOffsets[depth - 1] + tilesPerImage * mr
        let lastImageCount = max(imageSize, reach)
        let lastImage = pool.allocate(count: lastImageCount)
        defer { pool.release(lastImage.pointer, capacity: lastImage.capacity) }
        lastImage.pointer.update(from: input + (batch - 1) * imageSize, count: imageSize)
        (lastImage.pointer + imageSize).update(repeating: 0, count: lastImageCount - imageSize)

        let units = batch * groupsPerImage
        let threads = min(context.threadCount, units)
        let perWorker = tilesPerGroup * mr * paddedChannels
        let scratch = pool.allocate(count: threads * perWorker)
        defer { pool.release(scratch.pointer, capacity: scratch.capacity) }
        let source = SendablePointer(input), last = SendablePointer(lastImage.pointer)
        let weights = SendablePointer(packedWeights.pointer), buffers = SendablePointer(scratch.pointer)
        let rows = SendablePointer(rowOffsets), result = SendablePointer(output)
        let unitsPerWorker = (units + threads - 1) / threads
        ParallelLoop.run(workers: threads, context: context) { worker in
            let tiles = buffers.base + worker * perWorker   // [group position, output channel]
            // With more threads than units divide evenly, the last workers may get nothing.
            let firstUnit = min(units, worker * unitsPerWorker)
            for unit in firstUnit..<min(units, firstUnit + unitsPerWorker) {
                let image = unit / groupsPerImage, group = unit % groupsPerImage
                let firstTile = group * tilesPerGroup, endTile = min(tilesPerImage, firstTile + tilesPerGroup)
                if firstTile >= endTile { continue }
                let imageBase = image == batch - 1 ? UnsafePointer(last.base) : UnsafePointer(source.base + image * imageSize)
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
                             endPosition: min(endTile * mr, span), paddedWidth: paddedWidth, outputWidth: outputWidth,
                             positions: positions, into: result.base + image * m * positions)
            }
        }
    }

    /// Writes rows `firstPosition..<endPosition` of a [padded-width position, channel] block
    /// (row g at `block + (g − firstPosition)·stride`) into one image's `[channels, OH·OW]`
    /// output, skipping positions with ox ≥ OW: each run of one output row is a transpose
    /// (`packTransposed`, the GEMM packer's 4×4 transposes).
    @inline(__always)
    private static func transposeOut(
        _ block: UnsafePointer<Float>, stride: Int, channels: Int, firstPosition: Int, endPosition: Int,
        paddedWidth: Int, outputWidth: Int, positions: Int, into output: UnsafeMutablePointer<Float>
    ) {
        var g = firstPosition
        while g < endPosition {
            let oy = g / paddedWidth, ox = g - oy * paddedWidth
            if ox >= outputWidth {
                g = (oy + 1) * paddedWidth
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

/// The three products of a 2-D convolution (output, input gradient, weight gradient), each run
/// as one GEMM over the whole batch.
///
/// The column matrix of the batch (`[C·KH·KW, N·OH·OW]`, im2col of every image side by side) is
/// never materialised: GEMM's packed B slivers are gathered straight from a zero-padded copy of
/// the images. With the padding in the copy, element (k, g) of the column matrix — depth row
/// k = (c, ky, kx), output position g = (n, oy, ox) — lives at
/// `rowOffset[k] + columnOffset[g]`, where `rowOffset[k] = c·Hp·Wp + ky·Wp + kx` and
/// `columnOffset[g] = n·C·Hp·Wp + oy·s·Wp + ox·s`. Packing a sliver is then a gather through
/// two small offset tables, with no bounds tests and no divisions.
///
/// Running the batch as one product (rather than one GEMM per image) lets slivers run across
/// image boundaries, so small feature maps (7×7 = 49 positions) waste no tile columns, and the
/// weights are packed once per call instead of once per image.
///
/// Stride-1 forward products at least 64 deep over larger maps (28×28, 14×14) skip the
/// gathering altogether: `forwardInPlace` computes the transposed product, whose A slivers the
/// micro-kernel reads straight from the padded images.
enum BatchedConvolution {
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

    /// Whether the forward product reads the images in place (`forwardInPlace`) rather than
    /// packing column slivers: stride 1, a reduction at least 64 deep (below that, packing is
    /// cheap and the tile buffer's extra pass costs more than it saves), and the work spent on
    /// thrown-away tile entries (the padded width's extra positions, the last partial tile,
    /// output channels padded to NR) at most a quarter more than the output. 28×28 and 14×14
    /// maps with padding 1 qualify; 7×7 maps (72 positions computed for 49) do not.
    static func readsImagesInPlace(_ geometry: ConvolutionGeometry, outChannels: Int, kernel: GEMMMicroKernel) -> Bool {
        guard geometry.stride == 1, geometry.columnRows >= 64, outChannels > 0 else { return false }
        let mr = kernel.tileRows, nr = kernel.tileColumns
        let computed = roundUp(PaddedImages.paddedWidthSpan(geometry), to: mr) * roundUp(outChannels, to: nr)
        return computed * 4 <= geometry.columnCount * outChannels * 5
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

    /// `weightGradient[o, k] = Σ_g outputGradient[o, g] · columns[k, g]` over every output position g
    /// of the batch. Each worker sums the products of its share of the positions into a private
    /// accumulator; the accumulators are added at the end.
    static func weightGradient(
        outputGradient: UnsafePointer<Float>, paddedInput input: UnsafePointer<Float>, batch: Int, outChannels: Int,
        geometry: ConvolutionGeometry, into weightGradient: UnsafeMutablePointer<Float>, context: ComputeContext
    ) {
        let kernel = context.gemmKernel
        let mr = kernel.tileRows, nr = kernel.tileColumns
        let m = outChannels, n = geometry.columnRows, positions = geometry.columnCount
        let total = batch * positions
        if m == 0 || n == 0 { return }
        if total == 0 {
            weightGradient.update(repeating: 0, count: m * n)
            return
        }
        let padded = PaddedImages(alreadyPadded: input, batch: batch, geometry: geometry)
        let paddedRows = roundUp(m, to: mr), paddedColumns = roundUp(n, to: nr)
        // Columns past n read offset 0 (inside the image); their results are never copied out.
        let rowOffsets = padded.depthRowOffsets(geometry, count: paddedColumns)
        defer { rowOffsets.deallocate() }
        let depthStep = kernel.panelDepth
        let threads = max(1, min(context.threadCount, total / depthStep))
        let accumulatorSize = paddedRows * paddedColumns
        let perWorker = accumulatorSize + paddedRows * depthStep + depthStep * nr
        let pool = context.bufferPool
        let scratch = pool.allocate(count: threads * perWorker)
        defer { pool.release(scratch.pointer, capacity: scratch.capacity) }
        let positionOffsetTable = UnsafeMutablePointer<Int>.allocate(capacity: threads * depthStep)
        defer { positionOffsetTable.deallocate() }

        let source = SendablePointer(padded.pointer), gradient = SendablePointer(outputGradient)
        let buffers = SendablePointer(scratch.pointer), offsets = SendablePointer(positionOffsetTable)
        let columnTable = SendablePointer(rowOffsets)
        let perChunk = (total + threads - 1) / threads
        ParallelLoop.run(workers: threads, context: context) { worker in
            let accumulator = buffers.base + worker * perWorker
            let packedGradient = accumulator + accumulatorSize
            let packedColumns = packedGradient + paddedRows * depthStep
            let positionOffsets = offsets.base + worker * depthStep
            let end = min(total, (worker + 1) * perChunk)
            var start = worker * perChunk
            if start >= end { accumulator.update(repeating: 0, count: accumulatorSize) }
            var firstChunk = true
            while start < end {
                let size = min(depthStep, end - start)
                packGradientRows(gradient.base, rows: m, paddedRows: paddedRows, sliverHeight: mr,
                                 firstPosition: start, count: size, positions: positions, into: packedGradient)
                padded.fillColumnOffsets(positionOffsets, firstPosition: start, count: size, width: size,
                                         geometry: geometry)
                let beta: Float = firstChunk ? 0 : 1
                var column = 0
                while column < paddedColumns {
                    // Here the positions are the depth and the kernel taps the columns.
                    packTapSliver(UnsafePointer(source.base), positionOffsets: UnsafePointer(positionOffsets),
                                  depth: size, tapOffsets: UnsafePointer(columnTable.base + column), width: nr,
                                  into: packedColumns)
                    var row = 0
                    while row < m {
                        kernel.run(rows: min(mr, m - row), depth: size, a: UnsafePointer(packedGradient + row * size),
                                   b: UnsafePointer(packedColumns), c: accumulator + row * paddedColumns + column,
                                   ldc: paddedColumns, alpha: 1, beta: beta)
                        row += mr
                    }
                    column += nr
                }
                firstChunk = false
                start += size
            }
        }
        for row in 0..<m {
            let destination = weightGradient + row * n
            destination.update(from: scratch.pointer + row * paddedColumns, count: n)
            for worker in 1..<threads {
                let partial = scratch.pointer + worker * perWorker + row * paddedColumns
                for column in 0..<n { destination[column] += partial[column] }
            }
        }
    }

    /// `inputGradient = col2im(weightᵀ · outputGradient)`: each GEMM tile of the column gradient
    /// is added onto a zero-padded image gradient as soon as it is computed, then the padding is
    /// cut away. Workers own whole images, so their additions never overlap.
    static func inputGradient(
        outputGradient: UnsafePointer<Float>, weight: UnsafePointer<Float>, batch: Int, outChannels: Int,
        geometry: ConvolutionGeometry, into inputGradient: UnsafeMutablePointer<Float>, context: ComputeContext
    ) {
        let kernel = context.gemmKernel
        let mr = kernel.tileRows, nr = kernel.tileColumns
        let m = geometry.columnRows, depth = outChannels, positions = geometry.columnCount
        let imageSize = geometry.channels * geometry.height * geometry.width
        if batch == 0 || imageSize == 0 { return }
        let padded = PaddedImages(zeroedFor: batch, geometry: geometry, context: context)
        defer { padded.release(context: context) }
        if depth > 0 && positions > 0 {
            let rowOffsets = padded.depthRowOffsets(geometry)
            defer { rowOffsets.deallocate() }
            let panels = PanelSplit(depth: depth, maximumDepth: kernel.panelDepth)
            let paddedRows = roundUp(m, to: mr)
            let pool = context.bufferPool
            let packedWeights = packPanels(.rowMajor(weight, columns: m, transposed: true), rows: m,
                                           paddedRows: paddedRows, panels: panels, sliverHeight: mr, pool: pool)
            defer { pool.release(packedWeights.pointer, capacity: packedWeights.capacity) }
            // B(o, g) = outputGradient[n, o, p] for g = (n, p): rows o·P apart, columns n·O·P + p.
            let gradientRowOffsets = UnsafeMutablePointer<Int>.allocate(capacity: depth)
            defer { gradientRowOffsets.deallocate() }
            for o in 0..<depth { gradientRowOffsets[o] = o * positions }

            let threads = min(context.threadCount, batch)
            let perWorker = panels.maximumDepth * nr + paddedRows * nr
            let scratch = pool.allocate(count: threads * perWorker)
            defer { pool.release(scratch.pointer, capacity: scratch.capacity) }
            let offsetTable = UnsafeMutablePointer<Int>.allocate(capacity: threads * 5 * nr)
            defer { offsetTable.deallocate() }
            let target = SendablePointer(padded.pointer), gradient = SendablePointer(outputGradient)
            let weights = SendablePointer(packedWeights.pointer), buffers = SendablePointer(scratch.pointer)
            let offsets = SendablePointer(offsetTable), rows = SendablePointer(rowOffsets)
            let gradientRows = SendablePointer(gradientRowOffsets)
            let imagesPerWorker = (batch + threads - 1) / threads
            ParallelLoop.run(workers: threads, context: context) { worker in
                let firstImage = worker * imagesPerWorker, endImage = min(batch, firstImage + imagesPerWorker)
                if firstImage >= endImage { return }
                let packedGradient = buffers.base + worker * perWorker
                let tileBuffer = packedGradient + panels.maximumDepth * nr
                let gradientColumns = offsets.base + worker * 5 * nr
                let imageColumns = gradientColumns + nr
                let program = imageColumns + nr
                let end = endImage * positions
                var first = firstImage * positions
                while first < end {
                    let columns = min(nr, end - first)
                    var image = first / positions, position = first % positions
                    for j in 0..<nr {
                        gradientColumns[j] = j < columns ? image * depth * positions + position : gradientColumns[0]
                        if j < columns {
                            position += 1
                            if position == positions { position = 0; image += 1 }
                        }
                    }
                    padded.fillColumnOffsets(imageColumns, firstPosition: first, count: columns, width: nr,
                                             geometry: geometry)
                    let moves = copyProgram(of: UnsafePointer(gradientColumns), width: nr, into: program)
                    for panel in 0..<panels.count {
                        let (start, size) = panels[panel]
                        packSliver(UnsafePointer(gradient.base), rowOffsets: UnsafePointer(gradientRows.base + start),
                                   depth: size, columnOffsets: UnsafePointer(gradientColumns), program: UnsafePointer(program),
                                   moves: moves, width: nr, into: packedGradient)
                        let panelWeights = weights.base + panel * paddedRows * panels.maximumDepth
                        var row = 0
                        while row < m {
                            kernel.run(rows: min(mr, m - row), depth: size, a: UnsafePointer(panelWeights + row * size),
                                       b: UnsafePointer(packedGradient), c: tileBuffer + row * nr, ldc: nr,
                                       alpha: 1, beta: panel == 0 ? 0 : 1)
                            row += mr
                        }
                    }
                    for k in 0..<m {
                        let base = target.base + rows.base[k], tile = tileBuffer + k * nr
                        for j in 0..<columns { base[imageColumns[j]] += tile[j] }
                    }
                    first += columns
                }
            }
        }
        padded.copyInterior(into: inputGradient, geometry: geometry, context: context)
    }

    // MARK: - Packing

    /// Packs `rows` rows of `matrix` once for every depth panel, from the pool: panel q's
    /// MR-tall slivers start at q·paddedRows·maximumDepth. The caller releases the buffer.
    private static func packPanels(
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
    private static func packGradientRows(
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

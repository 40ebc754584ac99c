// MARK: - Input gradient

extension BatchedConvolution {
    /// `inputGradient = col2im(weightᵀ · outputGradient)`: each GEMM tile of the column gradient
    /// is added onto zero-padded image gradients as soon as it is computed. Workers own whole
    /// images, so their additions never overlap, and each keeps only the few padded images its
    /// current tile reaches (a ring of slots, zeroed when an image starts, its interior copied
    /// out when the tiles have passed it): the padded gradients stay in cache instead of making
    /// a batch-sized round trip through memory. They have the layout of `PaddedImages` (split
    /// into phases when strided), so the columns of a tile row land in runs of consecutive
    /// floats, added four at a time.
    static func inputGradient(
        outputGradient: UnsafePointer<Float>, weight: UnsafePointer<Float>, batch: Int, outChannels: Int,
        geometry: ConvolutionGeometry, into inputGradient: UnsafeMutablePointer<Float>, context: ComputeContext
    ) {
        let kernel = context.gemmKernel
        let mr = kernel.tileRows, nr = kernel.tileColumns
        let m = geometry.columnRows, depth = outChannels, positions = geometry.columnCount
        let imageSize = geometry.channels * geometry.height * geometry.width
        if batch == 0 || imageSize == 0 { return }
        if depth == 0 || positions == 0 {
            inputGradient.update(repeating: 0, count: batch * imageSize)
            return
        }
        // A tile of NR columns reaches at most ⌈NR / positions⌉ + 1 consecutive images.
        let slots = PaddedImages.ringSlots(run: nr, unitsPerImage: positions, batch: batch)
        let pool = context.bufferPool
        let threads = min(context.threadCount, batch)
        let paddedImageSize = PaddedImages.imageSize(geometry)
        let slotBuffer = pool.allocate(count: max(1, threads * slots * paddedImageSize))
        defer { pool.release(slotBuffer.pointer, capacity: slotBuffer.capacity) }
        // Offsets relative to a worker's first slot; image n lives in slot n mod `slots`.
        let layout = PaddedImages(alreadyPadded: slotBuffer.pointer, geometry: geometry)
        let rowOffsets = layout.depthRowOffsets(geometry)
        defer { rowOffsets.deallocate() }
        let panels = PanelSplit(depth: depth, maximumDepth: kernel.panelDepth)
        let paddedRows = roundUp(m, to: mr)
        let packedWeights = packPanels(.rowMajor(weight, columns: m, transposed: true), rows: m,
                                       paddedRows: paddedRows, panels: panels, sliverHeight: mr, pool: pool)
        defer { pool.release(packedWeights.pointer, capacity: packedWeights.capacity) }
        // B(o, g) = outputGradient[n, o, p] for g = (n, p): rows o·P apart, columns n·O·P + p.
        let gradientRowOffsets = UnsafeMutablePointer<Int>.allocate(capacity: depth)
        defer { gradientRowOffsets.deallocate() }
        for o in 0..<depth { gradientRowOffsets[o] = o * positions }

        let perWorker = panels.maximumDepth * nr + paddedRows * nr
        let scratch = pool.allocate(count: threads * perWorker)
        defer { pool.release(scratch.pointer, capacity: scratch.capacity) }
        let offsetTable = UnsafeMutablePointer<Int>.allocate(capacity: threads * 8 * nr)
        defer { offsetTable.deallocate() }
        let slotBase = SendablePointer(slotBuffer.pointer), gradient = SendablePointer(outputGradient)
        let weights = SendablePointer(packedWeights.pointer), buffers = SendablePointer(scratch.pointer)
        let offsets = SendablePointer(offsetTable), rows = SendablePointer(rowOffsets)
        let gradientRows = SendablePointer(gradientRowOffsets), result = SendablePointer(inputGradient)
        let imagesPerWorker = (batch + threads - 1) / threads
        ParallelLoop.run(workers: threads, context: context) { worker in
            let firstImage = worker * imagesPerWorker, endImage = min(batch, firstImage + imagesPerWorker)
            if firstImage >= endImage { return }
            let target = slotBase.base + worker * slots * paddedImageSize
            let packedGradient = buffers.base + worker * perWorker
            let tileBuffer = packedGradient + panels.maximumDepth * nr
            let gradientColumns = offsets.base + worker * 8 * nr
            let imageColumns = gradientColumns + nr
            let program = imageColumns + nr
            let runs = program + 3 * nr
            // Images [finished, started) have live slots.
            var finished = firstImage, started = firstImage
            func finish(_ image: Int) {
                layout.copyImageInterior(from: target + (image % slots) * paddedImageSize,
                                         into: result.base + image * imageSize, geometry: geometry)
            }
            let end = endImage * positions
            var first = firstImage * positions
            while first < end {
                let columns = min(nr, end - first)
                while finished < first / positions {
                    finish(finished)
                    finished += 1
                }
                while started <= (first + columns - 1) / positions {
                    (target + (started % slots) * paddedImageSize).update(repeating: 0, count: paddedImageSize)
                    started += 1
                }
                var image = first / positions, position = first % positions
                for j in 0..<nr {
                    gradientColumns[j] = j < columns ? image * depth * positions + position : gradientColumns[0]
                    if j < columns {
                        position += 1
                        if position == positions { position = 0; image += 1 }
                    }
                }
                layout.fillColumnOffsets(imageColumns, firstPosition: first, count: columns, width: nr,
                                         geometry: geometry, slots: slots)
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
                let runCount = additionRuns(of: UnsafePointer(imageColumns), count: columns, into: runs)
                for k in 0..<m {
                    addTileRow(UnsafePointer(tileBuffer + k * nr), runs: UnsafePointer(runs), runCount: runCount,
                               into: target + rows.base[k])
                }
                first += columns
            }
            while finished < endImage {
                finish(finished)
                finished += 1
            }
        }
    }

    /// Splits a tile's target offsets into runs of consecutive addresses: triples (first column,
    /// offset, length) into `runs`. Returns the number of runs.
    @inline(__always)
    static func additionRuns(of offsets: UnsafePointer<Int>, count: Int, into runs: UnsafeMutablePointer<Int>) -> Int {
        if count == 0 { return 0 }
        var runCount = 0, start = 0
        for j in 1...count where j == count || offsets[j] != offsets[j - 1] + 1 {
            runs[3 * runCount] = start
            runs[3 * runCount + 1] = offsets[start]
            runs[3 * runCount + 2] = j - start
            runCount += 1
            start = j
        }
        return runCount
    }

    /// `target[offset + i] += tile[column + i]` over every run (first column, offset, length),
    /// four floats at a time.
    @inline(__always)
    static func addTileRow(
        _ tile: UnsafePointer<Float>, runs: UnsafePointer<Int>, runCount: Int, into target: UnsafeMutablePointer<Float>
    ) {
        let source = UnsafeRawPointer(tile), destination = UnsafeMutableRawPointer(target)
        var run = 0
        while run < runCount {
            let column = runs[3 &* run], offset = runs[3 &* run &+ 1], length = runs[3 &* run &+ 2]
            var i = 0
            while i &+ 4 <= length {
                let sum = destination.loadUnaligned(fromByteOffset: (offset &+ i) &* 4, as: SIMD4<Float>.self)
                    + source.loadUnaligned(fromByteOffset: (column &+ i) &* 4, as: SIMD4<Float>.self)
                destination.storeBytes(of: sum, toByteOffset: (offset &+ i) &* 4, as: SIMD4<Float>.self)
                i &+= 4
            }
            while i < length {
                target[offset &+ i] += tile[column &+ i]
                i &+= 1
            }
            run &+= 1
        }
    }
}

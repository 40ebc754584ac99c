// MARK: - Input gradient

extension BatchedConvolution {
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
}

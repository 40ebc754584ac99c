// MARK: - Weight gradient

extension BatchedConvolution {
    /// `weightGradient[o, k] = Σ_g outputGradient[o, g] · columns[k, g]` over every output position g
    /// of the batch, the columns gathered from the padded images of `input` (`[N, C, H, W]`).
    /// Each worker sums the products of its share of the positions into a private accumulator;
    /// the accumulators are added at the end. Each worker also pads the images its positions
    /// reach into a ring of its own (`slots` images, the most a chunk of positions spans plus
    /// one), so the padded images are read from cache, never stored for the batch; without
    /// padding the images are read where they are.
    static func weightGradient(
        outputGradient: UnsafePointer<Float>, input: UnsafePointer<Float>, batch: Int, outChannels: Int,
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
        if WinogradConvolution.appliesToWeightGradient(geometry, outChannels: m, batch: batch, algorithm: .current,
                                                       kernel: kernel, threads: context.threadCount) {
            WinogradConvolution.weightGradient(outputGradient: outputGradient, input: input, batch: batch,
                                               outChannels: m, geometry: geometry, into: weightGradient, context: context)
            return
        }
        let depthStep = kernel.panelDepth
        let threads = max(1, min(context.threadCount, total / depthStep))
        let padsImages = geometry.padding > 0
        // Never more slots than images: the ring is then at most the batch's padded copy per worker.
        let slots = padsImages
            ? PaddedImages.ringSlots(run: depthStep, unitsPerImage: positions, batch: batch) : Int.max
        let paddedImageSize = PaddedImages.imageSize(geometry)
        let ringSize = padsImages ? slots * paddedImageSize : 0
        let inputImageSize = geometry.channels * geometry.height * geometry.width
        // The layout of the padded images (its pointer is never read: the images are read from `input`
        // unpadded, or padded into each worker's ring).
        let layout = PaddedImages(alreadyPadded: input, geometry: geometry)
        let paddedRows = roundUp(m, to: mr), paddedColumns = roundUp(n, to: nr)
        // Columns past n read offset 0 (inside the image); their results are never copied out.
        let rowOffsets = layout.depthRowOffsets(geometry, count: paddedColumns)
        defer { rowOffsets.deallocate() }
        let accumulatorSize = paddedRows * paddedColumns
        let perWorker = accumulatorSize + paddedRows * depthStep + depthStep * nr + ringSize
        let pool = context.bufferPool
        let scratch = pool.allocate(count: threads * perWorker)
        defer { pool.release(scratch.pointer, capacity: scratch.capacity) }
        let positionOffsetTable = UnsafeMutablePointer<Int>.allocate(capacity: threads * depthStep)
        defer { positionOffsetTable.deallocate() }

        let source = SendablePointer(input), gradient = SendablePointer(outputGradient)
        let buffers = SendablePointer(scratch.pointer), offsets = SendablePointer(positionOffsetTable)
        let columnTable = SendablePointer(rowOffsets)
        let perChunk = (total + threads - 1) / threads
        ParallelLoop.run(workers: threads, context: context) { worker in
            let accumulator = buffers.base + worker * perWorker
            let packedGradient = accumulator + accumulatorSize
            let packedColumns = packedGradient + paddedRows * depthStep
            let ring = packedColumns + depthStep * nr
            let paddedRow = layout.makeRowBuffer()
            defer { paddedRow.deallocate() }
            let images = padsImages ? UnsafePointer(ring) : UnsafePointer(source.base)
            let positionOffsets = offsets.base + worker * depthStep
            let end = min(total, (worker + 1) * perChunk)
            var start = worker * perChunk
            if start >= end { accumulator.update(repeating: 0, count: accumulatorSize) }
            var nextImage = start / positions   // the first image not yet padded into the ring
            var firstChunk = true
            while start < end {
                let size = min(depthStep, end - start)
                while padsImages && nextImage <= (start + size - 1) / positions {
                    layout.writePlanes(from: source.base + nextImage * inputImageSize, count: geometry.channels,
                                       into: ring + (nextImage % slots) * paddedImageSize, geometry: geometry,
                                       paddedRow: paddedRow)
                    nextImage += 1
                }
                packGradientRows(gradient.base, rows: m, paddedRows: paddedRows, sliverHeight: mr,
                                 firstPosition: start, count: size, positions: positions, into: packedGradient)
                layout.fillColumnOffsets(positionOffsets, firstPosition: start, count: size, width: size,
                                         geometry: geometry, slots: slots)
                let beta: Float = firstChunk ? 0 : 1
                var column = 0
                while column < paddedColumns {
                    // Here the positions are the depth and the kernel taps the columns.
                    packTapSliver(images, positionOffsets: UnsafePointer(positionOffsets),
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
}

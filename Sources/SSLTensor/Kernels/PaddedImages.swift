/// A batch of images with the convolution's zero padding written out (`[N, C, H + 2p, W + 2p]`):
/// its layout, and the offset tables the batched convolution packs through.
struct PaddedImages: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Float>
    let capacity: Int
    let ownsBuffer: Bool
    let paddedHeight: Int, paddedWidth: Int
    /// Images × channels.
    let planeCount: Int
    /// Floats per padded image, `C·Hp·Wp`.
    let imageSize: Int

    /// The layout of images that are already padded (`[N, C, H + 2p, W + 2p]`, see
    /// `writePadded`), or of the unpadded images when the padding is 0. Owns nothing.
    init(alreadyPadded images: UnsafePointer<Float>, batch: Int, geometry: ConvolutionGeometry) {
        let p = geometry.padding
        paddedHeight = geometry.height + 2 * p
        paddedWidth = geometry.width + 2 * p
        planeCount = batch * geometry.channels
        imageSize = geometry.channels * paddedHeight * paddedWidth
        pointer = UnsafeMutablePointer(mutating: images)
        capacity = 0
        ownsBuffer = false
    }

    /// Writes `images` (`[N, C, H, W]`) with `geometry.padding` zeros around every plane into
    /// `target` (`[N, C, H + 2p, W + 2p]`).
    static func writePadded(
        _ images: UnsafePointer<Float>, batch: Int, geometry: ConvolutionGeometry,
        into target: UnsafeMutablePointer<Float>, context: ComputeContext
    ) {
        let p = geometry.padding, height = geometry.height, width = geometry.width
        let paddedHeight = height + 2 * p, paddedWidth = width + 2 * p
        let planeSize = paddedHeight * paddedWidth
        let source = SendablePointer(images), destination = SendablePointer(target)
        ParallelLoop.forEachChunk(count: batch * geometry.channels, minimumChunk: 16, threads: context.threadCount) { range in
            for plane in range {
                let from = source.base + plane * height * width
                let to = destination.base + plane * planeSize
                to.update(repeating: 0, count: p * paddedWidth)
                for y in 0..<height {
                    let line = to + (y + p) * paddedWidth
                    for x in 0..<p { line[x] = 0 }
                    copyFloats(from: from + y * width, to: line + p, count: width)
                    for x in 0..<p { line[p + width + x] = 0 }
                }
                (to + (p + height) * paddedWidth).update(repeating: 0, count: p * paddedWidth)
            }
        }
    }

    /// A zeroed padded buffer (always owned), for accumulating an image gradient.
    init(zeroedFor batch: Int, geometry: ConvolutionGeometry, context: ComputeContext) {
        let p = geometry.padding
        paddedHeight = geometry.height + 2 * p
        paddedWidth = geometry.width + 2 * p
        planeCount = batch * geometry.channels
        imageSize = geometry.channels * paddedHeight * paddedWidth
        let count = max(1, batch * geometry.channels * paddedHeight * paddedWidth)
        let buffer = context.bufferPool.allocate(count: count)
        pointer = buffer.pointer
        capacity = buffer.capacity
        ownsBuffer = true
        let target = SendablePointer(buffer.pointer)
        ParallelLoop.forEachChunk(count: count, minimumChunk: 1 << 16, threads: context.threadCount) { range in
            (target.base + range.lowerBound).update(repeating: 0, count: range.count)
        }
    }

    func release(context: ComputeContext) {
        if ownsBuffer { context.bufferPool.release(pointer, capacity: capacity) }
    }

    /// Offsets of the depth rows k = (c, ky, kx) of the column matrix: `c·Hp·Wp + ky·Wp + kx`;
    /// entries from `columnRows` up to `count` are 0. The caller deallocates the table.
    func depthRowOffsets(_ geometry: ConvolutionGeometry, count: Int? = nil) -> UnsafeMutablePointer<Int> {
        let rows = geometry.columnRows
        let tableCount = max(rows, count ?? rows)
        let table = UnsafeMutablePointer<Int>.allocate(capacity: max(1, tableCount))
        var k = 0
        for c in 0..<geometry.channels {
            for ky in 0..<geometry.kernelHeight {
                for kx in 0..<geometry.kernelWidth {
                    table[k] = (c * paddedHeight + ky) * paddedWidth + kx
                    k += 1
                }
            }
        }
        for index in rows..<tableCount { table[index] = 0 }
        return table
    }

    /// Offsets of output positions `firstPosition..<firstPosition+count` of the batch (running
    /// across images): `n·C·Hp·Wp + oy·s·Wp + ox·s`. Entries from `count` up to `width` repeat the
    /// first one (a valid address whose results are discarded).
    func fillColumnOffsets(
        _ table: UnsafeMutablePointer<Int>, firstPosition: Int, count: Int, width: Int, geometry: ConvolutionGeometry
    ) {
        let outputWidth = geometry.outputWidth, positions = geometry.columnCount
        let stride = geometry.stride
        var image = firstPosition / positions
        let position = firstPosition % positions
        var oy = position / outputWidth, ox = position % outputWidth
        let imageSize = imageSize, rowStep = stride * paddedWidth
        var imageBase = image * imageSize
        for j in 0..<count {
            table[j] = imageBase + oy * rowStep + ox * stride
            ox += 1
            if ox == outputWidth {
                ox = 0
                oy += 1
                if oy == geometry.outputHeight {
                    oy = 0
                    image += 1
                    imageBase += imageSize
                }
            }
        }
        for j in count..<max(count, width) { table[j] = table[0] }
    }

    /// Positions of the padded width from the first output to the last, `(OH − 1)·Wp + OW`
    /// (stride 1): output (oy, ox) is position oy·Wp + ox.
    static func paddedWidthSpan(_ geometry: ConvolutionGeometry) -> Int {
        precondition(geometry.stride == 1, "paddedWidthSpan: defined for stride 1, got stride \(geometry.stride)")
        return (geometry.outputHeight - 1) * (geometry.width + 2 * geometry.padding) + geometry.outputWidth
    }

    /// Copies the unpadded interior to `destination` (`[N, C, H, W]`).
    func copyInterior(into destination: UnsafeMutablePointer<Float>, geometry: ConvolutionGeometry, context: ComputeContext) {
        let p = geometry.padding, height = geometry.height, width = geometry.width
        let planeSize = paddedHeight * paddedWidth, paddedWidth = paddedWidth
        let source = SendablePointer(pointer), target = SendablePointer(destination)
        ParallelLoop.forEachChunk(count: planeCount, minimumChunk: 16, threads: context.threadCount) { range in
            for plane in range {
                let from = source.base + plane * planeSize + p * paddedWidth + p
                let to = target.base + plane * height * width
                for y in 0..<height { (to + y * width).update(from: from + y * paddedWidth, count: width) }
            }
        }
    }
}

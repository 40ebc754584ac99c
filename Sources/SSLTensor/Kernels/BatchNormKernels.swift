/// Batch-normalisation kernels over a contiguous `[N, C, S]` layout (S = 1 for `[N, C]`).
///
/// Work is split by channel ranges across threads; each thread walks the rows in order, so for
/// `[N, C]` inputs the inner loop runs over contiguous channels (vectorised with per-channel
/// accumulators) and for images over contiguous pixels. Partial sums run in float SIMD lanes
/// over short stretches (64 rows, or one image plane); the totals accumulate in double precision.
enum BatchNormKernels {
    struct Layout {
        let batch: Int, channels: Int, spatial: Int
        var imageStride: Int { channels * spatial }
        var perChannel: Int { batch * spatial }
    }

    /// Runs `body(channelRange)` on chunks of channels across the context's threads.
    static func forChannelChunks(_ layout: Layout, _ body: @Sendable (Range<Int>) -> Void) {
        let work = layout.batch * layout.channels * layout.spatial
        let threads = work >= 1 << 14 ? ComputeContext.current.threadCount : 1
        ParallelLoop.forEachChunk(count: layout.channels, minimumChunk: 1, threads: threads, body)
    }

    /// Per-channel mean and biased variance, in one pass: sums of x − k and (x − k)² with k a
    /// per-channel shift near the mean (the mean of the first row's values), so the variance
    /// does not cancel catastrophically; partial sums in SIMD lanes, totals in double precision.
    static func statistics(_ x: UnsafePointer<Float>, layout: Layout) -> (mean: [Float], variance: [Float]) {
        var mean = [Float](repeating: 0, count: layout.channels)
        var variance = [Float](repeating: 0, count: layout.channels)
        let source = SendablePointer(x)
        mean.withUnsafeMutableBufferPointer { meanBuffer in
            variance.withUnsafeMutableBufferPointer { varianceBuffer in
                guard let meanBase = meanBuffer.baseAddress, let varianceBase = varianceBuffer.baseAddress else { return }
                let meanOut = SendablePointer(meanBase), varianceOut = SendablePointer(varianceBase)
                forChannelChunks(layout) { range in
                    let count = Double(layout.perChannel)
                    if layout.spatial == 1 {
                        let width = range.count
                        let shifts = source.base + range.lowerBound   // the first row
                        let (sums, squares) = columnSums(rows: layout.batch, columns: width) { n, c in
                            let d = load8(source.base + n * layout.imageStride + range.lowerBound + c) - load8(shifts + c)
                            return (d, d * d)
                        } scalar: { n, c in
                            let d = source.base[n * layout.imageStride + range.lowerBound + c] - shifts[c]
                            return (d, d * d)
                        }
                        for c in 0..<width {
                            let shiftedMean = sums[c] / count
                            meanOut.base[range.lowerBound + c] = Float(Double(shifts[c]) + shiftedMean)
                            varianceOut.base[range.lowerBound + c] = Float(Swift.max(0, squares[c] / count - shiftedMean * shiftedMean))
                        }
                        return
                    }
                    for c in range {
                        let first = source.base + c * layout.spatial
                        let shift = sumAndSquares(first, count: layout.spatial, shift: 0).sum / Float(layout.spatial)
                        var sum = 0.0, square = 0.0
                        for n in 0..<layout.batch {
                            let plane = source.base + n * layout.imageStride + c * layout.spatial
                            let partial = sumAndSquares(plane, count: layout.spatial, shift: shift)
                            sum += Double(partial.sum)
                            square += Double(partial.squares)
                        }
                        let shiftedMean = sum / count
                        meanOut.base[c] = Float(Double(shift) + shiftedMean)
                        varianceOut.base[c] = Float(Swift.max(0, square / count - shiftedMean * shiftedMean))
                    }
                }
            }
        }
        return (mean, variance)
    }

    /// Two per-column sums over the rows of a `rows × columns` block: `vector(row, column)` gives
    /// the two terms for the eight columns from `column`, `scalar(row, column)` for one column (the
    /// last `columns % 8`). Terms add up in float SIMD lanes over blocks of 64 rows; the block
    /// totals add up in double precision, so long batches lose nothing to float rounding.
    @inline(__always)
    static func columnSums(
        rows: Int, columns: Int,
        vector: (_ row: Int, _ column: Int) -> (SIMD8<Float>, SIMD8<Float>),
        scalar: (_ row: Int, _ column: Int) -> (Float, Float)
    ) -> (first: [Double], second: [Double]) {
        let groups = columns / 8, blockRows = 64
        var first = [Double](repeating: 0, count: columns), second = first
        let partial = UnsafeMutablePointer<SIMD8<Float>>.allocate(capacity: 2 * Swift.max(groups, 1))
        defer { partial.deallocate() }
        first.withUnsafeMutableBufferPointer { firstTotals in
            second.withUnsafeMutableBufferPointer { secondTotals in
                var start = 0
                while start < rows {
                    let end = Swift.min(rows, start + blockRows)
                    partial.update(repeating: SIMD8(), count: 2 * groups)
                    for n in start..<end {
                        var g = 0
                        while g < groups {
                            let (a, b) = vector(n, g &* 8)
                            partial[2 &* g] += a
                            partial[2 &* g &+ 1] += b
                            g &+= 1
                        }
                    }
                    for g in 0..<groups {
                        for lane in 0..<8 {
                            firstTotals[g * 8 + lane] += Double(partial[2 * g][lane])
                            secondTotals[g * 8 + lane] += Double(partial[2 * g + 1][lane])
                        }
                    }
                    for c in (groups * 8)..<columns {
                        var a: Float = 0, b: Float = 0
                        for n in start..<end {
                            let (x, y) = scalar(n, c)
                            a += x
                            b += y
                        }
                        firstTotals[c] += Double(a)
                        secondTotals[c] += Double(b)
                    }
                    start = end
                }
            }
        }
        return (first, second)
    }

    @inline(__always)
    static func load8(_ pointer: UnsafePointer<Float>) -> SIMD8<Float> {
        UnsafeRawPointer(pointer).loadUnaligned(as: SIMD8<Float>.self)
    }

    /// Two sums over `count` consecutive floats: `vector(i)` gives the two terms for the eight
    /// floats from `i`, `scalar(i)` for one (the last `count % 8`); terms add up in SIMD lanes.
    @inline(__always)
    static func laneSums(
        count: Int, vector: (_ index: Int) -> (SIMD8<Float>, SIMD8<Float>), scalar: (_ index: Int) -> (Float, Float)
    ) -> (Float, Float) {
        var first = SIMD8<Float>(), second = SIMD8<Float>()
        var i = 0
        while i &+ 8 <= count {
            let (a, b) = vector(i)
            first += a
            second += b
            i &+= 8
        }
        var tailFirst: Float = 0, tailSecond: Float = 0
        while i < count {
            let (a, b) = scalar(i)
            tailFirst += a
            tailSecond += b
            i &+= 1
        }
        return (first.sum() + tailFirst, second.sum() + tailSecond)
    }

    /// Σ (x − shift) and Σ (x − shift)² over `count` floats, in SIMD lanes.
    @inline(__always)
    static func sumAndSquares(_ values: UnsafePointer<Float>, count: Int, shift: Float) -> (sum: Float, squares: Float) {
        let shiftVector = SIMD8<Float>(repeating: shift)
        return laneSums(count: count) { i in
            let d = load8(values + i) - shiftVector
            return (d, d * d)
        } scalar: { i in
            let d = values[i] - shift
            return (d, d * d)
        }
    }

    /// Σ g and Σ g·(x − mean) over `count` floats, in SIMD lanes.
    @inline(__always)
    static func gradientAndProductSums(_ g: UnsafePointer<Float>, _ x: UnsafePointer<Float>, count: Int, mean: Float)
        -> (sum: Float, product: Float)
    {
        let meanVector = SIMD8<Float>(repeating: mean)
        return laneSums(count: count) { i in
            let gradient = load8(g + i)
            return (gradient, gradient * (load8(x + i) - meanVector))
        } scalar: { i in
            (g[i], g[i] * (x[i] - mean))
        }
    }

    /// out = a[c]·x + b[c] (the normalisation itself), or out = a[c]·x + b[c]·y + d[c] when `y`
    /// is given (the input gradient).
    /// Without `y`: `residual` adds an element-wise term (a residual block's shortcut), and
    /// `rectify` applies ReLU to the result (the fused BatchNorm → [+ shortcut →] ReLU forward).
    static func affine(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>?, a: [Float], b: [Float], d: [Float]?,
                       into out: UnsafeMutablePointer<Float>, layout: Layout, rectify: Bool = false,
                       residual: UnsafePointer<Float>? = nil) {
        precondition(y == nil || residual == nil, "BatchNormKernels.affine: a residual only in the forward form")
        let relu = Elementwise.ReLU()
        let xs = SendablePointer(x), ys = y.map { SendablePointer($0) }, output = SendablePointer(out)
        let rs = residual.map { SendablePointer($0) }
        a.withUnsafeBufferPointer { aBuffer in
            b.withUnsafeBufferPointer { bBuffer in
                (d ?? []).withUnsafeBufferPointer { dBuffer in
                    guard let aBase = aBuffer.baseAddress, let bBase = bBuffer.baseAddress else { return }
                    let pa = SendablePointer(aBase), pb = SendablePointer(bBase)
                    let pd = d == nil ? nil : dBuffer.baseAddress.map { SendablePointer($0) }
                    forChannelChunks(layout) { range in
                        for n in 0..<layout.batch {
                            let offset = n * layout.imageStride
                            if layout.spatial == 1 {
                                let source = xs.base + offset, target = output.base + offset
                                if let ys, let pd {
                                    let other = ys.base + offset
                                    for c in range { target[c] = pa.base[c] * source[c] + pb.base[c] * other[c] + pd.base[c] }
                                } else if let rs {
                                    let added = rs.base + offset
                                    for c in range {
                                        let value = pa.base[c] * source[c] + pb.base[c] + added[c]
                                        target[c] = rectify ? relu(value) : value
                                    }
                                } else if rectify {
                                    for c in range { target[c] = relu(pa.base[c] * source[c] + pb.base[c]) }
                                } else {
                                    for c in range { target[c] = pa.base[c] * source[c] + pb.base[c] }
                                }
                            } else {
                                for c in range {
                                    let start = offset + c * layout.spatial
                                    let source = xs.base + start, target = output.base + start
                                    let scale = pa.base[c], second = pb.base[c]
                                    if let ys, let pd {
                                        let other = ys.base + start, constant = pd.base[c]
                                        for s in 0..<layout.spatial { target[s] = scale * source[s] + second * other[s] + constant }
                                    } else if let rs {
                                        let added = rs.base + start
                                        if rectify {
                                            for s in 0..<layout.spatial { target[s] = relu(scale * source[s] + second + added[s]) }
                                        } else {
                                            for s in 0..<layout.spatial { target[s] = scale * source[s] + second + added[s] }
                                        }
                                    } else if rectify {
                                        for s in 0..<layout.spatial { target[s] = relu(scale * source[s] + second) }
                                    } else {
                                        for s in 0..<layout.spatial { target[s] = scale * source[s] + second }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Per-channel Σ dy and Σ dy·(x − mean).
    static func gradientSums(_ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>, mean: [Float], layout: Layout)
        -> (sumGradient: [Float], sumGradientCentered: [Float])
    {
        var first = [Float](repeating: 0, count: layout.channels)
        var second = [Float](repeating: 0, count: layout.channels)
        let gradients = SendablePointer(dy), inputs = SendablePointer(x)
        mean.withUnsafeBufferPointer { meanBuffer in
            first.withUnsafeMutableBufferPointer { firstBuffer in
                second.withUnsafeMutableBufferPointer { secondBuffer in
                    guard let meanBase = meanBuffer.baseAddress, let firstBase = firstBuffer.baseAddress,
                          let secondBase = secondBuffer.baseAddress else { return }
                    let pm = SendablePointer(meanBase)
                    let out1 = SendablePointer(firstBase), out2 = SendablePointer(secondBase)
                    forChannelChunks(layout) { range in
                        let width = range.count
                        if layout.spatial == 1 {
                            let means = pm.base + range.lowerBound
                            let (sums, products) = columnSums(rows: layout.batch, columns: width) { n, c in
                                let offset = n * layout.imageStride + range.lowerBound + c
                                let gradient = load8(gradients.base + offset)
                                return (gradient, gradient * (load8(inputs.base + offset) - load8(means + c)))
                            } scalar: { n, c in
                                let offset = n * layout.imageStride + range.lowerBound + c
                                let gradient = gradients.base[offset]
                                return (gradient, gradient * (inputs.base[offset] - means[c]))
                            }
                            for c in 0..<width {
                                out1.base[range.lowerBound + c] = Float(sums[c])
                                out2.base[range.lowerBound + c] = Float(products[c])
                            }
                            return
                        }
                        var sums = [Double](repeating: 0, count: width), products = [Double](repeating: 0, count: width)
                        for n in 0..<layout.batch {
                            let offset = n * layout.imageStride + range.lowerBound * layout.spatial
                            let g = gradients.base + offset, v = inputs.base + offset
                            for c in 0..<width {
                                let partial = gradientAndProductSums(
                                    g + c * layout.spatial, v + c * layout.spatial, count: layout.spatial,
                                    mean: pm.base[range.lowerBound + c])
                                sums[c] += Double(partial.sum)
                                products[c] += Double(partial.product)
                            }
                        }
                        for c in 0..<width {
                            out1.base[range.lowerBound + c] = Float(sums[c])
                            out2.base[range.lowerBound + c] = Float(products[c])
                        }
                    }
                }
            }
        }
        return (first, second)
    }
}

/// Batch-normalisation kernels over a contiguous `[N, C, S]` layout (S = 1 for `[N, C]`).
///
/// Work is split by channel ranges across threads; each thread walks the rows in order, so for
/// `[N, C]` inputs the inner loop runs over contiguous channels (vectorised with per-channel
/// accumulators) and for images over contiguous pixels. Sums accumulate in double precision.
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

    /// Per-channel mean and biased variance (two passes: mean, then centred squares).
    static func statistics(_ x: UnsafePointer<Float>, layout: Layout) -> (mean: [Float], variance: [Float]) {
        var mean = [Float](repeating: 0, count: layout.channels)
        var variance = [Float](repeating: 0, count: layout.channels)
        let source = SendablePointer(x)
        mean.withUnsafeMutableBufferPointer { meanBuffer in
            variance.withUnsafeMutableBufferPointer { varianceBuffer in
                guard let meanBase = meanBuffer.baseAddress, let varianceBase = varianceBuffer.baseAddress else { return }
                let meanOut = SendablePointer(meanBase), varianceOut = SendablePointer(varianceBase)
                forChannelChunks(layout) { range in
                    let width = range.count
                    var sums = [Double](repeating: 0, count: width)
                    var squares = [Double](repeating: 0, count: width)
                    sums.withUnsafeMutableBufferPointer { sum in
                        squares.withUnsafeMutableBufferPointer { square in
                            guard let sumBase = sum.baseAddress, let squareBase = square.baseAddress else { return }
                            for n in 0..<layout.batch {
                                let row = source.base + n * layout.imageStride + range.lowerBound * layout.spatial
                                accumulate(row, width: width, spatial: layout.spatial, into: sumBase, shift: nil)
                            }
                            let count = Double(layout.perChannel)
                            var shifts = [Float](repeating: 0, count: width)
                            for c in 0..<width { shifts[c] = Float(sum[c] / count) }
                            shifts.withUnsafeBufferPointer { shift in
                                guard let shiftBase = shift.baseAddress else { return }
                                for n in 0..<layout.batch {
                                    let row = source.base + n * layout.imageStride + range.lowerBound * layout.spatial
                                    accumulate(row, width: width, spatial: layout.spatial, into: squareBase, shift: shiftBase)
                                }
                            }
                            for c in 0..<width {
                                meanOut.base[range.lowerBound + c] = shifts[c]
                                varianceOut.base[range.lowerBound + c] = Float(square[c] / count)
                            }
                        }
                    }
                }
            }
        }
        return (mean, variance)
    }

    /// Adds, for each of `width` channels, Σ x (or Σ (x − shift)² when `shift` is given) of one
    /// row of `width × spatial` values.
    @inline(__always)
    private static func accumulate(_ row: UnsafePointer<Float>, width: Int, spatial: Int,
                                   into totals: UnsafeMutablePointer<Double>, shift: UnsafePointer<Float>?) {
        if spatial == 1 {
            if let shift {
                for c in 0..<width {
                    let d = row[c] - shift[c]
                    totals[c] += Double(d * d)
                }
            } else {
                for c in 0..<width { totals[c] += Double(row[c]) }
            }
        } else {
            for c in 0..<width {
                let plane = row + c * spatial
                var partial: Float = 0
                if let shift {
                    let m = shift[c]
                    for s in 0..<spatial {
                        let d = plane[s] - m
                        partial += d * d
                    }
                } else {
                    for s in 0..<spatial { partial += plane[s] }
                }
                totals[c] += Double(partial)
            }
        }
    }

    /// out = a[c]·x + b[c] (the normalisation itself), or out = a[c]·x + b[c]·y + d[c] when `y`
    /// is given (the input gradient).
    static func affine(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>?, a: [Float], b: [Float], d: [Float]?,
                       into out: UnsafeMutablePointer<Float>, layout: Layout) {
        let xs = SendablePointer(x), ys = y.map { SendablePointer($0) }, output = SendablePointer(out)
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
                        var sums = [Double](repeating: 0, count: width), products = [Double](repeating: 0, count: width)
                        for n in 0..<layout.batch {
                            let offset = n * layout.imageStride + range.lowerBound * layout.spatial
                            let g = gradients.base + offset, v = inputs.base + offset
                            if layout.spatial == 1 {
                                for c in 0..<width {
                                    let gradient = g[c]
                                    sums[c] += Double(gradient)
                                    products[c] += Double(gradient * (v[c] - pm.base[range.lowerBound + c]))
                                }
                            } else {
                                for c in 0..<width {
                                    let m = pm.base[range.lowerBound + c]
                                    var partialSum: Float = 0, partialProduct: Float = 0
                                    let gp = g + c * layout.spatial, vp = v + c * layout.spatial
                                    for s in 0..<layout.spatial {
                                        partialSum += gp[s]
                                        partialProduct += gp[s] * (vp[s] - m)
                                    }
                                    sums[c] += Double(partialSum)
                                    products[c] += Double(partialProduct)
                                }
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

/// The backward pass of the fused BatchNorm → ReLU in training, without the forward's output:
/// the ReLU passes the gradient where `scale[c]·x + shift[c] > 0`, and that value is recomputed
/// from the saved input with the same products and sums the forward pass rectified, so the mask
/// is the same bit for bit. Against reading a saved output and writing a masked copy of the
/// gradient first, this is one pass over the activations fewer, and the output need not be kept
/// for backward.
extension BatchNormKernels {
    /// The forward pass's per-channel scale and shift, `y = relu(scale·x + shift)`.
    struct Rectifier {
        let scales: [Float]
        let shifts: [Float]
    }

    /// The gradient the ReLU passes: `dy` where `scale·x + shift > 0`, else 0 (NaN passes nothing).
    @inline(__always)
    static func rectified(_ dy: SIMD8<Float>, _ x: SIMD8<Float>, scale: SIMD8<Float>, shift: SIMD8<Float>) -> SIMD8<Float> {
        SIMD8<Float>().replacing(with: dy, where: scale * x + shift .> SIMD8<Float>())
    }

    @inline(__always)
    static func rectified(_ dy: Float, _ x: Float, scale: Float, shift: Float) -> Float {
        scale * x + shift > 0 ? dy : 0
    }

    /// Per-channel Σ g and Σ g·(x − mean), g the rectified gradient: what `gradientSums` gives
    /// for the masked gradient, in the same order.
    static func rectifiedGradientSums(
        _ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>, mean: [Float], rectifier: Rectifier, layout: Layout
    ) -> (sumGradient: [Float], sumGradientCentered: [Float]) {
        var first = [Float](repeating: 0, count: layout.channels)
        var second = [Float](repeating: 0, count: layout.channels)
        let gradients = SendablePointer(dy), inputs = SendablePointer(x)
        withPointers(mean, rectifier.scales, rectifier.shifts) { pm, ps, pt in
            first.withUnsafeMutableBufferPointer { firstBuffer in
                second.withUnsafeMutableBufferPointer { secondBuffer in
                    guard let firstBase = firstBuffer.baseAddress, let secondBase = secondBuffer.baseAddress else { return }
                    let out1 = SendablePointer(firstBase), out2 = SendablePointer(secondBase)
                    forChannelChunks(layout) { range in
                        let width = range.count, low = range.lowerBound
                        if layout.spatial == 1 {
                            let means = pm.base + low, scales = ps.base + low, shifts = pt.base + low
                            let (sums, products) = columnSums(rows: layout.batch, columns: width) { n, c in
                                let offset = n * layout.imageStride + low + c
                                let input = load8(inputs.base + offset)
                                let gradient = rectified(load8(gradients.base + offset), input,
                                                         scale: load8(scales + c), shift: load8(shifts + c))
                                return (gradient, gradient * (input - load8(means + c)))
                            } scalar: { n, c in
                                let offset = n * layout.imageStride + low + c
                                let input = inputs.base[offset]
                                let gradient = rectified(gradients.base[offset], input, scale: scales[c], shift: shifts[c])
                                return (gradient, gradient * (input - means[c]))
                            }
                            for c in 0..<width {
                                out1.base[low + c] = Float(sums[c])
                                out2.base[low + c] = Float(products[c])
                            }
                            return
                        }
                        var sums = [Double](repeating: 0, count: width), products = [Double](repeating: 0, count: width)
                        for n in 0..<layout.batch {
                            let offset = n * layout.imageStride + low * layout.spatial
                            for c in 0..<width {
                                let g = gradients.base + offset + c * layout.spatial, v = inputs.base + offset + c * layout.spatial
                                let mean = pm.base[low + c], scale = ps.base[low + c], shift = pt.base[low + c]
                                let meanVector = SIMD8(repeating: mean)
                                let scaleVector = SIMD8(repeating: scale), shiftVector = SIMD8(repeating: shift)
                                let partial = laneSums(count: layout.spatial) { i in
                                    let input = load8(v + i)
                                    let gradient = rectified(load8(g + i), input, scale: scaleVector, shift: shiftVector)
                                    return (gradient, gradient * (input - meanVector))
                                } scalar: { i in
                                    let gradient = rectified(g[i], v[i], scale: scale, shift: shift)
                                    return (gradient, gradient * (v[i] - mean))
                                }
                                sums[c] += Double(partial.0)
                                products[c] += Double(partial.1)
                            }
                        }
                        for c in 0..<width {
                            out1.base[low + c] = Float(sums[c])
                            out2.base[low + c] = Float(products[c])
                        }
                    }
                }
            }
        }
        return (first, second)
    }

    /// dx = a[c]·g + b[c]·x + d[c], g the rectified gradient: `affine(g, x, a:, b:, d:)` for the
    /// masked gradient.
    static func rectifiedInputGradient(
        _ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>, a: [Float], b: [Float], d: [Float],
        rectifier: Rectifier, into out: UnsafeMutablePointer<Float>, layout: Layout
    ) {
        let gradients = SendablePointer(dy), inputs = SendablePointer(x), output = SendablePointer(out)
        withPointers(a, b, d) { pa, pb, pd in
            withPointers(rectifier.scales, rectifier.shifts, d) { ps, pt, _ in
                forChannelChunks(layout) { range in
                    for n in 0..<layout.batch {
                        let offset = n * layout.imageStride
                        if layout.spatial == 1 {
                            let g = gradients.base + offset, v = inputs.base + offset, target = output.base + offset
                            var c = range.lowerBound
                            while c &+ 8 <= range.upperBound {
                                let input = load8(v + c)
                                let gradient = rectified(load8(g + c), input, scale: load8(ps.base + c), shift: load8(pt.base + c))
                                let value = load8(pa.base + c) * gradient + load8(pb.base + c) * input + load8(pd.base + c)
                                UnsafeMutableRawPointer(target + c).storeBytes(of: value, as: SIMD8<Float>.self)
                                c &+= 8
                            }
                            while c < range.upperBound {
                                let gradient = rectified(g[c], v[c], scale: ps.base[c], shift: pt.base[c])
                                target[c] = pa.base[c] * gradient + pb.base[c] * v[c] + pd.base[c]
                                c &+= 1
                            }
                            continue
                        }
                        for c in range {
                            let start = offset + c * layout.spatial
                            let g = gradients.base + start, v = inputs.base + start, target = output.base + start
                            let scale = ps.base[c], shift = pt.base[c]
                            let first = pa.base[c], second = pb.base[c], constant = pd.base[c]
                            let scaleVector = SIMD8(repeating: scale), shiftVector = SIMD8(repeating: shift)
                            let firstVector = SIMD8(repeating: first), secondVector = SIMD8(repeating: second)
                            let constantVector = SIMD8(repeating: constant)
                            var s = 0
                            while s &+ 8 <= layout.spatial {
                                let input = load8(v + s)
                                let gradient = rectified(load8(g + s), input, scale: scaleVector, shift: shiftVector)
                                let value = firstVector * gradient + secondVector * input + constantVector
                                UnsafeMutableRawPointer(target + s).storeBytes(of: value, as: SIMD8<Float>.self)
                                s &+= 8
                            }
                            while s < layout.spatial {
                                let gradient = rectified(g[s], v[s], scale: scale, shift: shift)
                                target[s] = first * gradient + second * v[s] + constant
                                s &+= 1
                            }
                        }
                    }
                }
            }
        }
    }

    /// `body` with sendable pointers to three arrays' elements; not called when one is empty
    /// (no channels: nothing to compute).
    @inline(__always)
    private static func withPointers(
        _ first: [Float], _ second: [Float], _ third: [Float],
        _ body: (SendablePointer<Float>, SendablePointer<Float>, SendablePointer<Float>) -> Void
    ) {
        first.withUnsafeBufferPointer { p1 in
            second.withUnsafeBufferPointer { p2 in
                third.withUnsafeBufferPointer { p3 in
                    guard let b1 = p1.baseAddress, let b2 = p2.baseAddress, let b3 = p3.baseAddress else { return }
                    body(SendablePointer(b1), SendablePointer(b2), SendablePointer(b3))
                }
            }
        }
    }
}

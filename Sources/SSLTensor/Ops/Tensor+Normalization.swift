// MARK: - Norms, normalisation and batch normalisation

extension Tensor {
    /// The Euclidean norm over `axes`. Its gradient x/‖x‖ is taken as 0 where the norm is 0
    /// (as PyTorch's `vector_norm`), so normalising a zero vector gives no NaN.
    public func vectorNorm(axes: [Int], keepDims: Bool = false) -> Tensor {
        let resolved = reductionAxes(axes, operation: "vectorNorm")
        let squares = mapElements(Elementwise.Square()).reduce(axes: resolved, kind: .sum, operation: "vectorNorm")
        let norms = squares.mapElements(Elementwise.SquareRoot())
        let savedInput = detach(), savedNorm = norms.detach()
        let keptShape = norms.shape
        let result = keepDims ? norms : norms.reshapeView(reducedShape(resolved, keepDims: false))
        return Tensor.record(result, operation: "vectorNorm", inputs: [self]) { gradient, _ in
            let scale = Tensor.zipElements(gradient.reshape(keptShape), savedNorm, operation: "vectorNorm backward", Elementwise.SafeDivide())
            return [savedInput * scale]
        }
    }

    /// x / max(‖x‖, eps) along `axis` (PyTorch's `F.normalize` with p = 2, eps 1e-12).
    public func l2Normalize(axis: Int = -1, eps: Float = 1e-12) -> Tensor {
        let resolved = normalizedAxis(axis, operation: "l2Normalize")
        return self / vectorNorm(axes: [resolved], keepDims: true).clamp(min: eps)
    }

    /// Cosine similarity of `a` and `b` along `axis`: Σ (a/max(‖a‖, eps))·(b/max(‖b‖, eps))
    /// (the form PyTorch's `cosine_similarity` uses, eps 1e-8). Shapes broadcast.
    public static func cosineSimilarity(_ a: Tensor, _ b: Tensor, axis: Int = 1, eps: Float = 1e-8) -> Tensor {
        let normalizedA = a.l2Normalize(axis: axis, eps: eps)
        let normalizedB = b.l2Normalize(axis: axis, eps: eps)
        let product = normalizedA * normalizedB
        return product.sum(axes: [product.normalizedAxis(axis, operation: "cosineSimilarity")])
    }

    /// Batch normalisation over `[N, C]` or `[N, C, …]` (per channel C).
    ///
    /// In training, normalises with the batch mean and biased variance and, when running
    /// statistics are given, updates them in place: `running = (1 − momentum)·running +
    /// momentum·batch`, with the unbiased variance (as PyTorch). In evaluation, normalises with
    /// the running statistics. `weight` (γ) and `bias` (β) are optional `[C]` tensors.
    /// [Ioffe & Szegedy 2015](https://arxiv.org/abs/1502.03167)
    ///
    /// ```swift
    /// let y = x.batchNorm(runningMean: mean, runningVariance: variance,
    ///                     weight: gamma, bias: beta, training: true)
    /// ```
    public func batchNorm(
        runningMean: Tensor?, runningVariance: Tensor?, weight: Tensor?, bias: Tensor?,
        training: Bool, momentum: Float = 0.1, eps: Float = 1e-5
    ) -> Tensor {
        precondition(rank >= 2, "batchNorm: input must be [N, C, …], got \(shape)")
        let channels = shape[1]
        for (name, tensor) in [("runningMean", runningMean), ("runningVariance", runningVariance),
                               ("weight", weight), ("bias", bias)] {
            if let tensor {
                precondition(tensor.shape == [channels],
                             "batchNorm: \(name) has shape \(tensor.shape), expected [\(channels)] for input \(shape)")
            }
        }
        precondition(training || (runningMean != nil && runningVariance != nil),
                     "batchNorm: evaluation mode needs running statistics")
        let batch = shape[0], spatial = shape[2...].reduce(1, *)
        let perChannel = batch * spatial
        precondition(!training || perChannel > 1,
                     "batchNorm: expected more than 1 value per channel in training, got input \(shape)")
        let input = contiguousCopyIfNeeded()
        let result = Tensor(uninitializedShape: shape)
        var means = [Float](repeating: 0, count: channels)
        var inverseStds = [Float](repeating: 0, count: channels)
        let gamma = weight.map { $0.contiguousCopyIfNeeded() }, beta = bias.map { $0.contiguousCopyIfNeeded() }
        let x = SendablePointer(input.dataPointer), y = SendablePointer(result.dataPointer)
        let g = gamma.map { SendablePointer($0.dataPointer) }, b = beta.map { SendablePointer($0.dataPointer) }
        let channelStride = spatial, imageStride = channels * spatial
        if training {
            means.withUnsafeMutableBufferPointer { meanBuffer in
                inverseStds.withUnsafeMutableBufferPointer { stdBuffer in
                    let meanOut = SendablePointer(meanBuffer.baseAddress!), stdOut = SendablePointer(stdBuffer.baseAddress!)
                    ParallelLoop.forEachChunk(count: channels, minimumChunk: 1,
                                              threads: count >= 1 << 14 ? ComputeContext.current.threadCount : 1) { range in
                        for c in range {
                            // Two passes in double precision: mean, then centred squares.
                            var total: Double = 0
                            for n in 0..<batch {
                                let row = UnsafePointer(x.base + n * imageStride + c * channelStride)
                                total += Double(Tensor.reduceRow(row, count: spatial, kind: .sum))
                            }
                            let mean = Float(total / Double(perChannel))
                            var squares: Double = 0
                            for n in 0..<batch {
                                let row = x.base + n * imageStride + c * channelStride
                                var partial: Float = 0
                                for s in 0..<spatial {
                                    let d = row[s] - mean
                                    partial += d * d
                                }
                                squares += Double(partial)
                            }
                            let variance = Float(squares / Double(perChannel))
                            let inverseStd = 1 / (variance + eps).squareRoot()
                            meanOut.base[c] = mean
                            stdOut.base[c] = inverseStd
                            let scale = (g?.base[c] ?? 1) * inverseStd
                            let shift = (b?.base[c] ?? 0) - mean * scale
                            for n in 0..<batch {
                                let offset = n * imageStride + c * channelStride
                                let source = x.base + offset, destination = y.base + offset
                                for s in 0..<spatial { destination[s] = source[s] * scale + shift }
                            }
                        }
                    }
                }
            }
            if let runningMean, let runningVariance {
                let unbiasedScale = Float(perChannel) / Float(perChannel - 1)
                let rm = runningMean.dataPointer, rv = runningVariance.dataPointer
                for c in 0..<channels {
                    let variance = 1 / (inverseStds[c] * inverseStds[c]) - eps
                    rm[c] = (1 - momentum) * rm[c] + momentum * means[c]
                    rv[c] = (1 - momentum) * rv[c] + momentum * variance * unbiasedScale
                }
            }
        } else if let runningMean, let runningVariance {
            for c in 0..<channels {
                means[c] = runningMean.dataPointer[c]
                inverseStds[c] = 1 / (runningVariance.dataPointer[c] + eps).squareRoot()
            }
            for n in 0..<batch {
                for c in 0..<channels {
                    let scale = (g?.base[c] ?? 1) * inverseStds[c]
                    let shift = (b?.base[c] ?? 0) - means[c] * scale
                    let offset = n * imageStride + c * channelStride
                    let source = x.base + offset, destination = y.base + offset
                    for s in 0..<spatial { destination[s] = source[s] * scale + shift }
                }
            }
        }
        var inputs = [self]
        if let weight { inputs.append(weight) }
        if let bias { inputs.append(bias) }
        let savedInput = input.detach(), savedGamma = gamma?.detach()
        let hasWeight = weight != nil, hasBias = bias != nil
        let inputShape = shape
        return Tensor.record(result, operation: "batchNorm", inputs: inputs) { gradient, needs in
            let gradient = gradient.contiguousCopyIfNeeded()
            let dy = gradient.dataPointer, xs = savedInput.dataPointer
            var sumGradient = [Float](repeating: 0, count: channels)
            var sumGradientXhat = [Float](repeating: 0, count: channels)
            for c in 0..<channels {
                var total: Float = 0, weighted: Float = 0
                let mean = means[c], inverseStd = inverseStds[c]
                for n in 0..<batch {
                    let offset = n * imageStride + c * channelStride
                    for s in 0..<spatial {
                        let d = dy[offset + s]
                        total += d
                        weighted += d * (xs[offset + s] - mean) * inverseStd
                    }
                }
                sumGradient[c] = total
                sumGradientXhat[c] = weighted
            }
            var gradients: [Tensor?] = []
            if needs[0] {
                let inputGradient = Tensor(uninitializedShape: inputShape)
                let dx = inputGradient.dataPointer
                let m = Float(perChannel)
                for c in 0..<channels {
                    let gammaValue = savedGamma?.dataPointer[c] ?? 1
                    let mean = means[c], inverseStd = inverseStds[c]
                    for n in 0..<batch {
                        let offset = n * imageStride + c * channelStride
                        if training {
                            // dx = γ·σ⁻¹/M · (M·dy − Σdy − x̂·Σ(dy·x̂))
                            let factor = gammaValue * inverseStd / m
                            let meanGradient = sumGradient[c], projection = sumGradientXhat[c]
                            for s in 0..<spatial {
                                let xhat = (xs[offset + s] - mean) * inverseStd
                                dx[offset + s] = factor * (m * dy[offset + s] - meanGradient - xhat * projection)
                            }
                        } else {
                            let factor = gammaValue * inverseStd
                            for s in 0..<spatial { dx[offset + s] = factor * dy[offset + s] }
                        }
                    }
                }
                gradients.append(inputGradient)
            } else {
                gradients.append(nil)
            }
            if hasWeight { gradients.append(needs[gradients.count] ? Tensor(shape: [channels], scalars: sumGradientXhat) : nil) }
            if hasBias { gradients.append(needs[gradients.count] ? Tensor(shape: [channels], scalars: sumGradient) : nil) }
            return gradients
        }
    }

    /// Zeroes each element with probability `probability` and scales the rest by
    /// 1/(1 − probability) in training; the identity otherwise.
    public func dropout(probability: Float, training: Bool, generator: inout RandomGenerator) -> Tensor {
        precondition(probability >= 0 && probability < 1, "dropout: probability \(probability) must be in [0, 1)")
        guard training && probability > 0 else { return self }
        let keep = 1 - probability
        let mask = Tensor(uninitializedShape: shape)
        let pointer = mask.dataPointer
        let scale = 1 / keep
        for i in 0..<count { pointer[i] = generator.nextUniform() < keep ? scale : 0 }
        return self * mask
    }
}

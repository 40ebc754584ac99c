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
    /// With `applyingReLU` the result is `relu(batchNorm(x))`, normalised and rectified in one
    /// pass over memory — identical values and gradients to `.relu()` after it.
    /// [Ioffe & Szegedy 2015](https://arxiv.org/abs/1502.03167)
    ///
    /// ```swift
    /// let y = x.batchNorm(runningMean: mean, runningVariance: variance,
    ///                     weight: gamma, bias: beta, training: true)
    /// ```
    public func batchNorm(
        runningMean: Tensor?, runningVariance: Tensor?, weight: Tensor?, bias: Tensor?,
        training: Bool, momentum: Float = 0.1, eps: Float = 1e-5, applyingReLU: Bool = false
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
        let layout = BatchNormKernels.Layout(batch: batch, channels: channels, spatial: spatial)
        let perChannel = layout.perChannel
        precondition(!training || perChannel > 1,
                     "batchNorm: expected more than 1 value per channel in training, got input \(shape)")
        let input = contiguousCopyIfNeeded()
        let gammas = weight.map { $0.scalars } ?? [Float](repeating: 1, count: channels)
        let betas = bias.map { $0.scalars } ?? [Float](repeating: 0, count: channels)
        let means: [Float], variances: [Float]
        if training {
            (means, variances) = BatchNormKernels.statistics(input.dataPointer, layout: layout)
            if let runningMean, let runningVariance {
                let unbiased = Float(perChannel) / Float(perChannel - 1)
                runningMean.withUnsafeMutableElements { rm in
                    runningVariance.withUnsafeMutableElements { rv in
                        for c in 0..<channels {
                            rm[c] = (1 - momentum) * rm[c] + momentum * means[c]
                            rv[c] = (1 - momentum) * rv[c] + momentum * variances[c] * unbiased
                        }
                    }
                }
            }
        } else if let runningMean, let runningVariance {
            means = runningMean.scalars
            variances = runningVariance.scalars
        } else {
            preconditionFailure("batchNorm: evaluation mode needs running statistics")
        }
        let inverseStds = variances.map { 1 / ($0 + eps).squareRoot() }
        let scales = (0..<channels).map { gammas[$0] * inverseStds[$0] }
        let shifts = (0..<channels).map { betas[$0] - means[$0] * scales[$0] }
        let result = Tensor(uninitializedShape: shape)
        BatchNormKernels.affine(input.dataPointer, nil, a: scales, b: shifts, d: nil, into: result.dataPointer, layout: layout,
                                rectify: applyingReLU)
        // The fused ReLU's gradient needs its output: positive where the gradient passes.
        let savedOutput = applyingReLU ? result.detach() : nil

        var inputs = [self]
        if let weight { inputs.append(weight) }
        if let bias { inputs.append(bias) }
        let savedInput = input.detach()
        let hasWeight = weight != nil, hasBias = bias != nil
        let inputShape = shape
        return Tensor.record(result, operation: applyingReLU ? "batchNorm+relu" : "batchNorm", inputs: inputs) { gradient, needs in
            var gradient = gradient.contiguousCopyIfNeeded()
            if let savedOutput {
                // The fused ReLU's gradient: pass where its output is positive.
                gradient = Tensor.zipElements(gradient, savedOutput, operation: "relu backward", Elementwise.PositiveMask())
            }
            let (sumGradient, sumCentered) = BatchNormKernels.gradientSums(gradient.dataPointer, savedInput.dataPointer,
                                                                         mean: means, layout: layout)
            // Σ dy·x̂ per channel.
            let sumGradientXhat = (0..<channels).map { sumCentered[$0] * inverseStds[$0] }
            var gradients: [Tensor?] = []
            if needs[0] {
                let inputGradient = Tensor(uninitializedShape: inputShape)
                if training {
                    // dx = γσ⁻¹/M · (M·dy − Σdy − x̂·Σ(dy·x̂)) = a·dy + b·x + d per channel.
                    let m = Float(perChannel)
                    var a = [Float](repeating: 0, count: channels), b = a, d = a
                    for c in 0..<channels {
                        let factor = gammas[c] * inverseStds[c] / m
                        a[c] = factor * m
                        b[c] = -factor * inverseStds[c] * sumGradientXhat[c]
                        d[c] = -factor * sumGradient[c] + factor * inverseStds[c] * sumGradientXhat[c] * means[c]
                    }
                    BatchNormKernels.affine(gradient.dataPointer, savedInput.dataPointer, a: a, b: b, d: d,
                                            into: inputGradient.dataPointer, layout: layout)
                } else {
                    BatchNormKernels.affine(gradient.dataPointer, nil, a: scales, b: [Float](repeating: 0, count: channels),
                                            d: nil, into: inputGradient.dataPointer, layout: layout)
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

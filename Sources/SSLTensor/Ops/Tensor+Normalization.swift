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
    /// pass over memory — identical values and gradients to `.relu()` after it. `residual` (the
    /// input's shape) is added before the ReLU, as a residual block's shortcut:
    /// `relu(batchNorm(x) + residual)` without keeping the sum or the normalised values for
    /// backward.
    /// [Ioffe & Szegedy 2015](https://arxiv.org/abs/1502.03167)
    ///
    /// `sumOverProcesses` (training only) makes the statistics those of a batch split over
    /// several processes, as `SyncBatchNorm`: it must replace a small buffer by its element-wise
    /// sum over the processes (an all-reduce), and every process must call it the same number of
    /// times: twice in the forward pass and, when the input needs a gradient, once in the
    /// backward pass. The forward pass combines each process's count, mean and variance
    /// (the combination of partial variances of Chan, Golub & LeVeque, "Updating formulae and a
    /// pairwise algorithm for computing sample variances", 1979: all-reduces of C + 1 and C
    /// values, no cancellation; the count is summed as a Float, exact up to 2²⁴ values per
    /// channel, and a process may hold no samples); the backward pass sums Σdy and
    /// Σdy·(x − mean) over the processes (one all-reduce of 2C values) for the input's gradient,
    /// while γ's and β's gradients stay this process's own sums (a data-parallel step averages
    /// them afterwards).
    ///
    /// ```swift
    /// let y = x.batchNorm(runningMean: mean, runningVariance: variance,
    ///                     weight: gamma, bias: beta, training: true)
    /// let block = x.batchNorm(runningMean: mean, runningVariance: variance, weight: gamma, bias: beta,
    ///                         training: true, applyingReLU: true, adding: shortcut)
    /// ```
    public func batchNorm(
        runningMean: Tensor?, runningVariance: Tensor?, weight: Tensor?, bias: Tensor?,
        training: Bool, momentum: Float = 0.1, eps: Float = 1e-5, applyingReLU: Bool = false,
        adding residual: Tensor? = nil,
        sumOverProcesses: ((UnsafeMutableBufferPointer<Float>) -> Void)? = nil
    ) -> Tensor {
        precondition(rank >= 2, "batchNorm: input must be [N, C, …], got \(shape)")
        if let residual {
            precondition(residual.shape == shape, "batchNorm: residual has shape \(residual.shape), expected the input's \(shape)")
        }
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
        let sumOverProcesses = training ? sumOverProcesses : nil
        // Values per channel: this process's, or over every process when synchronised.
        var perChannel = Float(layout.perChannel)
        precondition(!training || sumOverProcesses != nil || perChannel > 1,
                     "batchNorm: expected more than 1 value per channel in training, got input \(shape)")
        let input = contiguousCopyIfNeeded()
        let gammas = weight.map { $0.scalars } ?? [Float](repeating: 1, count: channels)
        let betas = bias.map { $0.scalars } ?? [Float](repeating: 0, count: channels)
        var batchMeans: [Float], variances: [Float]
        if training {
            // A process with no samples (possible only when synchronised) contributes nothing.
            (batchMeans, variances) = layout.perChannel > 0
                ? BatchNormKernels.statistics(input.dataPointer, layout: layout)
                : ([Float](repeating: 0, count: channels), [Float](repeating: 0, count: channels))
            if let sumOverProcesses {
                (batchMeans, variances, perChannel) = Tensor.combineStatistics(
                    means: batchMeans, variances: variances, count: perChannel, sumOverProcesses: sumOverProcesses)
                precondition(perChannel > 1, "batchNorm: expected more than 1 value per channel over all processes in training, "
                             + "got input \(shape) here and \(Int(perChannel)) values per channel in all")
            }
            if let runningMean, let runningVariance {
                let unbiased = perChannel / (perChannel - 1)
                runningMean.withUnsafeMutableElements { rm in
                    runningVariance.withUnsafeMutableElements { rv in
                        for c in 0..<channels {
                            rm[c] = (1 - momentum) * rm[c] + momentum * batchMeans[c]
                            rv[c] = (1 - momentum) * rv[c] + momentum * variances[c] * unbiased
                        }
                    }
                }
            }
        } else if let runningMean, let runningVariance {
            batchMeans = runningMean.scalars
            variances = runningVariance.scalars
        } else {
            preconditionFailure("batchNorm: evaluation mode needs running statistics")
        }
        let inverseStds = variances.map { 1 / ($0 + eps).squareRoot() }
        let scales = (0..<channels).map { gammas[$0] * inverseStds[$0] }
        let shifts = (0..<channels).map { betas[$0] - batchMeans[$0] * scales[$0] }
        let result = Tensor(uninitializedShape: shape)
        let addend = residual?.contiguousCopyIfNeeded()
        BatchNormKernels.affine(input.dataPointer, nil, a: scales, b: shifts, d: nil, into: result.dataPointer, layout: layout,
                                rectify: applyingReLU, residual: addend.map { UnsafePointer($0.dataPointer) })
        // The fused ReLU's gradient passes where the output is positive. In training without a
        // residual the backward kernels recompute that from the input (`rectifier`); otherwise
        // the output is kept.
        let rectifier = applyingReLU && training && residual == nil
            ? BatchNormKernels.Rectifier(scales: scales, shifts: shifts) : nil
        let savedOutput = applyingReLU && rectifier == nil ? result.detach() : nil

        var inputs = [self]
        if let weight { inputs.append(weight) }
        if let bias { inputs.append(bias) }
        if let residual { inputs.append(residual) }
        let savedInput = input.detach()
        let hasWeight = weight != nil, hasBias = bias != nil, hasResidual = residual != nil
        let inputShape = shape
        let means = batchMeans, valuesPerChannel = perChannel
        let operation = "batchNorm" + (residual == nil ? "" : "+add") + (applyingReLU ? "+relu" : "")
        return Tensor.record(result, operation: operation, inputs: inputs) { gradient, needs in
            var gradient = gradient.contiguousCopyIfNeeded()
            if let savedOutput {
                // The fused ReLU's gradient: pass where its output is positive.
                gradient = Tensor.zipElements(gradient, savedOutput, operation: "relu backward", Elementwise.PositiveMask())
            }
            let (sumGradient, sumCentered) = rectifier.map {
                BatchNormKernels.rectifiedGradientSums(gradient.dataPointer, savedInput.dataPointer, mean: means,
                                                       rectifier: $0, layout: layout)
            } ?? BatchNormKernels.gradientSums(gradient.dataPointer, savedInput.dataPointer, mean: means, layout: layout)
            // Σ dy·x̂ per channel.
            let sumGradientXhat = (0..<channels).map { sumCentered[$0] * inverseStds[$0] }
            var gradients: [Tensor?] = []
            if needs[0] {
                let inputGradient = Tensor(uninitializedShape: inputShape)
                if training {
                    // The sums over the whole (possibly multi-process) batch.
                    var totals = sumGradient + sumGradientXhat
                    if let sumOverProcesses { totals.withUnsafeMutableBufferPointer { sumOverProcesses($0) } }
                    // dx = γσ⁻¹/M · (M·dy − Σdy − x̂·Σ(dy·x̂)) = a·dy + b·x + d per channel.
                    let m = valuesPerChannel
                    var a = [Float](repeating: 0, count: channels), b = a, d = a
                    for c in 0..<channels {
                        let factor = gammas[c] * inverseStds[c] / m
                        let totalGradient = totals[c], totalGradientXhat = totals[channels + c]
                        a[c] = factor * m
                        b[c] = -factor * inverseStds[c] * totalGradientXhat
                        d[c] = -factor * totalGradient + factor * inverseStds[c] * totalGradientXhat * means[c]
                    }
                    if let rectifier {
                        BatchNormKernels.rectifiedInputGradient(gradient.dataPointer, savedInput.dataPointer, a: a, b: b, d: d,
                                                                rectifier: rectifier, into: inputGradient.dataPointer,
                                                                layout: layout)
                    } else {
                        BatchNormKernels.affine(gradient.dataPointer, savedInput.dataPointer, a: a, b: b, d: d,
                                                into: inputGradient.dataPointer, layout: layout)
                    }
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
            // The residual's gradient is the (rectified) output gradient itself.
            if hasResidual { gradients.append(needs[gradients.count] ? gradient : nil) }
            return gradients
        }
    }

    /// Per-channel mean and biased variance of a batch split over processes, from each one's
    /// `count` values per channel, `means` and `variances` (Chan et al.'s combination of partial
    /// variances): the sum of counts and of count·mean gives the global mean, then each
    /// process's squared deviations about it, count·(variance + (mean − global mean)²), summed,
    /// give the global variance.
    private static func combineStatistics(means: [Float], variances: [Float], count: Float,
                                          sumOverProcesses: (UnsafeMutableBufferPointer<Float>) -> Void)
        -> (means: [Float], variances: [Float], count: Float)
    {
        let channels = means.count
        var sums = means.map { $0 * count } + [count]
        sums.withUnsafeMutableBufferPointer { sumOverProcesses($0) }
        let total = sums[channels]
        let globalMeans = (0..<channels).map { sums[$0] / total }
        var squares = (0..<channels).map { c -> Float in
            let shift = means[c] - globalMeans[c]
            return count * (variances[c] + shift * shift)
        }
        squares.withUnsafeMutableBufferPointer { sumOverProcesses($0) }
        return (globalMeans, squares.map { $0 / total }, total)
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

// MARK: - Softmax family and cross-entropy

extension Tensor {
    /// softmax along `axis`: exp(x − max) / Σ exp(x − max).
    public func softmax(axis: Int = -1) -> Tensor {
        softmaxFamily(axis: axis, logarithmic: false)
    }

    /// log-softmax along `axis`: x − max − log Σ exp(x − max).
    public func logSoftmax(axis: Int = -1) -> Tensor {
        softmaxFamily(axis: axis, logarithmic: true)
    }

    /// log Σ exp(x) along `axis`, computed stably (shifted by the detached maximum; the
    /// gradient is the softmax).
    public func logSumExp(axis: Int = -1, keepDims: Bool = false) -> Tensor {
        let resolved = normalizedAxis(axis, operation: "logSumExp")
        let shift = max(axes: [resolved], keepDims: true).detach()
        let result = (self - shift).exp().sum(axes: [resolved], keepDims: true).log() + shift
        return keepDims ? result : result.squeeze(resolved)
    }

    /// Mean cross-entropy of `[N, C]` logits against integer class `targets` `[N]`, with
    /// optional label smoothing (PyTorch's `cross_entropy`).
    ///
    /// ```swift
    /// let loss = logits.crossEntropy(targets: IntTensor([2, 0, 1]))
    /// ```
    public func crossEntropy(targets: IntTensor, labelSmoothing: Float = 0) -> Tensor {
        precondition(rank == 2, "crossEntropy: logits must be [N, C], got \(shape)")
        precondition(targets.shape == [shape[0]],
                     "crossEntropy: targets shape \(targets.shape), expected [\(shape[0])] for logits \(shape)")
        precondition(labelSmoothing >= 0 && labelSmoothing <= 1,
                     "crossEntropy: labelSmoothing \(labelSmoothing) must be in [0, 1]")
        let classes = shape[1]
        for target in targets.scalars {
            precondition(target >= 0 && target < classes,
                         "crossEntropy: target \(target) out of range for \(classes) classes")
        }
        let logProbabilities = logSoftmax(axis: 1)
        let picked = logProbabilities.gather(axis: 1, index: IntTensor(shape: [shape[0], 1], scalars: targets.scalars))
        let negativeLikelihood = -picked.mean()
        if labelSmoothing == 0 { return negativeLikelihood }
        let uniform = -logProbabilities.mean()
        return negativeLikelihood * (1 - labelSmoothing) + uniform * labelSmoothing
    }

    private func softmaxFamily(axis: Int, logarithmic: Bool) -> Tensor {
        let operation = logarithmic ? "logSoftmax" : "softmax"
        let resolved = normalizedAxis(axis, operation: operation)
        if resolved != rank - 1 {
            // Move the axis last, compute, move it back (the views record their own rules).
            return transpose(resolved, rank - 1).softmaxFamily(axis: -1, logarithmic: logarithmic)
                .transpose(resolved, rank - 1)
        }
        let input = contiguousCopyIfNeeded()
        let width = shape[rank - 1]
        let rows = width == 0 ? 0 : count / width
        let result = Tensor(uninitializedShape: shape)
        let x = SendablePointer(input.dataPointer), y = SendablePointer(result.dataPointer)
        ParallelLoop.forEachChunk(count: rows, minimumChunk: Swift.max(1, 4096 / Swift.max(width, 1)),
                                  threads: ComputeContext.current.threadCount) { range in
            for row in range {
                let source = UnsafePointer(x.base + row * width), destination = y.base + row * width
                let maximum = Tensor.reduceRow(source, count: width, kind: .max)
                // Separate passes: the exp loop vectorises, the sum uses SIMD accumulators.
                for i in 0..<width { destination[i] = fastExp(source[i] - maximum) }
                let total = Tensor.reduceRow(UnsafePointer(destination), count: width, kind: .sum)
                if logarithmic {
                    let logTotal = _logf(total) + maximum
                    for i in 0..<width { destination[i] = source[i] - logTotal }
                } else {
                    let scale = 1 / total
                    for i in 0..<width { destination[i] *= scale }
                }
            }
        }
        let saved = result.detach()
        return Tensor.record(result, operation: operation, inputs: [self]) { gradient, _ in
            let gradient = gradient.contiguousCopyIfNeeded()
            let inputGradient = Tensor(uninitializedShape: saved.shape)
            let dy = gradient.dataPointer, out = saved.dataPointer, dx = inputGradient.dataPointer
            for row in 0..<rows {
                let g = dy + row * width, o = out + row * width, d = dx + row * width
                if logarithmic {
                    // dx = g − softmax · Σ g
                    let total = Tensor.reduceRow(UnsafePointer(g), count: width, kind: .sum)
                    for i in 0..<width { d[i] = g[i] - fastExp(o[i]) * total }
                } else {
                    // dx = y · (g − Σ g·y)
                    var dot: Float = 0
                    for i in 0..<width { dot += g[i] * o[i] }
                    for i in 0..<width { d[i] = o[i] * (g[i] - dot) }
                }
            }
            return [inputGradient]
        }
    }
}

// MARK: - 2-D convolution

extension Tensor {
    /// 2-D cross-correlation (PyTorch's `conv2d`) of an `[N, C, H, W]` input with an
    /// `[O, C, KH, KW]` weight and an optional `[O]` bias, with equal stride and zero padding on
    /// both spatial axes.
    ///
    /// Runs as im2col + GEMM per image, the images split between threads; the backward pass
    /// recomputes the columns rather than keeping them (they are KH·KW times the input).
    ///
    /// ```swift
    /// let y = x.conv2d(weight: w, bias: b, stride: 1, padding: 1)   // [N, O, H, W]
    /// ```
    public func conv2d(weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Int = 0) -> Tensor {
        precondition(rank == 4, "conv2d: input must be [N, C, H, W], got \(shape)")
        precondition(weight.rank == 4, "conv2d: weight must be [O, C, KH, KW], got \(weight.shape)")
        precondition(weight.shape[1] == shape[1],
                     "conv2d: input has \(shape[1]) channels but weight \(weight.shape) expects \(weight.shape[1])")
        precondition(stride >= 1 && padding >= 0, "conv2d: invalid stride \(stride) or padding \(padding)")
        let outChannels = weight.shape[0]
        if let bias {
            precondition(bias.shape == [outChannels], "conv2d: bias shape \(bias.shape), expected [\(outChannels)]")
        }
        let geometry = ConvolutionGeometry(
            channels: shape[1], height: shape[2], width: shape[3],
            kernelHeight: weight.shape[2], kernelWidth: weight.shape[3], stride: stride, padding: padding)
        precondition(geometry.outputHeight > 0 && geometry.outputWidth > 0,
                     "conv2d: kernel \(weight.shape[2])×\(weight.shape[3]) with padding \(padding) does not fit input \(shape)")
        let input = contiguousCopyIfNeeded()
        let kernel = weight.contiguousCopyIfNeeded()
        let batch = shape[0]
        let result = Tensor(uninitializedShape: [batch, outChannels, geometry.outputHeight, geometry.outputWidth])
        Tensor.convolutionForward(input: input, weight: kernel, bias: bias?.contiguousCopyIfNeeded(),
                                  geometry: geometry, into: result)
        let savedInput = input.detach(), savedWeight = kernel.detach()
        var inputs = [self, weight]
        if let bias { inputs.append(bias) }
        return Tensor.record(result, operation: "conv2d", inputs: inputs) { gradient, needs in
            let gradient = gradient.contiguousCopyIfNeeded()
            // With stride 1, dX is a convolution of dY with the flipped, transposed kernel
            // (padding k − 1 − p), which runs on the fused im2col-packing path.
            // (Few input channels make that GEMM a single short row: keep the column path then.)
            let transposedPath = needs[0] && geometry.stride == 1 && !geometry.isPointwise && geometry.channels >= 8
                && geometry.kernelHeight == geometry.kernelWidth && geometry.padding <= geometry.kernelHeight - 1
            let (columnInputGradient, weightGradient) = Tensor.convolutionBackward(
                gradient: gradient, input: savedInput, weight: savedWeight, geometry: geometry,
                needInput: needs[0] && !transposedPath, needWeight: needs[1])
            var inputGradient = columnInputGradient
            if transposedPath {
                let flipped = Tensor.flippedTransposedKernel(savedWeight)
                let transposedGeometry = ConvolutionGeometry(
                    channels: savedWeight.shape[0], height: geometry.outputHeight, width: geometry.outputWidth,
                    kernelHeight: geometry.kernelHeight, kernelWidth: geometry.kernelWidth, stride: 1,
                    padding: geometry.kernelHeight - 1 - geometry.padding)
                let result = Tensor(uninitializedShape: savedInput.shape)
                Tensor.convolutionForward(input: gradient, weight: flipped, bias: nil, geometry: transposedGeometry, into: result)
                inputGradient = result
            }
            var gradients: [Tensor?] = [inputGradient, weightGradient]
            if needs.count == 3 {
                gradients.append(needs[2] ? gradient.sum(axes: [0, 2, 3]) : nil)
            }
            return gradients
        }
    }

    static func convolutionForward(
        input: Tensor, weight: Tensor, bias: Tensor?, geometry: ConvolutionGeometry, into result: Tensor
    ) {
        let context = ComputeContext.current
        let batch = input.shape[0]
        let outChannels = weight.shape[0]
        let imageSize = geometry.channels * geometry.height * geometry.width
        let outputSize = outChannels * geometry.columnCount
        let workers = Swift.min(context.threadCount, batch)
        let innerThreads = workers == 1 ? context.threadCount : 1
        let x = SendablePointer(input.dataPointer), w = SendablePointer(weight.dataPointer)
        let y = SendablePointer(result.dataPointer)
        let b = bias.map { SendablePointer($0.dataPointer) }
        ParallelLoop.forEachChunk(count: batch, minimumChunk: 1, threads: workers) { images in
            for image in images {
                let source = UnsafePointer(x.base + image * imageSize)
                // The column matrix is packed straight from the image (no im2col copy).
                let columns: GEMMRightOperand = geometry.isPointwise
                    ? .matrix(.rowMajor(source, columns: geometry.columnCount))
                    : .convolutionColumns(image: source, geometry: geometry)
                let output = y.base + image * outputSize
                gemm(m: outChannels, n: geometry.columnCount, k: geometry.columnRows,
                     a: .rowMajor(w.base, columns: geometry.columnRows), b: columns,
                     c: output, ldc: geometry.columnCount, threads: innerThreads, context: context)
                if let b {
                    for channel in 0..<outChannels {
                        let value = b.base[channel]
                        let plane = output + channel * geometry.columnCount
                        for i in 0..<geometry.columnCount { plane[i] += value }
                    }
                }
            }
        }
    }

    /// W'[c, o, ky, kx] = W[o, c, KH−1−ky, KW−1−kx]: the kernel of the transposed convolution.
    static func flippedTransposedKernel(_ weight: Tensor) -> Tensor {
        let outChannels = weight.shape[0], inChannels = weight.shape[1], kh = weight.shape[2], kw = weight.shape[3]
        let result = Tensor(uninitializedShape: [inChannels, outChannels, kh, kw])
        let source = weight.dataPointer, destination = result.dataPointer
        for o in 0..<outChannels {
            for c in 0..<inChannels {
                for ky in 0..<kh {
                    for kx in 0..<kw {
                        destination[((c * outChannels + o) * kh + ky) * kw + kx] =
                            source[((o * inChannels + c) * kh + (kh - 1 - ky)) * kw + (kw - 1 - kx)]
                    }
                }
            }
        }
        return result
    }

    static func convolutionBackward(
        gradient: Tensor, input: Tensor, weight: Tensor, geometry: ConvolutionGeometry,
        needInput: Bool, needWeight: Bool
    ) -> (Tensor?, Tensor?) {
        let context = ComputeContext.current
        let batch = input.shape[0]
        let outChannels = weight.shape[0]
        let imageSize = geometry.channels * geometry.height * geometry.width
        let outputSize = outChannels * geometry.columnCount
        let columnSize = geometry.columnRows * geometry.columnCount
        let weightSize = outChannels * geometry.columnRows
        let workers = Swift.min(context.threadCount, batch)
        let innerThreads = workers == 1 ? context.threadCount : 1
        let inputGradient = needInput ? Tensor(uninitializedShape: input.shape) : nil
        let weightGradient = needWeight ? Tensor(uninitializedShape: weight.shape) : nil
        // Per worker: a column buffer and a private weight-gradient accumulator.
        let perWorker = columnSize + weightSize
        let scratch = context.bufferPool.allocate(count: workers * perWorker)
        defer { context.bufferPool.release(scratch.pointer, capacity: scratch.capacity) }
        let x = SendablePointer(input.dataPointer), w = SendablePointer(weight.dataPointer)
        let dy = SendablePointer(gradient.dataPointer), buffers = SendablePointer(scratch.pointer)
        let dx = inputGradient.map { SendablePointer($0.dataPointer) }
        let perChunk = (batch + workers - 1) / workers
        ParallelLoop.forEachChunk(count: batch, minimumChunk: 1, threads: workers) { images in
            let worker = images.lowerBound / perChunk
            let columns = buffers.base + worker * perWorker
            let weightAccumulator = columns + columnSize
            var firstImage = true
            for image in images {
                let outputGradient = UnsafePointer(dy.base + image * outputSize)
                if needWeight {
                    // dW += dY_n · col_nᵀ
                    let matrix: UnsafePointer<Float>
                    if geometry.isPointwise {
                        matrix = UnsafePointer(x.base + image * imageSize)
                    } else {
                        geometry.im2col(UnsafePointer(x.base + image * imageSize), into: columns)
                        matrix = UnsafePointer(columns)
                    }
                    gemm(m: outChannels, n: geometry.columnRows, k: geometry.columnCount,
                         a: .rowMajor(outputGradient, columns: geometry.columnCount),
                         b: .rowMajor(matrix, columns: geometry.columnCount, transposed: true),
                         beta: firstImage ? 0 : 1,
                         c: weightAccumulator, ldc: geometry.columnRows, threads: innerThreads, context: context)
                }
                if let dx {
                    // dcol = Wᵀ · dY_n, folded back onto the image.
                    let imageGradient = dx.base + image * imageSize
                    if geometry.isPointwise {
                        gemm(m: geometry.columnRows, n: geometry.columnCount, k: outChannels,
                             a: .rowMajor(w.base, columns: geometry.columnRows, transposed: true),
                             b: .rowMajor(outputGradient, columns: geometry.columnCount),
                             c: imageGradient, ldc: geometry.columnCount, threads: innerThreads, context: context)
                    } else {
                        gemm(m: geometry.columnRows, n: geometry.columnCount, k: outChannels,
                             a: .rowMajor(w.base, columns: geometry.columnRows, transposed: true),
                             b: .rowMajor(outputGradient, columns: geometry.columnCount),
                             c: columns, ldc: geometry.columnCount, threads: innerThreads, context: context)
                        imageGradient.update(repeating: 0, count: imageSize)
                        geometry.col2im(UnsafePointer(columns), into: imageGradient)
                    }
                }
                firstImage = false
            }
        }
        if let weightGradient {
            let destination = weightGradient.dataPointer
            destination.update(from: scratch.pointer + columnSize, count: weightSize)
            // Only workers whose chunk held images wrote an accumulator.
            let activeWorkers = (batch + perChunk - 1) / perChunk
            for worker in 1..<Swift.max(activeWorkers, 1) {
                let partial = scratch.pointer + worker * perWorker + columnSize
                for i in 0..<weightSize { destination[i] += partial[i] }
            }
        }
        return (inputGradient, weightGradient)
    }
}

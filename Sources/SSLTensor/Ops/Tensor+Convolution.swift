// MARK: - 2-D convolution

extension Tensor {
    /// 2-D cross-correlation (PyTorch's `conv2d`) of an `[N, C, H, W]` input with an
    /// `[O, C, KH, KW]` weight and an optional `[O]` bias, with equal stride and zero padding on
    /// both spatial axes.
    ///
    /// Each product (output, input gradient, weight gradient) runs as one GEMM over the whole
    /// batch whose column matrix is gathered straight from the images (`BatchedConvolution`);
    /// nothing KH·KW times the input is ever stored. 3×3 stride-1 layers with at least 16 input
    /// and output channels compute the forward pass and the input gradient by Winograd
    /// F(2×2, 3×3) instead (2.25× fewer multiplications; `ConvolutionAlgorithm` can pin either),
    /// and from 64 channels (128 with AVX-512) the weight gradient too.
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
        // The products pad what they read (a padded copy from the buffer pool, or one image at a
        // time); backward pads the saved input again for the weight gradient. Keeping a padded
        // copy instead would hold a second version of every convolution's input (whose unpadded
        // self the graph keeps anyway) from forward to backward: about a third of ResNet-18's
        // activation memory.
        Tensor.convolutionForward(input: input, weight: kernel, bias: bias?.contiguousCopyIfNeeded(),
                                  geometry: geometry, into: result)
        let inputShape = input.shape, savedWeight = kernel.detach()
        let savedInput = input.detach()
        var inputs = [self, weight]
        if let bias { inputs.append(bias) }
        return Tensor.record(result, operation: "conv2d", inputs: inputs) { gradient, needs in
            let gradient = gradient.contiguousCopyIfNeeded()
            let context = ComputeContext.current
            let batch = inputShape[0], outChannels = savedWeight.shape[0]
            var inputGradient: Tensor?
            if needs[0] {
                let result = Tensor(uninitializedShape: inputShape)
                // With stride 1, dX is a convolution of dY with the flipped, transposed kernel
                // (padding k − 1 − p): the forward product, with its deep panels. Few input channels
                // would leave that product's tiles mostly empty; the column path serves them.
                if geometry.stride == 1 && geometry.channels >= 8 && geometry.kernelHeight == geometry.kernelWidth
                    && geometry.padding <= geometry.kernelHeight - 1 {
                    let flipped = Tensor.flippedTransposedKernel(savedWeight)
                    let transposedGeometry = ConvolutionGeometry(
                        channels: outChannels, height: geometry.outputHeight, width: geometry.outputWidth,
                        kernelHeight: geometry.kernelHeight, kernelWidth: geometry.kernelWidth, stride: 1,
                        padding: geometry.kernelHeight - 1 - geometry.padding)
                    BatchedConvolution.forward(
                        input: gradient.dataPointer, batch: batch, weight: flipped.dataPointer,
                        outChannels: geometry.channels, geometry: transposedGeometry, output: result.dataPointer,
                        context: context)
                } else {
                    BatchedConvolution.inputGradient(
                        outputGradient: gradient.dataPointer, weight: savedWeight.dataPointer, batch: batch,
                        outChannels: outChannels, geometry: geometry, into: result.dataPointer, context: context)
                }
                inputGradient = result
            }
            var weightGradient: Tensor?
            if needs[1] {
                let result = Tensor(uninitializedShape: savedWeight.shape)
                BatchedConvolution.weightGradient(
                    outputGradient: gradient.dataPointer, input: savedInput.dataPointer, batch: batch,
                    outChannels: outChannels, geometry: geometry, into: result.dataPointer, context: context)
                weightGradient = result
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
        let batch = input.shape[0], outChannels = weight.shape[0], positions = geometry.columnCount
        BatchedConvolution.forward(
            input: input.dataPointer, batch: batch, weight: weight.dataPointer, outChannels: outChannels,
            geometry: geometry, output: result.dataPointer, context: context)
        guard let bias else { return }
        let values = SendablePointer(bias.dataPointer), output = SendablePointer(result.dataPointer)
        ParallelLoop.forEachChunk(count: batch * outChannels, minimumChunk: 64, threads: context.threadCount) { planes in
            for plane in planes {
                let value = values.base[plane % outChannels]
                let destination = output.base + plane * positions
                for i in 0..<positions { destination[i] += value }
            }
        }
    }

    /// W'[c, o, ky, kx] = W[o, c, KH−1−ky, KW−1−kx]: the kernel of the transposed convolution.
    static func flippedTransposedKernel(_ weight: Tensor) -> Tensor {
        let outChannels = weight.shape[0], inChannels = weight.shape[1], kh = weight.shape[2], kw = weight.shape[3]
        let result = Tensor(uninitializedShape: [inChannels, outChannels, kh, kw])
        let source = weight.dataPointer, destination = result.dataPointer
        let taps = kh * kw
        // Written in order (c, then o): each source kernel is read whole, the output never strided.
        for c in 0..<inChannels {
            for o in 0..<outChannels {
                let from = source + (o * inChannels + c) * taps, to = destination + (c * outChannels + o) * taps
                for tap in 0..<taps { to[tap] = from[taps - 1 - tap] }
            }
        }
        return result
    }
}

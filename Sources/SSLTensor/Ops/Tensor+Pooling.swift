// MARK: - Pooling

extension Tensor {
    /// Max pooling over `[N, C, H, W]` with a square window (stride defaults to the window;
    /// padding counts as −∞). The gradient goes to the first maximum of each window.
    public func maxPool2d(kernelSize: Int, stride: Int? = nil, padding: Int = 0) -> Tensor {
        let geometry = poolingGeometry(kernelSize: kernelSize, stride: stride, padding: padding, operation: "maxPool2d")
        let input = contiguousCopyIfNeeded()
        let planes = shape[0] * shape[1]
        let outPlane = geometry.columnCount, inPlane = geometry.height * geometry.width
        let result = Tensor(uninitializedShape: [shape[0], shape[1], geometry.outputHeight, geometry.outputWidth])
        var argmax = [Int32](repeating: 0, count: planes * outPlane)
        let x = SendablePointer(input.dataPointer), y = SendablePointer(result.dataPointer)
        argmax.withUnsafeMutableBufferPointer { indices in
            guard let indexBase = indices.baseAddress else { return }
            let index = SendablePointer(indexBase)
            ParallelLoop.forEachChunk(count: planes, minimumChunk: 4, threads: ComputeContext.current.threadCount) { range in
                for plane in range {
                    let source = x.base + plane * inPlane
                    for oy in 0..<geometry.outputHeight {
                        for ox in 0..<geometry.outputWidth {
                            var best = -Float.infinity, bestIndex = -1
                            geometry.forEachWindowPosition(outputRow: oy, outputColumn: ox) { position in
                                let value = source[position]
                                if value > best || bestIndex < 0 || value.isNaN {
                                    best = value
                                    bestIndex = position
                                }
                            }
                            let o = plane * outPlane + oy * geometry.outputWidth + ox
                            y.base[o] = best
                            index.base[o] = Int32(bestIndex)
                        }
                    }
                }
            }
        }
        let inputShape = shape
        return Tensor.record(result, operation: "maxPool2d", inputs: [self]) { gradient, _ in
            let gradient = gradient.contiguousCopyIfNeeded()
            let inputGradient = Tensor.zeros(inputShape)
            let dy = gradient.dataPointer, dx = inputGradient.dataPointer
            for plane in 0..<planes {
                for o in 0..<outPlane {
                    let flat = plane * outPlane + o
                    dx[plane * inPlane + Int(argmax[flat])] += dy[flat]
                }
            }
            return [inputGradient]
        }
    }

    /// Average pooling over `[N, C, H, W]` with a square window (stride defaults to the
    /// window). Zero padding is counted in the average (PyTorch's `count_include_pad=True`).
    public func avgPool2d(kernelSize: Int, stride: Int? = nil, padding: Int = 0) -> Tensor {
        let geometry = poolingGeometry(kernelSize: kernelSize, stride: stride, padding: padding, operation: "avgPool2d")
        let input = contiguousCopyIfNeeded()
        let planes = shape[0] * shape[1]
        let outPlane = geometry.columnCount, inPlane = geometry.height * geometry.width
        let result = Tensor(uninitializedShape: [shape[0], shape[1], geometry.outputHeight, geometry.outputWidth])
        let scale = 1 / Float(kernelSize * kernelSize)
        let x = SendablePointer(input.dataPointer), y = SendablePointer(result.dataPointer)
        ParallelLoop.forEachChunk(count: planes, minimumChunk: 4, threads: ComputeContext.current.threadCount) { range in
            for plane in range {
                let source = x.base + plane * inPlane
                for oy in 0..<geometry.outputHeight {
                    for ox in 0..<geometry.outputWidth {
                        var total: Float = 0
                        geometry.forEachWindowPosition(outputRow: oy, outputColumn: ox) { total += source[$0] }
                        y.base[plane * outPlane + oy * geometry.outputWidth + ox] = total * scale
                    }
                }
            }
        }
        let inputShape = shape
        return Tensor.record(result, operation: "avgPool2d", inputs: [self]) { gradient, _ in
            let gradient = gradient.contiguousCopyIfNeeded()
            let inputGradient = Tensor.zeros(inputShape)
            let dy = gradient.dataPointer, dx = inputGradient.dataPointer
            for plane in 0..<planes {
                for oy in 0..<geometry.outputHeight {
                    for ox in 0..<geometry.outputWidth {
                        let share = dy[plane * outPlane + oy * geometry.outputWidth + ox] * scale
                        geometry.forEachWindowPosition(outputRow: oy, outputColumn: ox) { dx[plane * inPlane + $0] += share }
                    }
                }
            }
            return [inputGradient]
        }
    }

    /// Adaptive average pooling to 1×1: the mean over H and W, keeping `[N, C, 1, 1]`.
    public func adaptiveAvgPool2dToOne() -> Tensor {
        precondition(rank == 4, "adaptiveAvgPool2d: input must be [N, C, H, W], got \(shape)")
        return mean(axes: [2, 3], keepDims: true)
    }

    private func poolingGeometry(kernelSize: Int, stride: Int?, padding: Int, operation: String) -> ConvolutionGeometry {
        precondition(rank == 4, "\(operation): input must be [N, C, H, W], got \(shape)")
        let stride = stride ?? kernelSize
        precondition(kernelSize >= 1 && stride >= 1 && padding >= 0 && padding <= kernelSize / 2,
                     "\(operation): invalid kernel \(kernelSize), stride \(stride), padding \(padding) (padding must be at most half the kernel)")
        let geometry = ConvolutionGeometry(channels: shape[1], height: shape[2], width: shape[3],
                                           kernelHeight: kernelSize, kernelWidth: kernelSize,
                                           stride: stride, padding: padding)
        precondition(geometry.outputHeight > 0 && geometry.outputWidth > 0,
                     "\(operation): window \(kernelSize) does not fit input \(shape)")
        return geometry
    }
}

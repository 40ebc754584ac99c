// MARK: - Matrix products

extension Tensor {
    /// The matrix product of the last two axes, `op(self) · op(other)`, where `op` transposes
    /// when the flag is set. Leading (batch) axes must match, or `other` may be 2-D and shared
    /// by every batch entry.
    ///
    /// ```swift
    /// let y = x.matmul(weight, transposeOther: true)   // [N, in] · [out, in]ᵀ → [N, out]
    /// ```
    public func matmul(_ other: Tensor, transposeSelf: Bool = false, transposeOther: Bool = false) -> Tensor {
        precondition(rank >= 2 && other.rank >= 2,
                     "matmul: both operands need at least 2 dimensions, got \(shape) and \(other.shape)")
        let m = transposeSelf ? shape[rank - 1] : shape[rank - 2]
        let k = transposeSelf ? shape[rank - 2] : shape[rank - 1]
        let k2 = transposeOther ? other.shape[other.rank - 1] : other.shape[other.rank - 2]
        let n = transposeOther ? other.shape[other.rank - 2] : other.shape[other.rank - 1]
        precondition(k == k2,
                     "matmul: inner dimensions differ: \(shape)\(transposeSelf ? "ᵀ" : "") · \(other.shape)\(transposeOther ? "ᵀ" : "") (\(k) vs \(k2))")
        let batchShape = Array(shape.dropLast(2))
        let otherBatch = Array(other.shape.dropLast(2))
        precondition(otherBatch.isEmpty || otherBatch == batchShape,
                     "matmul: batch dimensions differ: \(shape) · \(other.shape) (the right operand must be 2-D or have batch shape \(batchShape))")
        if otherBatch.isEmpty && !batchShape.isEmpty {
            // A shared right operand: fold the batch into the rows when possible.
            if !transposeSelf {
                return reshape([-1, k]).matmul(other, transposeOther: transposeOther).reshape(batchShape + [m, n])
            }
            return matmul(other.expand(batchShape + other.shape), transposeSelf: true, transposeOther: transposeOther)
        }
        if rank == 2 && other.rank > 2 {
            return expand(otherBatch + shape).matmul(other, transposeSelf: transposeSelf, transposeOther: transposeOther)
        }
        let batch = batchShape.reduce(1, *)
        let result = Tensor(uninitializedShape: batchShape + [m, n])
        let (left, leftTransposed) = matrixLayout(transposeSelf)
        let (right, rightTransposed) = other.matrixLayout(transposeOther)
        let leftStride = m * k, rightStride = k * n
        let context = ComputeContext.current
        let perMatrixFlops = 2.0 * Double(m) * Double(n) * Double(k)
        // The layouts may be fresh copies: keep them alive until the products are done.
        defer { withExtendedLifetime((left, right)) {} }
        if batch == 1 || perMatrixFlops >= 3.0e6 {
            for index in 0..<batch {
                gemm(m: m, n: n, k: k,
                     a: .rowMajor(left.dataPointer + index * leftStride, columns: leftTransposed ? m : k, transposed: leftTransposed),
                     b: .rowMajor(right.dataPointer + index * rightStride, columns: rightTransposed ? k : n, transposed: rightTransposed),
                     c: result.dataPointer + index * m * n, ldc: n, context: context)
            }
        } else {
            let a = SendablePointer(left.dataPointer), b = SendablePointer(right.dataPointer)
            let c = SendablePointer(result.dataPointer)
            ParallelLoop.forEachChunk(count: batch, minimumChunk: 1, threads: context.threadCount) { range in
                for index in range {
                    gemm(m: m, n: n, k: k,
                         a: .rowMajor(a.base + index * leftStride, columns: leftTransposed ? m : k, transposed: leftTransposed),
                         b: .rowMajor(b.base + index * rightStride, columns: rightTransposed ? k : n, transposed: rightTransposed),
                         c: c.base + index * m * n, ldc: n, threads: 1, context: context)
                }
            }
        }
        let savedSelf = detach(), savedOther = other.detach()
        return Tensor.record(result, operation: "matmul", inputs: [self, other]) { gradient, needs in
            // With A' = op(A), B' = op(B): dA' = dC·B'ᵀ and dB' = A'ᵀ·dC; a transposed operand
            // takes the transpose of its rule, computed directly: dA = B'·dCᵀ, dB = dCᵀ·A'.
            let gradientSelf: Tensor? = !needs[0] ? nil
                : transposeSelf
                ? savedOther.matmul(gradient, transposeSelf: transposeOther, transposeOther: true)
                : gradient.matmul(savedOther, transposeOther: !transposeOther)
            let gradientOther: Tensor? = !needs[1] ? nil
                : transposeOther
                ? gradient.matmul(savedSelf, transposeSelf: true, transposeOther: transposeSelf)
                : savedSelf.matmul(gradient, transposeSelf: !transposeSelf)
            return [gradientSelf, gradientOther]
        }
    }

    /// `self · weightᵀ + bias` over the last axis (PyTorch's `F.linear`), with `weight`
    /// `[out, in]` and `bias` `[out]`: one GEMM that starts from the bias rows, so the bias costs
    /// no separate pass over the result.
    ///
    /// ```swift
    /// let y = x.linear(weight: w, bias: b)   // [N, in] → [N, out]
    /// ```
    public func linear(weight: Tensor, bias: Tensor?) -> Tensor {
        precondition(weight.rank == 2 && rank >= 1 && shape[rank - 1] == weight.shape[1],
                     "linear: input \(shape) does not end in the weight's input size (weight \(weight.shape))")
        let inputFeatures = weight.shape[1], outputFeatures = weight.shape[0]
        if let bias {
            precondition(bias.shape == [outputFeatures],
                         "linear: bias has shape \(bias.shape), expected [\(outputFeatures)] for weight \(weight.shape)")
        }
        if rank != 2 {
            let leading = Array(shape.dropLast())
            return reshape([-1, inputFeatures]).linear(weight: weight, bias: bias).reshape(leading + [outputFeatures])
        }
        let rows = shape[0]
        let result = Tensor(uninitializedShape: [rows, outputFeatures])
        if rows > 0 {
            if let bias {
                let biasValues = bias.contiguousCopyIfNeeded()
                let source = SendablePointer(biasValues.dataPointer), destination = SendablePointer(result.dataPointer)
                let rowsPerChunk = Swift.max(1, (1 << 14) / outputFeatures)
                withExtendedLifetime(biasValues) {
                    ParallelLoop.forEachChunk(count: rows, minimumChunk: rowsPerChunk,
                                              threads: ComputeContext.current.threadCount) { range in
                        for row in range {
                            copyFloats(from: source.base, to: destination.base + row * outputFeatures, count: outputFeatures)
                        }
                    }
                }
            }
            let (left, leftTransposed) = matrixLayout(false)
            let (right, rightTransposed) = weight.matrixLayout(true)
            // The layouts may be fresh copies: keep them alive until the product is done.
            withExtendedLifetime((left, right)) {
                gemm(m: rows, n: outputFeatures, k: inputFeatures,
                     a: .rowMajor(left.dataPointer, columns: leftTransposed ? rows : inputFeatures, transposed: leftTransposed),
                     b: .rowMajor(right.dataPointer, columns: rightTransposed ? inputFeatures : outputFeatures,
                                  transposed: rightTransposed),
                     beta: bias == nil ? 0 : 1, c: result.dataPointer, ldc: outputFeatures)
            }
        }
        let savedInput = detach(), savedWeight = weight.detach()
        let inputs = bias.map { [self, weight, $0] } ?? [self, weight]
        return Tensor.record(result, operation: "linear", inputs: inputs) { gradient, needs in
            let inputGradient = needs[0] ? gradient.matmul(savedWeight) : nil
            let weightGradient = needs[1] ? gradient.matmul(savedInput, transposeSelf: true) : nil
            let biasGradient = needs.count > 2 && needs[2] ? gradient.sum(axes: [0]) : nil
            return [inputGradient, weightGradient, biasGradient].prefix(needs.count).map { $0 }
        }
    }

    /// A contiguous tensor holding this one's matrices, and whether they are stored transposed
    /// relative to the requested operand (so transposed views need no copy).
    func matrixLayout(_ transposeRequested: Bool) -> (Tensor, Bool) {
        if isContiguous { return (self, transposeRequested) }
        // A transposed view of a contiguous tensor: swap the last two axes back.
        let swapped = transpose(rank - 2, rank - 1).detach()
        if swapped.isContiguous { return (swapped, !transposeRequested) }
        return (contiguousCopy(), transposeRequested)
    }
}

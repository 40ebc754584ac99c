import SSLTensor

// MARK: - Differentiable collectives

extension Communicator {
    /// Every rank's `tensor` concatenated along axis 0, rank after rank (`[N × b, …]` from
    /// `[b, …]` on each of N ranks), recorded for autograd: the backward pass sums the gathered
    /// gradient over the ranks and keeps this rank's slice, so a loss over the global batch
    /// differentiates into every rank's own activations. Every rank must pass the same shape.
    ///
    /// ```swift
    /// let all = communicator.allGather(z)     // negatives from the global batch
    /// ```
    public func allGather(_ tensor: Tensor) -> Tensor {
        guard worldSize > 1 else { return tensor }
        precondition(tensor.rank >= 1, "allGather(Tensor): needs at least one axis, got shape \(tensor.shape)")
        let local = tensor.shape[0]
        let outputShape = [local * worldSize] + tensor.shape.dropFirst()
        let output = noGrad { Tensor.zeros(outputShape) }
        tensor.withContiguousBuffer { input in
            output.withUnsafeMutableElements { allGather(input, into: $0) }
        }
        let rank = self.rank
        return Tensor.customOperation("allGather", inputs: [tensor], result: output) { [self] gradient, _ in
            let summed = allReduceSum(values: gradient)
            return [summed.slice(axis: 0, rank * local ..< (rank + 1) * local).contiguous()]
        }
    }

    /// The element-wise sum of every rank's `tensor` (same shape everywhere), recorded for
    /// autograd: the gradient of each rank's input is the sum over ranks of the output's
    /// gradient. SyncBatchNorm's global statistics are built on it.
    ///
    /// ```swift
    /// let total = communicator.allReduceSum(x.sum(axes: [0]))
    /// ```
    public func allReduceSum(_ tensor: Tensor) -> Tensor {
        guard worldSize > 1 else { return tensor }
        let output = allReduceSum(values: tensor)
        return Tensor.customOperation("allReduceSum", inputs: [tensor], result: output) { [self] gradient, _ in
            [allReduceSum(values: gradient)]
        }
    }

    /// A new tensor with the sum over ranks of `tensor`'s values (not recorded for autograd).
    public func allReduceSum(values tensor: Tensor) -> Tensor {
        let output = noGrad { tensor.contiguousCopy() }
        output.withUnsafeMutableElements { allReduce($0, .sum) }
        return output
    }

    // MARK: - In place (parameters, buffers)

    /// Replaces a contiguous tensor's values with rank `root`'s (weights at the start of a fit).
    public func broadcast(_ tensor: Tensor, root: Int = 0) {
        tensor.withUnsafeMutableElements { broadcast($0, root: root) }
    }
}

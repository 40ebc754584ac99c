extension Tensor {
    /// Records `result`, computed outside autograd (a collective over processes, a kernel of
    /// another library), as the output of an operation on `inputs`, with a hand-written backward
    /// rule: `backward` receives the output's gradient and which inputs need one, and returns one
    /// gradient per input (nil where not needed). `result` must be a fresh tensor not yet in a
    /// graph; the rule must capture only detached tensors. Under `noGrad`, or when no input
    /// requires grad, `result` is returned as it is. Every custom operation lands with a
    /// finite-difference gradient check.
    ///
    /// ```swift
    /// let doubled = Tensor.customOperation("double", inputs: [x], result: noGrad { x * 2 }) { g, _ in [g * 2] }
    /// ```
    public static func customOperation(
        _ name: String, inputs: [Tensor], result: Tensor,
        backward: @escaping (_ gradient: Tensor, _ needs: [Bool]) -> [Tensor?]
    ) -> Tensor {
        precondition(result.gradFn == nil && !result.requiresGrad,
                     "customOperation(\(name)): the result must be a fresh tensor outside any graph (use a detached or noGrad result)")
        return record(result, operation: name, inputs: inputs, backward: backward)
    }
}

/// Gradient-recording mode, scoped per task or thread.
public enum Autograd {
    /// Whether operations record the graph for `backward()`. Change it for a scope with
    /// `noGrad { … }` (or `Autograd.$isEnabled.withValue(false) { … }`).
    @TaskLocal public static var isEnabled: Bool = true
}

/// Runs `body` without recording operations for autograd (evaluation, EMA updates, metric
/// computation). Results created inside never require grad.
///
/// ```swift
/// let embedding = noGrad { encoder(images) }
/// ```
public func noGrad<Result>(_ body: () throws -> Result) rethrows -> Result {
    try Autograd.$isEnabled.withValue(false, operation: body)
}

extension Tensor {
    /// Records `result` as the output of `operation` on `inputs` when gradient recording is on
    /// and any input requires grad. `backward` receives the output gradient and returns one
    /// gradient per input (nil for inputs that need none, see `needs`). It must capture only
    /// detached tensors.
    @inline(__always)
    static func record(
        _ result: Tensor, operation: String, inputs: [Tensor],
        backward: @escaping (_ gradient: Tensor, _ needs: [Bool]) -> [Tensor?]
    ) -> Tensor {
        guard Autograd.isEnabled, inputs.contains(where: { $0.requiresGrad }) else { return result }
        let needs = inputs.map(\.requiresGrad)
        result.requiresGrad = true
        result.gradFn = AutogradNode(operation: operation, inputs: inputs) { gradient in
            backward(gradient, needs)
        }
        return result
    }

    /// Computes the gradient of this tensor with respect to every leaf that requires grad and
    /// adds it to their `grad` (gradients accumulate across calls until `zeroGrad`).
    ///
    /// - Parameters:
    ///   - gradient: the gradient of some scalar with respect to this tensor; defaults to 1
    ///     for a one-element tensor and is required otherwise.
    ///   - retainGraph: keep the graph so `backward` can run through it again.
    ///   - onLeafGradientReady: called with each leaf that requires grad as soon as the last
    ///     operation that feeds its gradient has run (its `grad` is final for this pass), in the
    ///     order backward reaches them: data-parallel training starts a gradient bucket's
    ///     all-reduce there, while backward goes on.
    public func backward(gradient: Tensor? = nil, retainGraph: Bool = false,
                         onLeafGradientReady: ((Tensor) -> Void)? = nil) {
        precondition(requiresGrad,
                     "backward(): tensor of shape \(shape) does not require grad (no leaf in its graph requires grad, or it was computed under noGrad)")
        let seed: Tensor
        if let gradient {
            precondition(gradient.shape == shape,
                         "backward(gradient:): gradient shape \(gradient.shape) differs from tensor shape \(shape)")
            seed = gradient
        } else {
            precondition(count == 1,
                         "backward(): tensor has shape \(shape); a non-scalar output needs backward(gradient:)")
            seed = Tensor.ones(shape)
        }
        noGrad {
            guard let root = gradFn else {
                accumulateGrad(seed)
                onLeafGradientReady?(self)
                return
            }
            let order = Tensor.topologicalOrder(from: root)
            let readyLeaves = onLeafGradientReady.map { _ in Tensor.leavesByLastUse(in: order) } ?? [:]
            var pendingGradients: [ObjectIdentifier: Tensor] = [ObjectIdentifier(root): seed]
            for (position, node) in order.enumerated() {
                defer {
                    if let onLeafGradientReady, let leaves = readyLeaves[position] { leaves.forEach(onLeafGradientReady) }
                }
                guard let outputGradient = pendingGradients.removeValue(forKey: ObjectIdentifier(node)) else {
                    continue
                }
                guard let rule = node.backwardRule else {
                    preconditionFailure(
                        "backward(): the graph through '\(node.operation)' was already freed by an earlier backward(); pass retainGraph: true to run backward twice")
                }
                let inputGradients = rule(outputGradient)
                precondition(inputGradients.count == node.inputs.count,
                             "backward(): '\(node.operation)' returned \(inputGradients.count) gradients for \(node.inputs.count) inputs")
                for (input, inputGradient) in zip(node.inputs, inputGradients) {
                    guard input.requiresGrad, let inputGradient else { continue }
                    precondition(inputGradient.shape == input.shape,
                                 "backward(): '\(node.operation)' produced a gradient of shape \(inputGradient.shape) for an input of shape \(input.shape)")
                    if let producer = input.gradFn {
                        let key = ObjectIdentifier(producer)
                        if let existing = pendingGradients[key] {
                            pendingGradients[key] = existing + inputGradient
                        } else {
                            pendingGradients[key] = inputGradient
                        }
                    } else {
                        input.accumulateGrad(inputGradient)
                    }
                }
                if !retainGraph { node.release() }
            }
        }
    }

    /// The leaves that require grad, keyed by the position in `order` of the last node that
    /// feeds them (after which their gradient is complete).
    static func leavesByLastUse(in order: [AutogradNode]) -> [Int: [Tensor]] {
        var lastUse: [ObjectIdentifier: (position: Int, leaf: Tensor)] = [:]
        for (position, node) in order.enumerated() {
            for input in node.inputs where input.requiresGrad && input.gradFn == nil {
                lastUse[ObjectIdentifier(input)] = (position, input)
            }
        }
        var result: [Int: [Tensor]] = [:]
        for (_, entry) in lastUse { result[entry.position, default: []].append(entry.leaf) }
        return result
    }

    /// Adds `gradient` into `grad`, copying it first so `grad` never aliases another tensor.
    func accumulateGrad(_ gradient: Tensor) {
        if let existing = grad {
            existing.addInPlace(gradient)
        } else {
            grad = gradient.contiguousCopy()
        }
    }

    /// Nodes reachable from `root`, each after every node that consumes its output (an
    /// iterative depth-first post-order, reversed).
    static func topologicalOrder(from root: AutogradNode) -> [AutogradNode] {
        var postOrder: [AutogradNode] = []
        var visited: Set<ObjectIdentifier> = [ObjectIdentifier(root)]
        var stack: [(node: AutogradNode, nextInput: Int)] = [(root, 0)]
        while !stack.isEmpty {
            let top = stack.count - 1
            let node = stack[top].node
            let index = stack[top].nextInput
            if index < node.inputs.count {
                stack[top].nextInput = index + 1
                if let producer = node.inputs[index].gradFn,
                   visited.insert(ObjectIdentifier(producer)).inserted {
                    stack.append((producer, 0))
                }
            } else {
                postOrder.append(node)
                stack.removeLast()
            }
        }
        return postOrder.reversed()
    }
}

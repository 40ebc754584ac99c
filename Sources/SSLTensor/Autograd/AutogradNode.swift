/// One recorded operation: the inputs that gradients flow to and the rule that maps the
/// gradient of the output to gradients of the inputs.
///
/// The rule's closure captures only detached tensors (no graph references), so releasing a
/// graph never recurses through closures; `dismantle` releases node chains iteratively.
final class AutogradNode {
    /// The operation's name, for error messages.
    let operation: String
    /// The inputs, in the order the backward rule returns their gradients.
    private(set) var inputs: [Tensor]
    /// Maps the output's gradient to one gradient per input (nil when not needed).
    private(set) var backwardRule: ((Tensor) -> [Tensor?])?

    init(operation: String, inputs: [Tensor], backward: @escaping (Tensor) -> [Tensor?]) {
        self.operation = operation
        self.inputs = inputs
        self.backwardRule = backward
    }

    /// Frees the saved tensors and input references (after a backward pass without
    /// `retainGraph`).
    func release() {
        backwardRule = nil
        inputs = []
    }

    deinit {
        guard !inputs.isEmpty else { return }
        var inputs = self.inputs
        self.inputs = []
        var pending: [AutogradNode] = []
        AutogradNode.detachUniqueInputs(&inputs, into: &pending)
        for node in pending { AutogradNode.dismantle(node) }
    }

    /// Releases a node and every node reachable only through it, iteratively.
    static func dismantle(_ root: AutogradNode) {
        var pending: [AutogradNode] = [root]
        while var node = pending.popLast() {
            guard isKnownUniquelyReferenced(&node) else { continue }
            var inputs = node.inputs
            node.inputs = []
            node.backwardRule = nil
            detachUniqueInputs(&inputs, into: &pending)
        }
    }

    /// For each input about to be freed (held only by `inputs`), moves its producing node to
    /// `pending` (or dismantles it) so its release does not recurse.
    private static func detachUniqueInputs(_ inputs: inout [Tensor], into pending: inout [AutogradNode]) {
        for index in inputs.indices where isKnownUniquelyReferenced(&inputs[index]) {
            if let node = inputs[index].gradFn {
                inputs[index].gradFn = nil
                pending.append(node)
            }
        }
    }
}

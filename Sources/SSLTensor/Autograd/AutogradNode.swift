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
        // Release a long graph without recursion: a chain of 100k nodes would otherwise
        // release node → input tensor → node … on the stack. Producers of inputs that die
        // with this node are moved to a work list and released one at a time, each with its
        // inputs already taken, so no release goes deeper than one level.
        guard !inputs.isEmpty else { return }
        var pending: [AutogradNode] = []
        AutogradNode.takeProducersOfDyingInputs(&inputs, into: &pending)
        inputs = []
        while var node = pending.popLast() {
            guard isKnownUniquelyReferenced(&node) else { continue }
            node.backwardRule = nil
            AutogradNode.takeProducersOfDyingInputs(&node.inputs, into: &pending)
            node.inputs = []
        }
    }

    /// For each input held only by `inputs` (so about to be freed), moves its producing node
    /// into `pending`.
    private static func takeProducersOfDyingInputs(_ inputs: inout [Tensor], into pending: inout [AutogradNode]) {
        for index in inputs.indices where isKnownUniquelyReferenced(&inputs[index]) {
            if let node = inputs[index].gradFn {
                inputs[index].gradFn = nil
                pending.append(node)
            }
        }
    }
}

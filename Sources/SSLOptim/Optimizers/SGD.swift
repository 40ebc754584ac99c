import SSLTensor

/// Stochastic gradient descent with momentum, dampening, Nesterov momentum and (L2) weight
/// decay, exactly as PyTorch's `torch.optim.SGD`:
/// d = g + λp; b = μb + (1 − τ)d (b = d on the first step); d = d + μb (Nesterov) or b;
/// p ← p − η·d.
///
/// ```swift
/// let optimizer = SGD(model.namedParameters(), learningRate: 0.1, momentum: 0.9)
/// ```
public final class SGD: GroupedOptimizer<SGD.Options> {
    public struct Options: OptimizerOptions {
        public var learningRate: Float
        public var momentum: Float
        public var dampening: Float
        public var weightDecay: Float
        public var nesterov: Bool
        public init(learningRate: Float, momentum: Float = 0, dampening: Float = 0, weightDecay: Float = 0, nesterov: Bool = false) {
            precondition(learningRate >= 0 && momentum >= 0 && weightDecay >= 0,
                         "SGD: invalid options lr \(learningRate) momentum \(momentum) weight decay \(weightDecay)")
            precondition(!nesterov || (momentum > 0 && dampening == 0),
                         "SGD: Nesterov momentum requires momentum > 0 and zero dampening")
            self.learningRate = learningRate
            self.momentum = momentum
            self.dampening = dampening
            self.weightDecay = weightDecay
            self.nesterov = nesterov
        }
    }

    public init(_ parameters: [(name: String, tensor: Tensor)], learningRate: Float, momentum: Float = 0,
                dampening: Float = 0, weightDecay: Float = 0, nesterov: Bool = false,
                groups: [ParameterGroupRule<Options>] = []) {
        super.init(parameters, defaults: Options(learningRate: learningRate, momentum: momentum, dampening: dampening,
                                                 weightDecay: weightDecay, nesterov: nesterov), groups: groups)
    }

    public override func update(parameter: Tensor, gradient: Tensor, state: inout [String: Tensor],
                                options: Options, step: Int, name: String) {
        let lr = options.learningRate, mu = options.momentum, wd = options.weightDecay
        let dampening = options.dampening, nesterov = options.nesterov
        let buffer = mu != 0 ? slot("momentum_buffer", in: &state, like: parameter) : nil
        gradient.withContiguousBuffer { g in
            parameter.withUnsafeMutableElements { p in
                if let (bufferTensor, isNew) = buffer {
                    bufferTensor.withUnsafeMutableElements { b in
                        for i in 0..<p.count {
                            let d = g[i] + wd * p[i]
                            let updated = isNew ? d : mu * b[i] + (1 - dampening) * d
                            b[i] = updated
                            let direction = nesterov ? d + mu * updated : updated
                            p[i] -= lr * direction
                        }
                    }
                } else {
                    for i in 0..<p.count { p[i] -= lr * (g[i] + wd * p[i]) }
                }
            }
        }
    }
}

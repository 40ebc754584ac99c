import SSLTensor

/// LARS, layer-wise adaptive rate scaling, as used for SimCLR and BYOL (the form of solo-learn
/// and lightly): for a parameter p with gradient g that is not excluded,
/// local = η_trust·‖p‖ / (‖g‖ + λ‖p‖ + ε) (when both norms are non-zero) and
/// d = (g + λp)·local; excluded parameters (by default every rank-1 one: biases and
/// normalisation weights) get neither weight decay nor adaptation, d = g. Then SGD momentum
/// without dampening: b = μb + d (b = d first), p ← p − η·b.
/// [You et al. 2017](https://arxiv.org/abs/1708.03888)
///
/// ```swift
/// let optimizer = LARS(model.namedParameters(), learningRate: 0.3, weightDecay: 1e-6)
/// ```
public final class LARS: GroupedOptimizer<LARS.Options> {
    public struct Options: OptimizerOptions {
        public var learningRate: Float
        public var momentum: Float
        public var weightDecay: Float
        public var trustCoefficient: Float
        public var eps: Float
        public init(learningRate: Float, momentum: Float = 0.9, weightDecay: Float = 0, trustCoefficient: Float = 1e-3, eps: Float = 1e-8) {
            precondition(learningRate >= 0 && momentum >= 0 && weightDecay >= 0 && trustCoefficient > 0,
                         "LARS: invalid options lr \(learningRate) momentum \(momentum) weight decay \(weightDecay) trust \(trustCoefficient)")
            self.learningRate = learningRate
            self.momentum = momentum
            self.weightDecay = weightDecay
            self.trustCoefficient = trustCoefficient
            self.eps = eps
        }
    }

    /// Decides which parameters skip adaptation and weight decay.
    public let isExcluded: (String, Tensor) -> Bool

    public init(_ parameters: [(name: String, tensor: Tensor)], learningRate: Float, momentum: Float = 0.9,
                weightDecay: Float = 0, trustCoefficient: Float = 1e-3, eps: Float = 1e-8,
                excluding isExcluded: @escaping (String, Tensor) -> Bool = { _, tensor in tensor.rank <= 1 },
                groups: [ParameterGroupRule<Options>] = []) {
        self.isExcluded = isExcluded
        super.init(parameters, defaults: Options(learningRate: learningRate, momentum: momentum, weightDecay: weightDecay,
                                                 trustCoefficient: trustCoefficient, eps: eps), groups: groups)
    }

    public override func update(parameter: Tensor, gradient: Tensor, state: inout [String: Tensor],
                                options: Options, step: Int, name: String) {
        let lr = options.learningRate, mu = options.momentum, wd = options.weightDecay
        var scale: Float = 1
        var decay: Float = 0
        if !isExcluded(name, parameter) {
            let parameterNorm = Self.norm(parameter), gradientNorm = Self.norm(gradient)
            if parameterNorm != 0 && gradientNorm != 0 {
                let denominator = Double(gradientNorm) + Double(wd) * Double(parameterNorm) + Double(options.eps)
                scale = Float(Double(options.trustCoefficient) * Double(parameterNorm) / denominator)
                decay = wd
            }
        }
        let (buffer, isNew) = slot("momentum_buffer", in: &state, like: parameter)
        gradient.withContiguousBuffer { g in
            parameter.withUnsafeMutableElements { p in
                buffer.withUnsafeMutableElements { b in
                    for i in 0..<p.count {
                        let d = (g[i] + decay * p[i]) * scale
                        let updated = isNew || mu == 0 ? d : mu * b[i] + d
                        b[i] = updated
                        p[i] -= lr * updated
                    }
                }
            }
        }
    }

    static func norm(_ tensor: Tensor) -> Float {
        tensor.withContiguousBuffer { values in
            var total: Double = 0
            for value in values { total += Double(value) * Double(value) }
            return Float(total.squareRoot())
        }
    }
}

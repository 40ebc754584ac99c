import SSLTensor

/// Adam, as PyTorch's `torch.optim.Adam` (weight decay added to the gradient, L2 style) or, with
/// `decoupledWeightDecay`, AdamW's rule p ← p·(1 − ηλ) before the Adam step.
/// m = β₁m + (1 − β₁)g; v = β₂v + (1 − β₂)g²; p ← p − η/(1 − β₁ᵗ) · m / (√v/√(1 − β₂ᵗ) + ε).
/// [Kingma & Ba 2015](https://arxiv.org/abs/1412.6980)
///
/// ```swift
/// let optimizer = Adam(model.namedParameters(), learningRate: 1e-3)
/// ```
public class Adam: GroupedOptimizer<Adam.Options> {
    public struct Options: OptimizerOptions {
        public var learningRate: Float
        public var beta1: Float
        public var beta2: Float
        public var eps: Float
        public var weightDecay: Float
        public init(learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999, eps: Float = 1e-8, weightDecay: Float = 0) {
            precondition(learningRate >= 0 && (0..<1).contains(beta1) && (0..<1).contains(beta2) && eps >= 0 && weightDecay >= 0,
                         "Adam: invalid options lr \(learningRate) betas (\(beta1), \(beta2)) eps \(eps) weight decay \(weightDecay)")
            self.learningRate = learningRate
            self.beta1 = beta1
            self.beta2 = beta2
            self.eps = eps
            self.weightDecay = weightDecay
        }
    }

    /// Whether weight decay is decoupled (AdamW) rather than added to the gradient.
    public let decoupledWeightDecay: Bool

    public init(_ parameters: [(name: String, tensor: Tensor)], learningRate: Float = 1e-3, beta1: Float = 0.9,
                beta2: Float = 0.999, eps: Float = 1e-8, weightDecay: Float = 0,
                groups: [ParameterGroupRule<Options>] = []) {
        decoupledWeightDecay = false
        super.init(parameters, defaults: Options(learningRate: learningRate, beta1: beta1, beta2: beta2, eps: eps,
                                                 weightDecay: weightDecay), groups: groups)
    }

    init(_ parameters: [(name: String, tensor: Tensor)], defaults: Options, groups: [ParameterGroupRule<Options>],
         decoupledWeightDecay: Bool) {
        self.decoupledWeightDecay = decoupledWeightDecay
        super.init(parameters, defaults: defaults, groups: groups)
    }

    public override func update(parameter: Tensor, gradient: Tensor, state: inout [String: Tensor],
                                options: Options, step: Int, name: String) {
        let firstMoment = slot("exp_avg", in: &state, like: parameter).tensor
        let secondMoment = slot("exp_avg_sq", in: &state, like: parameter).tensor
        let lr = options.learningRate, b1 = options.beta1, b2 = options.beta2, eps = options.eps
        let wd = options.weightDecay, decoupled = decoupledWeightDecay
        let correction1 = 1 - Float(_pow(Double(b1), Double(step)))
        let correction2 = 1 - Float(_pow(Double(b2), Double(step)))
        let stepSize = lr / correction1
        let correction2Root = correction2.squareRoot()
        let decay = 1 - lr * wd
        gradient.withContiguousBuffer { gradientBuffer in
            parameter.withUnsafeMutableElements { parameterBuffer in
                firstMoment.withUnsafeMutableElements { firstBuffer in
                    secondMoment.withUnsafeMutableElements { secondBuffer in
                        guard let gradientBase = gradientBuffer.baseAddress, let parameterBase = parameterBuffer.baseAddress,
                              let firstBase = firstBuffer.baseAddress, let secondBase = secondBuffer.baseAddress else { return }
                        let g = UnsafeSendablePointer(gradientBase), p = UnsafeSendablePointer(parameterBase)
                        let m = UnsafeSendablePointer(firstBase), v = UnsafeSendablePointer(secondBase)
                        Parallel.forEachChunk(count: parameterBuffer.count, minimumChunk: 1 << 15) { range in
                            Adam.step(range, g: g.base, p: p.base, m: m.base, v: v.base, beta1: b1, beta2: b2, eps: eps,
                                      decoupledDecay: decoupled ? decay : nil, weightDecay: decoupled ? 0 : wd,
                                      stepSize: stepSize, correction2Root: correction2Root)
                        }
                    }
                }
            }
        }
    }
}

extension Adam {
    /// One Adam update over `range`, eight lanes at a time (the same operations, in the same
    /// order per element, as the scalar tail).
    @inline(__always)
    static func step(
        _ range: Range<Int>, g: UnsafeMutablePointer<Float>, p: UnsafeMutablePointer<Float>,
        m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, beta1 b1: Float, beta2 b2: Float, eps: Float,
        decoupledDecay: Float?, weightDecay wd: Float, stepSize: Float, correction2Root: Float
    ) {
        typealias Lanes = SIMD8<Float>
        var i = range.lowerBound
        let decay = decoupledDecay ?? 1
        let rawG = UnsafeRawPointer(g), rawP = UnsafeMutableRawPointer(p)
        let rawM = UnsafeMutableRawPointer(m), rawV = UnsafeMutableRawPointer(v)
        while i &+ 8 <= range.upperBound {
            let offset = i &* 4
            var gi = rawG.loadUnaligned(fromByteOffset: offset, as: Lanes.self)
            var pi = rawP.loadUnaligned(fromByteOffset: offset, as: Lanes.self)
            if decoupledDecay != nil { pi *= decay } else { gi += wd * pi }
            let mi = b1 * rawM.loadUnaligned(fromByteOffset: offset, as: Lanes.self) + (1 - b1) * gi
            let vi = b2 * rawV.loadUnaligned(fromByteOffset: offset, as: Lanes.self) + (1 - b2) * gi * gi
            rawM.storeBytes(of: mi, toByteOffset: offset, as: Lanes.self)
            rawV.storeBytes(of: vi, toByteOffset: offset, as: Lanes.self)
            let denominator = vi.squareRoot() / correction2Root + eps
            pi -= stepSize * mi / denominator
            rawP.storeBytes(of: pi, toByteOffset: offset, as: Lanes.self)
            i &+= 8
        }
        while i < range.upperBound {
            var gi = g[i]
            if decoupledDecay != nil { p[i] *= decay } else { gi += wd * p[i] }
            let mi = b1 * m[i] + (1 - b1) * gi
            let vi = b2 * v[i] + (1 - b2) * gi * gi
            m[i] = mi
            v[i] = vi
            let denominator = vi.squareRoot() / correction2Root + eps
            p[i] -= stepSize * mi / denominator
            i &+= 1
        }
    }
}

/// AdamW: Adam with decoupled weight decay, PyTorch's defaults (lr 1e-3, betas 0.9/0.999,
/// eps 1e-8, weight decay 1e-2). [Loshchilov & Hutter 2019](https://arxiv.org/abs/1711.05101)
///
/// ```swift
/// let optimizer = AdamW(model.namedParameters(), learningRate: 2e-3, weightDecay: 1e-4)
/// ```
public final class AdamW: Adam {
    public override init(_ parameters: [(name: String, tensor: Tensor)], learningRate: Float = 1e-3, beta1: Float = 0.9,
                beta2: Float = 0.999, eps: Float = 1e-8, weightDecay: Float = 1e-2,
                groups: [ParameterGroupRule<Adam.Options>] = []) {
        super.init(parameters, defaults: Options(learningRate: learningRate, beta1: beta1, beta2: beta2, eps: eps,
                                                 weightDecay: weightDecay),
                   groups: groups, decoupledWeightDecay: true)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@inline(__always) func _pow(_ x: Double, _ y: Double) -> Double { pow(x, y) }

// MARK: - Unary math and activations

extension Tensor {
    /// eˣ elementwise.
    public func exp() -> Tensor {
        let result = mapElements { _expf($0) }
        let saved = result.detach()
        return Tensor.record(result, operation: "exp", inputs: [self]) { gradient, _ in [gradient * saved] }
    }

    /// Natural logarithm elementwise.
    public func log() -> Tensor {
        let result = mapElements { _logf($0) }
        let saved = detach()
        return Tensor.record(result, operation: "log", inputs: [self]) { gradient, _ in [gradient / saved] }
    }

    /// Square root elementwise.
    public func sqrt() -> Tensor {
        let result = mapElements { $0.squareRoot() }
        let saved = result.detach()
        return Tensor.record(result, operation: "sqrt", inputs: [self]) { gradient, _ in
            [Tensor.zipElements(gradient, saved, operation: "sqrt backward") { $0 * 0.5 / $1 }]
        }
    }

    /// 1/√x elementwise.
    public func rsqrt() -> Tensor {
        let result = mapElements { 1 / $0.squareRoot() }
        let saved = result.detach()
        return Tensor.record(result, operation: "rsqrt", inputs: [self]) { gradient, _ in
            [Tensor.zipElements(gradient, saved, operation: "rsqrt backward") { $0 * -0.5 * $1 * $1 * $1 }]
        }
    }

    /// xᵖ elementwise for a scalar exponent.
    public func pow(_ exponent: Float) -> Tensor {
        let result: Tensor
        if exponent == 2 {
            result = mapElements { $0 * $0 }
        } else {
            result = mapElements { _powf($0, exponent) }
        }
        let saved = detach()
        return Tensor.record(result, operation: "pow", inputs: [self]) { gradient, _ in
            if exponent == 2 {
                return [Tensor.zipElements(gradient, saved, operation: "pow backward") { $0 * 2 * $1 }]
            }
            return [Tensor.zipElements(gradient, saved, operation: "pow backward") {
                $0 * exponent * _powf($1, exponent - 1)
            }]
        }
    }

    /// |x| elementwise (gradient sign(x), 0 at 0).
    public func abs() -> Tensor {
        let result = mapElements { Swift.abs($0) }
        let saved = detach()
        return Tensor.record(result, operation: "abs", inputs: [self]) { gradient, _ in
            [Tensor.zipElements(gradient, saved, operation: "abs backward") { $1 > 0 ? $0 : ($1 < 0 ? -$0 : 0) }]
        }
    }

    /// Limits values to [min, max] (either bound optional). The gradient passes where
    /// min ≤ x ≤ max, as in PyTorch.
    public func clamp(min lower: Float? = nil, max upper: Float? = nil) -> Tensor {
        let low = lower ?? -Float.infinity, high = upper ?? Float.infinity
        precondition(low <= high, "clamp: min \(low) is greater than max \(high)")
        let result = mapElements { Swift.min(Swift.max($0, low), high) }
        let saved = detach()
        return Tensor.record(result, operation: "clamp", inputs: [self]) { gradient, _ in
            [Tensor.zipElements(gradient, saved, operation: "clamp backward") { $1 >= low && $1 <= high ? $0 : 0 }]
        }
    }

    /// Swift.max(x, 0).
    public func relu() -> Tensor {
        let result = mapElements { $0 > 0 ? $0 : 0 }
        let saved = result.detach()
        return Tensor.record(result, operation: "relu", inputs: [self]) { gradient, _ in
            [Tensor.zipElements(gradient, saved, operation: "relu backward") { $1 > 0 ? $0 : 0 }]
        }
    }

    /// GELU, the exact form x·Φ(x) with Φ the standard normal CDF (PyTorch's default).
    /// [Hendrycks & Gimpel 2016](https://arxiv.org/abs/1606.08415)
    public func gelu() -> Tensor {
        let result = mapElements { x in 0.5 * x * (1 + _erff(x * 0.70710678118654752)) }
        let saved = detach()
        return Tensor.record(result, operation: "gelu", inputs: [self]) { gradient, _ in
            [Tensor.zipElements(gradient, saved, operation: "gelu backward") { g, x in
                let cdf: Float = 0.5 * (1 + _erff(x * 0.70710678118654752))
                let pdf: Float = _expf(-0.5 * x * x) * 0.39894228040143268
                return g * (cdf + x * pdf)
            }]
        }
    }

    /// 1 / (1 + e⁻ˣ).
    public func sigmoid() -> Tensor {
        let result = mapElements { x in
            x >= 0 ? 1 / (1 + _expf(-x)) : _expf(x) / (1 + _expf(x))
        }
        let saved = result.detach()
        return Tensor.record(result, operation: "sigmoid", inputs: [self]) { gradient, _ in
            [Tensor.zipElements(gradient, saved, operation: "sigmoid backward") { $0 * $1 * (1 - $1) }]
        }
    }

    /// Hyperbolic tangent.
    public func tanh() -> Tensor {
        let result = mapElements { _tanhf($0) }
        let saved = result.detach()
        return Tensor.record(result, operation: "tanh", inputs: [self]) { gradient, _ in
            [Tensor.zipElements(gradient, saved, operation: "tanh backward") { $0 * (1 - $1 * $1) }]
        }
    }

    /// log(1 + eˣ), linear above `threshold` (20, as PyTorch's default with beta 1).
    public func softplus(threshold: Float = 20) -> Tensor {
        let result = mapElements { x in x > threshold ? x : _log1pf(_expf(x)) }
        let saved = detach()
        return Tensor.record(result, operation: "softplus", inputs: [self]) { gradient, _ in
            [Tensor.zipElements(gradient, saved, operation: "softplus backward") { g, x in
                x > threshold ? g : g / (1 + _expf(-x))
            }]
        }
    }
}

// MARK: - Unary math and activations

extension Tensor {
    /// eˣ elementwise (a vectorised polynomial, relative error below 2·10⁻⁷).
    public func exp() -> Tensor {
        let result = mapElements(Elementwise.Exp())
        let saved = result.detach()
        return Tensor.record(result, operation: "exp", inputs: [self]) { gradient, _ in [gradient * saved] }
    }

    /// Natural logarithm elementwise.
    public func log() -> Tensor {
        let result = mapElements(Elementwise.Log())
        let saved = detach()
        return Tensor.record(result, operation: "log", inputs: [self]) { gradient, _ in [gradient / saved] }
    }

    /// Square root elementwise.
    public func sqrt() -> Tensor {
        let result = mapElements(Elementwise.SquareRoot())
        let saved = result.detach()
        return Tensor.record(result, operation: "sqrt", inputs: [self]) { gradient, _ in
            [Tensor.zipElements(gradient, saved, operation: "sqrt backward", Elementwise.SquareRootGradient())]
        }
    }

    /// 1/√x elementwise.
    public func rsqrt() -> Tensor {
        let result = mapElements(Elementwise.ReciprocalSquareRoot())
        let saved = result.detach()
        return Tensor.record(result, operation: "rsqrt", inputs: [self]) { gradient, _ in
            [Tensor.zipElements(gradient, saved, operation: "rsqrt backward", Elementwise.ReciprocalSquareRootGradient())]
        }
    }

    /// xᵖ elementwise for a scalar exponent.
    public func pow(_ exponent: Float) -> Tensor {
        let result = exponent == 2 ? mapElements(Elementwise.Square()) : mapElements(Elementwise.Power(exponent: exponent))
        let saved = detach()
        return Tensor.record(result, operation: "pow", inputs: [self]) { gradient, _ in
            exponent == 2
                ? [Tensor.zipElements(gradient, saved, operation: "pow backward", Elementwise.SquareGradient())]
                : [Tensor.zipElements(gradient, saved, operation: "pow backward", Elementwise.PowerGradient(exponent: exponent))]
        }
    }

    /// |x| elementwise (gradient sign(x), 0 at 0).
    public func abs() -> Tensor {
        let result = mapElements(Elementwise.Absolute())
        let saved = detach()
        return Tensor.record(result, operation: "abs", inputs: [self]) { gradient, _ in
            [Tensor.zipElements(gradient, saved, operation: "abs backward", Elementwise.AbsoluteGradient())]
        }
    }

    /// Limits values to [min, max] (either bound optional). The gradient passes where
    /// min ≤ x ≤ max, as in PyTorch.
    public func clamp(min lower: Float? = nil, max upper: Float? = nil) -> Tensor {
        let low = lower ?? -Float.infinity, high = upper ?? Float.infinity
        precondition(low <= high, "clamp: min \(low) is greater than max \(high)")
        let result = mapElements(Elementwise.Clamp(low: low, high: high))
        let saved = detach()
        return Tensor.record(result, operation: "clamp", inputs: [self]) { gradient, _ in
            [Tensor.zipElements(gradient, saved, operation: "clamp backward", Elementwise.ClampGradient(low: low, high: high))]
        }
    }

    /// max(x, 0).
    public func relu() -> Tensor {
        let result = mapElements(Elementwise.ReLU())
        let saved = result.detach()
        return Tensor.record(result, operation: "relu", inputs: [self]) { gradient, _ in
            [Tensor.zipElements(gradient, saved, operation: "relu backward", Elementwise.PositiveMask())]
        }
    }

    /// GELU, the exact form x·Φ(x) with Φ the standard normal CDF (PyTorch's default).
    /// [Hendrycks & Gimpel 2016](https://arxiv.org/abs/1606.08415)
    public func gelu() -> Tensor {
        let result = mapElements(Elementwise.GELU())
        let saved = detach()
        return Tensor.record(result, operation: "gelu", inputs: [self]) { gradient, _ in
            [Tensor.zipElements(gradient, saved, operation: "gelu backward", Elementwise.GELUGradient())]
        }
    }

    /// 1 / (1 + e⁻ˣ).
    public func sigmoid() -> Tensor {
        let result = mapElements(Elementwise.Sigmoid())
        let saved = result.detach()
        return Tensor.record(result, operation: "sigmoid", inputs: [self]) { gradient, _ in
            [Tensor.zipElements(gradient, saved, operation: "sigmoid backward", Elementwise.SigmoidGradient())]
        }
    }

    /// Hyperbolic tangent.
    public func tanh() -> Tensor {
        let result = mapElements(Elementwise.Tanh())
        let saved = result.detach()
        return Tensor.record(result, operation: "tanh", inputs: [self]) { gradient, _ in
            [Tensor.zipElements(gradient, saved, operation: "tanh backward", Elementwise.TanhGradient())]
        }
    }

    /// log(1 + eˣ), linear above `threshold` (20, as PyTorch's default with beta 1).
    public func softplus(threshold: Float = 20) -> Tensor {
        let result = mapElements(Elementwise.Softplus(threshold: threshold))
        let saved = detach()
        return Tensor.record(result, operation: "softplus", inputs: [self]) { gradient, _ in
            [Tensor.zipElements(gradient, saved, operation: "softplus backward", Elementwise.SoftplusGradient(threshold: threshold))]
        }
    }
}

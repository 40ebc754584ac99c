// The elementwise rules of the primitive ops, as small function types. The kernels are generic
// over them, so each op gets its own specialised loop with the rule inlined and vectorised
// (a closure captured by the parallel loop body would be called once per element).

/// A function of one element.
protocol UnaryFunction: Sendable {
    func callAsFunction(_ x: Float) -> Float
}

/// A function of two elements (after broadcasting).
protocol BinaryFunction: Sendable {
    func callAsFunction(_ a: Float, _ b: Float) -> Float
}

/// eˣ for Float in plain arithmetic (no library call), so loops over it vectorise. Cephes'
/// `expf` scheme: n = round(x·log₂e), r = x − n·ln2 (in two parts), a degree-6 polynomial,
/// times 2ⁿ. Relative error below 2·10⁻⁷ on [−87.3, 88.3]; +∞ above, 0 below (no
/// subnormals), NaN stays NaN.
@inline(__always)
func fastExp(_ x: Float) -> Float {
    let clamped = Swift.min(Swift.max(x, -87.33654), 88.37626)
    // Adding 1.5·2²³ rounds to an integer held in the low mantissa bits.
    let shifted = clamped * 1.44269504088896341 + 12_582_912.0
    let n = shifted - 12_582_912.0
    let r = (clamped - n * 0.693359375) + n * 2.12194440e-4
    var p: Float = 1.9875691500e-4
    p = p * r + 1.3981999507e-3
    p = p * r + 8.3334519073e-3
    p = p * r + 4.1665795894e-2
    p = p * r + 1.6666665459e-1
    p = p * r + 5.0000001201e-1
    let polynomial = p * (r * r) + r + 1
    let exponent = Int32(bitPattern: shifted.bitPattern) &- 0x4B40_0000 &+ 127
    let scale = Float(bitPattern: UInt32(bitPattern: exponent) << 23)
    let value = polynomial * scale
    let overflow = x > 88.37626 ? Float.infinity : value
    let underflow = x < -87.33654 ? 0 : overflow
    return x != x ? x : underflow
}

enum Elementwise {
    struct Add: BinaryFunction { @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a + b } }
    struct Subtract: BinaryFunction { @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a - b } }
    struct Multiply: BinaryFunction { @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a * b } }
    struct Divide: BinaryFunction { @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a / b } }
    /// d(a/b)/db given (gradient·a, b): −ga / b².
    struct DivideRightGradient: BinaryFunction {
        @inline(__always) func callAsFunction(_ ga: Float, _ b: Float) -> Float { -ga / (b * b) }
    }

    struct Negate: UnaryFunction { @inline(__always) func callAsFunction(_ x: Float) -> Float { -x } }
    struct Square: UnaryFunction { @inline(__always) func callAsFunction(_ x: Float) -> Float { x * x } }
    struct Exp: UnaryFunction { @inline(__always) func callAsFunction(_ x: Float) -> Float { fastExp(x) } }
    struct Log: UnaryFunction { @inline(__always) func callAsFunction(_ x: Float) -> Float { _logf(x) } }
    struct SquareRoot: UnaryFunction { @inline(__always) func callAsFunction(_ x: Float) -> Float { x.squareRoot() } }
    struct ReciprocalSquareRoot: UnaryFunction {
        @inline(__always) func callAsFunction(_ x: Float) -> Float { 1 / x.squareRoot() }
    }
    struct Power: UnaryFunction {
        let exponent: Float
        @inline(__always) func callAsFunction(_ x: Float) -> Float { _powf(x, exponent) }
    }
    struct Absolute: UnaryFunction { @inline(__always) func callAsFunction(_ x: Float) -> Float { Swift.abs(x) } }
    struct Clamp: UnaryFunction {
        let low: Float, high: Float
        @inline(__always) func callAsFunction(_ x: Float) -> Float { Swift.min(Swift.max(x, low), high) }
    }
    struct ReLU: UnaryFunction {  // NaN stays NaN, as in PyTorch
        @inline(__always) func callAsFunction(_ x: Float) -> Float { x < 0 ? 0 : x }
    }
    struct GELU: UnaryFunction {
        @inline(__always) func callAsFunction(_ x: Float) -> Float { 0.5 * x * (1 + _erff(x * 0.70710678118654752)) }
    }
    struct Sigmoid: UnaryFunction {
        @inline(__always) func callAsFunction(_ x: Float) -> Float {
            // exp of a non-positive argument only, so large |x| neither overflows nor loses 1.
            let e = fastExp(-Swift.abs(x))
            return x >= 0 ? 1 / (1 + e) : e / (1 + e)
        }
    }
    struct Tanh: UnaryFunction { @inline(__always) func callAsFunction(_ x: Float) -> Float { _tanhf(x) } }
    struct Softplus: UnaryFunction {
        let threshold: Float
        @inline(__always) func callAsFunction(_ x: Float) -> Float { x > threshold ? x : _log1pf(fastExp(x)) }
    }

    // Backward rules: (upstream gradient, saved value) → input gradient.
    struct SquareRootGradient: BinaryFunction {  // saved: output y = √x
        @inline(__always) func callAsFunction(_ g: Float, _ y: Float) -> Float { g * 0.5 / y }
    }
    struct ReciprocalSquareRootGradient: BinaryFunction {  // saved: output y = x^-½
        @inline(__always) func callAsFunction(_ g: Float, _ y: Float) -> Float { g * -0.5 * y * y * y }
    }
    struct SquareGradient: BinaryFunction {  // saved: input
        @inline(__always) func callAsFunction(_ g: Float, _ x: Float) -> Float { g * 2 * x }
    }
    struct PowerGradient: BinaryFunction {  // saved: input
        let exponent: Float
        @inline(__always) func callAsFunction(_ g: Float, _ x: Float) -> Float { g * exponent * _powf(x, exponent - 1) }
    }
    struct AbsoluteGradient: BinaryFunction {  // saved: input
        @inline(__always) func callAsFunction(_ g: Float, _ x: Float) -> Float { x > 0 ? g : (x < 0 ? -g : 0) }
    }
    struct ClampGradient: BinaryFunction {  // saved: input; passes where low ≤ x ≤ high
        let low: Float, high: Float
        @inline(__always) func callAsFunction(_ g: Float, _ x: Float) -> Float { x >= low && x <= high ? g : 0 }
    }
    struct PositiveMask: BinaryFunction {  // relu; saved: output
        @inline(__always) func callAsFunction(_ g: Float, _ y: Float) -> Float { y > 0 ? g : 0 }
    }
    struct GELUGradient: BinaryFunction {  // saved: input
        @inline(__always) func callAsFunction(_ g: Float, _ x: Float) -> Float {
            let cdf: Float = 0.5 * (1 + _erff(x * 0.70710678118654752))
            let pdf: Float = fastExp(-0.5 * x * x) * 0.39894228040143268
            return g * (cdf + x * pdf)
        }
    }
    struct SigmoidGradient: BinaryFunction {  // saved: output
        @inline(__always) func callAsFunction(_ g: Float, _ y: Float) -> Float { g * y * (1 - y) }
    }
    struct TanhGradient: BinaryFunction {  // saved: output
        @inline(__always) func callAsFunction(_ g: Float, _ y: Float) -> Float { g * (1 - y * y) }
    }
    struct SoftplusGradient: BinaryFunction {  // saved: input
        let threshold: Float
        @inline(__always) func callAsFunction(_ g: Float, _ x: Float) -> Float {
            x > threshold ? g : g / (1 + fastExp(-x))
        }
    }
    struct SafeDivide: BinaryFunction {  // 0 where the denominator is 0
        @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { b == 0 ? 0 : a / b }
    }

    // Masks and comparisons (1 or 0).
    struct Equal: BinaryFunction { @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a == b ? 1 : 0 } }
    struct Greater: BinaryFunction { @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a > b ? 1 : 0 } }
    struct Less: BinaryFunction { @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a < b ? 1 : 0 } }
    struct GreaterOrEqual: BinaryFunction {
        @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a >= b ? 1 : 0 }
    }
    struct LessOrEqual: BinaryFunction {
        @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a <= b ? 1 : 0 }
    }
    /// `value` where the mask is non-zero, else the element.
    struct FillWhere: BinaryFunction {
        let value: Float
        @inline(__always) func callAsFunction(_ x: Float, _ mask: Float) -> Float { mask != 0 ? value : x }
    }
}

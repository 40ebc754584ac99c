// MARK: - Broadcasting arithmetic

extension Tensor {
    /// Elementwise sum with broadcasting.
    public static func + (lhs: Tensor, rhs: Tensor) -> Tensor {
        let result = zipElements(lhs, rhs, operation: "add", Elementwise.Add())
        let lhsShape = lhs.shape, rhsShape = rhs.shape
        return record(result, operation: "add", inputs: [lhs, rhs]) { gradient, needs in
            [needs[0] ? gradient.sumToShape(lhsShape) : nil, needs[1] ? gradient.sumToShape(rhsShape) : nil]
        }
    }

    /// Elementwise difference with broadcasting.
    public static func - (lhs: Tensor, rhs: Tensor) -> Tensor {
        let result = zipElements(lhs, rhs, operation: "sub", Elementwise.Subtract())
        let lhsShape = lhs.shape, rhsShape = rhs.shape
        return record(result, operation: "sub", inputs: [lhs, rhs]) { gradient, needs in
            [needs[0] ? gradient.sumToShape(lhsShape) : nil,
             needs[1] ? gradient.negated().sumToShape(rhsShape) : nil]
        }
    }

    /// Elementwise product with broadcasting.
    public static func * (lhs: Tensor, rhs: Tensor) -> Tensor {
        let result = zipElements(lhs, rhs, operation: "mul", Elementwise.Multiply())
        let savedLhs = lhs.detach(), savedRhs = rhs.detach()
        return record(result, operation: "mul", inputs: [lhs, rhs]) { gradient, needs in
            [needs[0] ? (gradient * savedRhs).sumToShape(savedLhs.shape) : nil,
             needs[1] ? (gradient * savedLhs).sumToShape(savedRhs.shape) : nil]
        }
    }

    /// Elementwise quotient with broadcasting.
    public static func / (lhs: Tensor, rhs: Tensor) -> Tensor {
        let result = zipElements(lhs, rhs, operation: "div", Elementwise.Divide())
        let savedLhs = lhs.detach(), savedRhs = rhs.detach()
        return record(result, operation: "div", inputs: [lhs, rhs]) { gradient, needs in
            var gradients: [Tensor?] = [nil, nil]
            if needs[0] { gradients[0] = (gradient / savedRhs).sumToShape(savedLhs.shape) }
            if needs[1] {
                // d(a/b)/db = −a/b²
                let scaled = zipElements(gradient, savedLhs, operation: "div backward", Elementwise.Multiply())
                let quotient = zipElements(scaled, savedRhs, operation: "div backward", Elementwise.DivideRightGradient())
                gradients[1] = quotient.sumToShape(savedRhs.shape)
            }
            return gradients
        }
    }

    /// Elementwise negation.
    public static prefix func - (operand: Tensor) -> Tensor { operand.negated() }

    /// Elementwise negation.
    public func negated() -> Tensor {
        let result = mapElements(Elementwise.Negate())
        return Tensor.record(result, operation: "neg", inputs: [self]) { gradient, _ in [gradient.negated()] }
    }

    // Scalars broadcast as 0-dimensional tensors.
    public static func + (lhs: Tensor, rhs: Float) -> Tensor { lhs + Tensor(rhs) }
    public static func + (lhs: Float, rhs: Tensor) -> Tensor { Tensor(lhs) + rhs }
    public static func - (lhs: Tensor, rhs: Float) -> Tensor { lhs - Tensor(rhs) }
    public static func - (lhs: Float, rhs: Tensor) -> Tensor { Tensor(lhs) - rhs }
    public static func * (lhs: Tensor, rhs: Float) -> Tensor { lhs * Tensor(rhs) }
    public static func * (lhs: Float, rhs: Tensor) -> Tensor { Tensor(lhs) * rhs }
    public static func / (lhs: Tensor, rhs: Float) -> Tensor { lhs / Tensor(rhs) }
    public static func / (lhs: Float, rhs: Tensor) -> Tensor { Tensor(lhs) / rhs }
}

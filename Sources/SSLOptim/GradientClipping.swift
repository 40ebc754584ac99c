import SSLTensor

/// Scales the gradients of `parameters` so their global 2-norm is at most `maxNorm`, as
/// PyTorch's `clip_grad_norm_`: coefficient maxNorm / (total + 1e-6), capped at 1. Returns the
/// total norm before clipping (computed in double precision). Parameters without gradients
/// are skipped.
///
/// ```swift
/// let norm = clipGradientNorm(model.parameters(), maxNorm: 1.0)
/// ```
@discardableResult
public func clipGradientNorm(_ parameters: [Tensor], maxNorm: Float) -> Float {
    precondition(maxNorm >= 0, "clipGradientNorm: maxNorm \(maxNorm) must be non-negative")
    let gradients = parameters.compactMap(\.grad)
    var total: Double = 0
    for gradient in gradients {
        gradient.withContiguousBuffer { values in
            for value in values { total += Double(value) * Double(value) }
        }
    }
    let norm = total.squareRoot()
    let coefficient = Swift.min(Double(maxNorm) / (norm + 1e-6), 1)
    if coefficient < 1 {
        let factor = Float(coefficient)
        for gradient in gradients {
            gradient.withUnsafeMutableElements { values in
                for i in values.indices { values[i] *= factor }
            }
        }
    }
    return Float(norm)
}

/// Clamps every gradient element of `parameters` to [−maxValue, maxValue], as PyTorch's
/// `clip_grad_value_`.
public func clipGradientValue(_ parameters: [Tensor], maxValue: Float) {
    precondition(maxValue >= 0, "clipGradientValue: maxValue \(maxValue) must be non-negative")
    for gradient in parameters.compactMap(\.grad) {
        gradient.withUnsafeMutableElements { values in
            for i in values.indices { values[i] = Swift.min(Swift.max(values[i], -maxValue), maxValue) }
        }
    }
}

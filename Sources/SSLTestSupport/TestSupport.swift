// Test helpers shared by every test target: tolerance-aware comparisons and a
// finite-difference gradient checker. Not part of the public library API.
import SSLTensor
import XCTest

/// Asserts that `actual` and `expected` have equal length and that every pair satisfies
/// |a − e| ≤ atol + rtol·|e| (NumPy's `allclose`). Reports the worst element.
public func assertClose(
    _ actual: [Float], _ expected: [Float], rtol: Float = 1e-5, atol: Float = 1e-6,
    _ message: @autoclosure () -> String = "", file: StaticString = #filePath, line: UInt = #line
) {
    guard actual.count == expected.count else {
        XCTFail("assertClose: \(actual.count) values vs \(expected.count) expected. \(message())", file: file, line: line)
        return
    }
    var worst = -1
    var worstExcess: Float = 0
    for i in actual.indices {
        let tolerance = atol + rtol * Swift.abs(expected[i])
        let difference = Swift.abs(actual[i] - expected[i])
        if !(difference <= tolerance) {  // NaN fails too
            let excess = difference.isNaN ? .infinity : difference - tolerance
            if worst < 0 || excess > worstExcess {
                worst = i
                worstExcess = excess
            }
        }
    }
    if worst >= 0 {
        XCTFail("assertClose: element \(worst) is \(actual[worst]), expected \(expected[worst]) (rtol \(rtol), atol \(atol)). \(message())",
                file: file, line: line)
    }
}

/// Asserts a tensor's shape and values.
public func assertClose(
    _ actual: Tensor, _ expected: Tensor, rtol: Float = 1e-5, atol: Float = 1e-6,
    _ message: @autoclosure () -> String = "", file: StaticString = #filePath, line: UInt = #line
) {
    XCTAssertEqual(actual.shape, expected.shape, "shape. \(message())", file: file, line: line)
    assertClose(actual.scalars, expected.scalars, rtol: rtol, atol: atol, message(), file: file, line: line)
}

/// Asserts a tensor's shape and values against literals.
public func assertClose(
    _ actual: Tensor, shape: [Int], _ expected: [Float], rtol: Float = 1e-5, atol: Float = 1e-6,
    _ message: @autoclosure () -> String = "", file: StaticString = #filePath, line: UInt = #line
) {
    XCTAssertEqual(actual.shape, shape, "shape. \(message())", file: file, line: line)
    assertClose(actual.scalars, expected, rtol: rtol, atol: atol, message(), file: file, line: line)
}

/// Checks the gradients autograd computes for `function` against central finite differences.
///
/// The scalar checked is Σ function(inputs) ⊙ R for a fixed random R, so every output element
/// takes part. Each input element is perturbed by ±`epsilon` and the difference quotient,
/// accumulated in double precision, is compared with the analytic gradient using
/// |numeric − analytic| ≤ atol + rtol·|numeric|.
///
/// ```swift
/// checkGradients([a, b]) { inputs in (inputs[0] * inputs[1]).exp() }
/// ```
public func checkGradients(
    _ inputs: [Tensor], epsilon: Float = 1e-2, rtol: Float = 2e-2, atol: Float = 2e-3,
    seed: UInt64 = 7, file: StaticString = #filePath, line: UInt = #line,
    _ function: ([Tensor]) -> Tensor
) {
    let leaves = inputs.map { $0.contiguousCopy().requiringGrad() }
    let output = function(leaves)
    var generator = RandomGenerator(seed: seed)
    let projection = Tensor.uniform(output.shape, low: -1, high: 1, generator: &generator)
    let projected = projection.scalars.map(Double.init)
    (output * projection).sum().backward()

    func objective() -> Double {
        let values = noGrad { function(leaves) }.scalars
        var total: Double = 0
        for (value, weight) in zip(values, projected) { total += Double(value) * weight }
        return total
    }

    for (inputIndex, leaf) in leaves.enumerated() {
        guard let analytic = leaf.grad?.scalars else {
            XCTFail("checkGradients: input \(inputIndex) (shape \(leaf.shape)) received no gradient", file: file, line: line)
            continue
        }
        let pointer = leaf.storage.pointer + leaf.offset
        for element in 0..<leaf.count {
            let original = pointer[element]
            pointer[element] = original + epsilon
            let plus = objective()
            pointer[element] = original - epsilon
            let minus = objective()
            pointer[element] = original
            let numeric = Float((plus - minus) / (2 * Double(epsilon)))
            let difference = Swift.abs(numeric - analytic[element])
            if !(difference <= atol + rtol * Swift.abs(numeric)) {
                XCTFail("checkGradients: input \(inputIndex) (shape \(leaf.shape)) element \(element): analytic \(analytic[element]), numeric \(numeric)",
                        file: file, line: line)
                return
            }
        }
    }
}

/// Deterministic test data: values uniform in [low, high).
public func testTensor(_ shape: [Int], seed: UInt64, low: Float = -1, high: Float = 1) -> Tensor {
    var generator = RandomGenerator(seed: seed)
    return Tensor.uniform(shape, low: low, high: high, generator: &generator)
}

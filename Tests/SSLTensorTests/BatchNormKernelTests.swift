import SSLTensor
import SSLTestSupport
import XCTest

/// Batch normalisation of `[N, C]` inputs against its definition in double precision, on shapes
/// that reach every path of the kernels: two workers with channel chunks that are not multiples
/// of the eight SIMD lanes (the scalar tail), several 64-row blocks of float partial sums, and a
/// large common offset (the shifted one-pass variance must not cancel).
final class BatchNormKernelTests: XCTestCase {
    private struct Reference {
        var output: [Double], inputGradient: [Double], weightGradient: [Double], biasGradient: [Double]
        var mean: [Double], variance: [Double]
    }

    /// y = γ·x̂ + β with x̂ = (x − μ)/√(σ² + ε) (biased σ²), and the gradients of Σ y·g.
    private func reference(x: [Float], g: [Float], gamma: [Float], beta: [Float], rows: Int, columns: Int,
                           eps: Double = 1e-5) -> Reference {
        var result = Reference(output: [], inputGradient: [], weightGradient: [], biasGradient: [], mean: [], variance: [])
        result.output = [Double](repeating: 0, count: rows * columns)
        result.inputGradient = result.output
        for c in 0..<columns {
            let values = (0..<rows).map { Double(x[$0 * columns + c]) }
            let upstream = (0..<rows).map { Double(g[$0 * columns + c]) }
            let mean = values.reduce(0, +) / Double(rows)
            let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(rows)
            let deviation = (variance + eps).squareRoot()
            let normalised = values.map { ($0 - mean) / deviation }
            let sumG = upstream.reduce(0, +)
            let sumGX = zip(upstream, normalised).map(*).reduce(0, +)
            for n in 0..<rows {
                result.output[n * columns + c] = Double(gamma[c]) * normalised[n] + Double(beta[c])
                result.inputGradient[n * columns + c] = Double(gamma[c]) / deviation
                    * (upstream[n] - sumG / Double(rows) - normalised[n] * sumGX / Double(rows))
            }
            result.weightGradient.append(sumGX)
            result.biasGradient.append(sumG)
            result.mean.append(mean)
            result.variance.append(variance)
        }
        return result
    }

    func testBatchNorm1dMatchesTheDefinitionAcrossWorkersBlocksAndTails() {
        // 200 × 90: 18,000 values (enough for two workers, 45 channels each: five lane groups
        // and a tail of five); rows in blocks of 64, 64, 64 and 8. Offset 100, spread ±1.
        let rows = 200, columns = 90
        let x = testTensor([rows, columns], seed: 11).scalars.enumerated().map { 100 + $0.element + Float($0.offset % columns) * 0.01 }
        let g = testTensor([rows, columns], seed: 12).scalars
        let gamma = testTensor([columns], seed: 13, low: 0.5, high: 1.5).scalars
        let beta = testTensor([columns], seed: 14).scalars
        let expected = reference(x: x, g: g, gamma: gamma, beta: beta, rows: rows, columns: columns)
        for threads in [1, 2] {
            ComputeContext.$current.withValue(ComputeContext(threadCount: threads)) {
                let input = Tensor(shape: [rows, columns], scalars: x).requiringGrad()
                let weight = Tensor(shape: [columns], scalars: gamma).requiringGrad()
                let bias = Tensor(shape: [columns], scalars: beta).requiringGrad()
                let runningMean = Tensor.zeros([columns]), runningVariance = Tensor.zeros([columns])
                let y = input.batchNorm(runningMean: runningMean, runningVariance: runningVariance,
                                        weight: weight, bias: bias, training: true, momentum: 1)
                y.backward(gradient: Tensor(shape: [rows, columns], scalars: g))
                let label = "threads \(threads)"
                assertClose(y.scalars, expected.output.map(Float.init), rtol: 1e-4, atol: 2e-4, label)
                assertClose(input.grad?.scalars ?? [], expected.inputGradient.map(Float.init), rtol: 1e-3, atol: 2e-4, label)
                assertClose(weight.grad?.scalars ?? [], expected.weightGradient.map(Float.init), rtol: 1e-3, atol: 1e-3, label)
                assertClose(bias.grad?.scalars ?? [], expected.biasGradient.map(Float.init), rtol: 1e-4, atol: 1e-4, label)
                // Momentum 1: the running statistics are this batch's mean and unbiased variance.
                assertClose(runningMean.scalars, expected.mean.map(Float.init), rtol: 1e-6, atol: 0, label)
                let unbiased = expected.variance.map { Float($0 * Double(rows) / Double(rows - 1)) }
                assertClose(runningVariance.scalars, unbiased, rtol: 1e-4, atol: 0, label)
            }
        }
    }
}

import SSLTensor
import SSLTestSupport
import XCTest

/// Finite-difference gradient checks for every differentiable op, broadcasting included.
final class GradientCheckTests: XCTestCase {
    /// Random values pushed at least 0.2 away from zero (for ops with a kink at 0).
    private func awayFromZero(_ shape: [Int], seed: UInt64) -> Tensor {
        let values = testTensor(shape, seed: seed).scalars.map { $0 + ($0 < 0 ? -0.2 : 0.2) }
        return Tensor(shape: shape, scalars: values)
    }

    private func positive(_ shape: [Int], seed: UInt64) -> Tensor {
        testTensor(shape, seed: seed, low: 0.5, high: 2)
    }

    // MARK: Arithmetic with broadcasting

    func testAddSubMulDivWithBroadcasting() {
        let a = testTensor([2, 3], seed: 1)
        let row = testTensor([3], seed: 2)
        let column = testTensor([2, 1], seed: 3)
        let denominator = positive([1, 3], seed: 4)
        checkGradients([a, row]) { $0[0] + $0[1] }
        checkGradients([a, column]) { $0[0] - $0[1] }
        checkGradients([column, row]) { $0[0] * $0[1] }          // [2,1] × [3] → [2,3]
        checkGradients([a, denominator]) { $0[0] / $0[1] }
        checkGradients([a]) { 2 * $0[0] - 1 }
        checkGradients([denominator]) { 1 / $0[0] }
        checkGradients([a]) { -$0[0] }
        let four = testTensor([2, 3, 2, 2], seed: 5)
        let channel = testTensor([1, 3, 1, 1], seed: 6)
        checkGradients([four, channel]) { $0[0] * $0[1] + $0[1] }
    }

    // MARK: Unary math

    func testUnaryMathFunctions() {
        let x = testTensor([3, 4], seed: 10)
        let p = positive([3, 4], seed: 11)
        checkGradients([x]) { $0[0].exp() }
        checkGradients([p]) { $0[0].log() }
        checkGradients([p]) { $0[0].sqrt() }
        checkGradients([p]) { $0[0].rsqrt() }
        checkGradients([x]) { $0[0].pow(2) }
        checkGradients([x]) { $0[0].pow(3) }
        checkGradients([p]) { $0[0].pow(-1.5) }
        checkGradients([awayFromZero([3, 4], seed: 12)]) { $0[0].abs() }
        checkGradients([x]) { $0[0].sigmoid() }
        checkGradients([x]) { $0[0].tanh() }
        checkGradients([x * 3]) { $0[0].softplus() }
        checkGradients([x * 3]) { $0[0].gelu() }
    }

    func testKinkedActivations() {
        let x = awayFromZero([4, 5], seed: 13)
        checkGradients([x]) { $0[0].relu() }
        // Values at least 0.05 from the clamp bounds ±0.5, on both sides of each.
        let around = Tensor(shape: [2, 4], scalars: [-1.0, -0.7, -0.3, 0.25, 0.45, 0.8, 1.1, -0.42])
        checkGradients([around]) { $0[0].clamp(min: -0.5, max: 0.5) }
        checkGradients([x]) { $0[0].clamp(min: 0) }
    }

    // MARK: Reductions

    func testSumMeanVarianceOverAxes() {
        let x = testTensor([2, 3, 4], seed: 20)
        checkGradients([x]) { $0[0].sum() }
        checkGradients([x]) { $0[0].sum(axes: [1]) }
        checkGradients([x]) { $0[0].sum(axes: [0, 2], keepDims: true) }
        checkGradients([x]) { $0[0].mean(axes: [2]) }
        checkGradients([x]) { $0[0].mean() }
        checkGradients([x]) { $0[0].variance(axes: [0, 2]) }
        checkGradients([x]) { $0[0].variance(axes: [1], correction: 0, keepDims: true) }
    }

    func testMaxAndMinOverAxes() {
        let x = testTensor([3, 4, 2], seed: 21)
        checkGradients([x]) { $0[0].max(axes: [1]) }
        checkGradients([x]) { $0[0].min(axes: [0, 2], keepDims: true) }
        checkGradients([x]) { $0[0].max() }
    }

    // MARK: Matrix products

    func testMatmulInEveryTransposeCombinationAndBatched() {
        for transposeA in [false, true] {
            for transposeB in [false, true] {
                let a = testTensor(transposeA ? [4, 3] : [3, 4], seed: 30)
                let b = testTensor(transposeB ? [5, 4] : [4, 5], seed: 31)
                checkGradients([a, b]) { $0[0].matmul($0[1], transposeSelf: transposeA, transposeOther: transposeB) }
            }
        }
        checkGradients([testTensor([2, 3, 4], seed: 32), testTensor([2, 4, 2], seed: 33)]) { $0[0].matmul($0[1]) }
        checkGradients([testTensor([2, 3, 4], seed: 34), testTensor([5, 4], seed: 35)]) {
            $0[0].matmul($0[1], transposeOther: true)
        }
        checkGradients([testTensor([2, 4, 3], seed: 36), testTensor([4, 2], seed: 37)]) {
            $0[0].matmul($0[1], transposeSelf: true)
        }
    }

    func testLinearWithAndWithoutBiasOnMatricesBatchesAndTransposedViews() {
        let weight = testTensor([5, 4], seed: 38), bias = testTensor([5], seed: 39)
        checkGradients([testTensor([3, 4], seed: 130), weight, bias]) { $0[0].linear(weight: $0[1], bias: $0[2]) }
        checkGradients([testTensor([3, 4], seed: 131), weight]) { $0[0].linear(weight: $0[1], bias: nil) }
        checkGradients([testTensor([2, 3, 4], seed: 132), weight, bias]) { $0[0].linear(weight: $0[1], bias: $0[2]) }
        // A transposed (non-contiguous) input and weight.
        checkGradients([testTensor([4, 3], seed: 133), testTensor([4, 5], seed: 134), bias]) {
            $0[0].transpose(0, 1).linear(weight: $0[1].transpose(0, 1), bias: $0[2])
        }
    }

    // MARK: Convolution and pooling

    func testConv2dWithStridePaddingAndBias() {
        let x = testTensor([2, 2, 5, 5], seed: 40)
        let w = testTensor([3, 2, 3, 3], seed: 41)
        let b = testTensor([3], seed: 42)
        checkGradients([x, w, b]) { $0[0].conv2d(weight: $0[1], bias: $0[2], stride: 1, padding: 1) }
        checkGradients([x, w]) { $0[0].conv2d(weight: $0[1], stride: 2, padding: 1) }
        checkGradients([x, w]) { $0[0].conv2d(weight: $0[1], stride: 2, padding: 0) }
        checkGradients([x, w]) { $0[0].conv2d(weight: $0[1], stride: 1, padding: 0) }
        checkGradients([testTensor([1, 2, 6, 5], seed: 44), testTensor([3, 2, 5, 5], seed: 45)]) {
            $0[0].conv2d(weight: $0[1], stride: 1, padding: 2)
        }
        checkGradients([x, testTensor([4, 2, 1, 1], seed: 43)]) { $0[0].conv2d(weight: $0[1]) }
    }

    func testPooling() {
        let x = testTensor([2, 2, 5, 5], seed: 50)
        checkGradients([x]) { $0[0].maxPool2d(kernelSize: 2) }
        checkGradients([x]) { $0[0].maxPool2d(kernelSize: 3, stride: 2, padding: 1) }
        checkGradients([x]) { $0[0].avgPool2d(kernelSize: 2) }
        checkGradients([x]) { $0[0].avgPool2d(kernelSize: 3, stride: 2, padding: 1) }
        checkGradients([x]) { $0[0].adaptiveAvgPool2dToOne() }
    }

    // MARK: Views

    func testViews() {
        let x = testTensor([2, 3, 4], seed: 60)
        checkGradients([x]) { $0[0].reshape([6, 4]) * $0[0].reshape([6, 4]) }
        checkGradients([x]) { $0[0].permute([2, 0, 1]).contiguous() * 2 }
        checkGradients([x]) { $0[0].transpose(0, 2).exp() }
        checkGradients([x]) { $0[0].slice(axis: 2, 1..<4, step: 2).exp() }
        checkGradients([testTensor([3, 1], seed: 61)]) { $0[0].expand([2, 3, 4]).exp() }
        checkGradients([x]) { $0[0].flatten().unsqueeze(0).squeeze(0).exp() }
    }

    // MARK: Joining and indexing

    func testConcatStackSplitChunk() {
        let a = testTensor([2, 3], seed: 70), b = testTensor([4, 3], seed: 71), c = testTensor([2, 3], seed: 72)
        checkGradients([a, b]) { Tensor.concat([$0[0], $0[1]], axis: 0).exp() }
        checkGradients([a, c]) { Tensor.stack([$0[0], $0[1]], axis: 1).exp() }
        checkGradients([b]) { inputs in
            let parts = inputs[0].split(sizes: [1, 3], axis: 0)
            return parts[0] * 2 + parts[1].sum(axes: [0], keepDims: true)
        }
        checkGradients([b]) { inputs in
            let parts = inputs[0].chunk(2, axis: 1)
            return parts[0].exp().sum(axes: [1]) + parts[1].sum(axes: [1])
        }
    }

    func testGatherIndexSelectAndFills() {
        let x = testTensor([3, 4], seed: 80)
        checkGradients([x]) { $0[0].gather(axis: 1, index: IntTensor(shape: [3, 2], scalars: [0, 3, 1, 1, 2, 0])).exp() }
        checkGradients([x]) { $0[0].indexSelect(axis: 0, indices: [2, 0, 2]).exp() }
        checkGradients([x]) { $0[0].indexSelect(axis: 1, indices: [3, 1]).exp() }
        let mask = Tensor(shape: [1, 4], scalars: [1, 0, 0, 1])
        checkGradients([x]) { $0[0].maskedFill(mask, value: -5).exp() }
        checkGradients([testTensor([4, 4], seed: 81)]) { $0[0].diagonalFill(-3).exp() }
    }

    // MARK: Softmax family, losses and normalisation

    func testSoftmaxFamilyAndCrossEntropy() {
        let x = testTensor([3, 5], seed: 90, low: -2, high: 2)
        checkGradients([x]) { $0[0].softmax(axis: -1) }
        checkGradients([x]) { $0[0].softmax(axis: 0) }
        checkGradients([x]) { $0[0].logSoftmax(axis: 1) }
        checkGradients([x]) { $0[0].logSumExp(axis: 1) }
        checkGradients([x]) { $0[0].logSumExp(axis: 0, keepDims: true) }
        checkGradients([x]) { $0[0].crossEntropy(targets: IntTensor([4, 0, 2])) }
        checkGradients([x]) { $0[0].crossEntropy(targets: IntTensor([1, 1, 3]), labelSmoothing: 0.2) }
    }

    func testNormsAndCosineSimilarity() {
        let a = testTensor([3, 4], seed: 100), b = testTensor([3, 4], seed: 101)
        checkGradients([a]) { $0[0].vectorNorm(axes: [1]) }
        checkGradients([a]) { $0[0].l2Normalize(axis: 1) }
        checkGradients([a]) { $0[0].l2Normalize(axis: 0) }
        checkGradients([a, b]) { Tensor.cosineSimilarity($0[0], $0[1], axis: 1) }
    }

    func testBatchNormInTrainingAndEvaluation() {
        let x2 = testTensor([4, 3], seed: 110)
        let x4 = testTensor([2, 3, 2, 2], seed: 111)
        let gamma = testTensor([3], seed: 112, low: 0.5, high: 1.5), beta = testTensor([3], seed: 113)
        // The projection's random weights make the loss depend on every normalised output.
        checkGradients([x2, gamma, beta], epsilon: 1e-2, rtol: 3e-2, atol: 3e-3) {
            $0[0].batchNorm(runningMean: nil, runningVariance: nil, weight: $0[1], bias: $0[2], training: true)
        }
        checkGradients([x4, gamma, beta], epsilon: 1e-2, rtol: 3e-2, atol: 3e-3) {
            $0[0].batchNorm(runningMean: nil, runningVariance: nil, weight: $0[1], bias: $0[2], training: true)
        }
        checkGradients([x4]) {
            $0[0].batchNorm(runningMean: nil, runningVariance: nil, weight: nil, bias: nil, training: true)
        }
        let mean = Tensor([0.1, -0.2, 0.3]), variance = Tensor([0.5, 1.5, 2])
        checkGradients([x4, gamma, beta]) {
            $0[0].batchNorm(runningMean: mean, runningVariance: variance, weight: $0[1], bias: $0[2], training: false)
        }
        // A residual added after the normalisation (the fused residual-block end, without its ReLU,
        // whose kink finite differences cannot cross; FusedBatchNormReLUTests compares that).
        let shortcut = testTensor(x4.shape, seed: 114)
        checkGradients([x4, gamma, beta, shortcut], epsilon: 1e-2, rtol: 3e-2, atol: 3e-3) {
            $0[0].batchNorm(runningMean: nil, runningVariance: nil, weight: $0[1], bias: $0[2], training: true, adding: $0[3])
        }
        checkGradients([x4, gamma, beta, shortcut]) {
            $0[0].batchNorm(runningMean: mean, runningVariance: variance, weight: $0[1], bias: $0[2], training: false,
                            adding: $0[3])
        }
    }

    func testDropoutWithAFixedMask() {
        let x = testTensor([4, 5], seed: 120)
        checkGradients([x]) { inputs in
            var generator = RandomGenerator(seed: 3)
            return inputs[0].dropout(probability: 0.3, training: true, generator: &generator)
        }
    }
}

import SSLNN
import SSLTensor
import SSLTestSupport
import XCTest

/// BatchNorm followed by ReLU runs fused (`callAsFunctionThenReLU`, and inside `Sequential`):
/// the output, the input gradient, γ and β gradients and the running statistics must equal
/// those of the two separate layers exactly, in training and in evaluation. (In training the
/// fused backward recomputes the ReLU's mask from the input: `BatchNormKernels+Rectified`.)
final class FusedBatchNormReLUTests: XCTestCase {
    private func compare(_ makeNorm: () -> BatchNorm, inputShape: [Int], training: Bool, seed: UInt64,
                         file: StaticString = #filePath, line: UInt = #line) {
        let separate = makeNorm(), fused = makeNorm()
        // Different γ, β and running statistics from the defaults, equal in both copies.
        for norm in [separate, fused] {
            let channels = norm.featureCount
            norm.weight?.copyIn(testTensor([channels], seed: seed, low: 0.5, high: 1.5))
            norm.bias?.copyIn(testTensor([channels], seed: seed + 1))
            norm.runningMean?.copyIn(testTensor([channels], seed: seed + 2))
            norm.runningVariance?.copyIn(testTensor([channels], seed: seed + 3, low: 0.5, high: 2))
            if training { norm.train() } else { norm.eval() }
        }
        let values = testTensor(inputShape, seed: seed + 4).scalars
        let upstream = testTensor(inputShape, seed: seed + 5)
        let x1 = Tensor(shape: inputShape, scalars: values).requiringGrad()
        let x2 = Tensor(shape: inputShape, scalars: values).requiringGrad()
        let y1 = separate(x1).relu()
        let y2 = fused.callAsFunctionThenReLU(x2)
        XCTAssertTrue(y1.scalars.contains(0) && y1.scalars.contains { $0 > 0 }, "the ReLU must cut", file: file, line: line)
        XCTAssertEqual(y1.scalars, y2.scalars, "output", file: file, line: line)
        y1.backward(gradient: upstream)
        y2.backward(gradient: upstream)
        XCTAssertEqual(x1.grad?.scalars, x2.grad?.scalars, "input gradient", file: file, line: line)
        XCTAssertEqual(separate.weight?.grad?.scalars, fused.weight?.grad?.scalars, "γ gradient", file: file, line: line)
        XCTAssertEqual(separate.bias?.grad?.scalars, fused.bias?.grad?.scalars, "β gradient", file: file, line: line)
        XCTAssertEqual(separate.runningMean?.scalars, fused.runningMean?.scalars, file: file, line: line)
        XCTAssertEqual(separate.runningVariance?.scalars, fused.runningVariance?.scalars, file: file, line: line)
    }

    /// A residual block's end, `relu(bn(x) + shortcut)` in one operation (ResNet-18's BasicBlock),
    /// against the three separate operations: output, the gradients of the input, the shortcut,
    /// γ and β, and the running statistics, exactly.
    func testFusedBatchNormAddReLUEqualsTheSeparateOperations() {
        for (training, seed) in [(true, UInt64(60)), (false, 70)] {
            let separate = BatchNorm2d(3), fused = BatchNorm2d(3)
            for norm in [separate, fused] {
                norm.weight?.copyIn(testTensor([3], seed: seed, low: 0.5, high: 1.5))
                norm.bias?.copyIn(testTensor([3], seed: seed + 1))
                norm.runningMean?.copyIn(testTensor([3], seed: seed + 2))
                norm.runningVariance?.copyIn(testTensor([3], seed: seed + 3, low: 0.5, high: 2))
                if training { norm.train() } else { norm.eval() }
            }
            let shape = [4, 3, 6, 5]
            let values = testTensor(shape, seed: seed + 4).scalars, shortcutValues = testTensor(shape, seed: seed + 5).scalars
            let upstream = testTensor(shape, seed: seed + 6)
            let x1 = Tensor(shape: shape, scalars: values).requiringGrad()
            let x2 = Tensor(shape: shape, scalars: values).requiringGrad()
            let s1 = Tensor(shape: shape, scalars: shortcutValues).requiringGrad()
            let s2 = Tensor(shape: shape, scalars: shortcutValues).requiringGrad()
            let y1 = (separate(x1) + s1).relu()
            let y2 = fused.callAsFunctionAddingThenReLU(x2, shortcut: s2)
            XCTAssertTrue(y1.scalars.contains(0) && y1.scalars.contains { $0 > 0 }, "the ReLU must cut")
            XCTAssertEqual(y1.scalars, y2.scalars, "output")
            y1.backward(gradient: upstream)
            y2.backward(gradient: upstream)
            XCTAssertEqual(x1.grad?.scalars, x2.grad?.scalars, "input gradient")
            XCTAssertEqual(s1.grad?.scalars, s2.grad?.scalars, "shortcut gradient")
            XCTAssertEqual(separate.weight?.grad?.scalars, fused.weight?.grad?.scalars, "γ gradient")
            XCTAssertEqual(separate.bias?.grad?.scalars, fused.bias?.grad?.scalars, "β gradient")
            XCTAssertEqual(separate.runningMean?.scalars, fused.runningMean?.scalars)
            XCTAssertEqual(separate.runningVariance?.scalars, fused.runningVariance?.scalars)
        }
    }

    func testFusedBatchNorm2dReLUEqualsTheSeparateLayers() {
        // 6×5 = 30 values per plane: the vector lanes and the scalar tail.
        compare({ BatchNorm2d(3) }, inputShape: [4, 3, 6, 5], training: true, seed: 10)
        compare({ BatchNorm2d(3) }, inputShape: [4, 3, 6, 5], training: false, seed: 20)
    }

    func testFusedBatchNorm1dReLUEqualsTheSeparateLayers() {
        compare({ BatchNorm1d(7) }, inputShape: [9, 7], training: true, seed: 30)
        // 19 features: two groups of eight lanes and a scalar tail.
        compare({ BatchNorm1d(19) }, inputShape: [9, 19], training: true, seed: 35)
        compare({ BatchNorm1d(7) }, inputShape: [9, 7], training: false, seed: 40)
    }

    func testSequentialFusesBatchNormAndReLUWithTheSameResultAndSummary() {
        let model = ParameterInitialization.withSeed(3) {
            Sequential([Linear(5, 8), BatchNorm1d(8), ReLU(), Linear(8, 2)])
        }
        let x = testTensor([6, 5], seed: 50).requiringGrad()
        let fused = model(x)
        let layers = model.layers
        let separate = layers[3](layers[2](layers[1](layers[0](x))))
        XCTAssertEqual(fused.scalars, separate.scalars)
        let summary = ModuleSummary(model, inputShape: [6, 5]).description
        XCTAssertTrue(summary.contains("ReLU"), summary)
    }
}

import SSLMethods
import SSLNN
import SSLTensor
import SSLTestSupport
import XCTest

/// The weight-normalised linear layer (numpy and finite differences) and DINO's head built on it.
final class DINOHeadTests: XCTestCase {
    private typealias R = MethodReference

    private func layer(bias: Bool = true, trainsNorm: Bool = true) -> WeightNormalizedLinear {
        let layer = WeightNormalizedLinear(4, 5, bias: bias, trainsNorm: trainsNorm)
        layer.weightV.copyIn(Tensor(shape: R.weightNormV.shape, scalars: R.weightNormV.values))
        layer.weightG.copyIn(Tensor(shape: R.weightNormG.shape, scalars: R.weightNormG.values))
        layer.bias?.copyIn(Tensor(shape: R.weightNormBias.shape, scalars: R.weightNormBias.values))
        return layer
    }

    func testWeightNormalizedLinearMatchesNumpyAndUsesPyTorchKeys() {
        let x = Tensor(shape: R.weightNormX.shape, scalars: R.weightNormX.values)
        assertClose(layer()(x), Tensor(shape: R.weightNormOutput.shape, scalars: R.weightNormOutput.values), rtol: 1e-5, atol: 1e-6)
        XCTAssertEqual(layer().namedParameters().map(\.name), ["weight_g", "weight_v", "bias"])
        let fixed = WeightNormalizedLinear(3, 2, trainsNorm: false)
        XCTAssertEqual(fixed.weightG.scalars, [1, 1])
        XCTAssertFalse(fixed.weightG.requiresGrad)
        XCTAssertTrue(fixed.weightV.requiresGrad)
        XCTAssertFalse((fixed.copy() as WeightNormalizedLinear).weightG.requiresGrad, "copies keep g fixed")
        let rowNorms = fixed.weight.vectorNorm(axes: [1]).scalars
        assertClose(rowNorms, [1, 1], rtol: 0, atol: 1e-6)
    }

    /// Gradients in the input (`checkGradients`) and in the module's own g, v and bias (each
    /// element nudged by ±1e-2 in place, the quotient taken in double precision).
    func testWeightNormalizedLinearGradientsMatchFiniteDifferences() {
        let module = layer()
        checkGradients([testTensor([3, 4], seed: 60)]) { inputs in module(inputs[0]) }
        let x = testTensor([3, 4], seed: 61), projection = testTensor([3, 5], seed: 62)
        func objective() -> Double {
            noGrad { (module(x) * projection).sum() }.scalars.map(Double.init).reduce(0, +)
        }
        module.zeroGrad()
        (module(x) * projection).sum().backward()
        for (name, parameter) in module.namedParameters() {
            guard let analytic = parameter.grad?.scalars else { return XCTFail("\(name) has no gradient") }
            for element in 0..<parameter.count {
                var original: Float = 0
                parameter.withUnsafeMutableElements { original = $0[element]; $0[element] = original + 1e-2 }
                let plus = objective()
                parameter.withUnsafeMutableElements { $0[element] = original - 1e-2 }
                let minus = objective()
                parameter.withUnsafeMutableElements { $0[element] = original }
                let numeric = Float((plus - minus) / 2e-2)
                XCTAssertEqual(analytic[element], numeric, accuracy: 2e-3 + 2e-2 * abs(numeric), "\(name)[\(element)]")
            }
        }
        // DINO's last layer: g fixed at 1 gets no gradient, v does.
        let fixed = layer(bias: false, trainsNorm: false)
        (fixed(x) * projection).sum().backward()
        XCTAssertNotNil(fixed.weightV.grad)
        XCTAssertNil(fixed.weightG.grad, "a fixed g gets no gradient")
    }

    func testDINOHeadHasTheOfficialShapesKeysAndUnitPrototypes() {
        let head = ParameterInitialization.withSeed(1) {
            DINOHead(inputFeatures: 8, outputDimension: 32, hiddenFeatures: 16, bottleneckFeatures: 6)
        }
        XCTAssertEqual(head.namedParameters().map(\.name),
                       ["mlp.0.weight", "mlp.0.bias", "mlp.2.weight", "mlp.2.bias", "mlp.4.weight", "mlp.4.bias",
                        "last_layer.weight_g", "last_layer.weight_v"])
        XCTAssertEqual(head(testTensor([5, 8], seed: 2)).shape, [5, 32])
        XCTAssertFalse(head.lastLayer.weightG.requiresGrad, "norm_last_layer: g fixed at 1")
        let firstWeights = head.mlp.layers.compactMap { $0 as? Linear }[0].weight.scalars
        let std = (firstWeights.map { $0 * $0 }.reduce(0, +) / Float(firstWeights.count)).squareRoot()
        XCTAssertEqual(std, 0.02, accuracy: 0.006, "N(0, 0.02²) as trunc_normal_(std=.02)")
        XCTAssertTrue(head.mlp.layers.compactMap { $0 as? Linear }.allSatisfy { $0.bias?.scalars.allSatisfy { $0 == 0 } ?? false })
        // Every output is a cosine with a unit prototype: |logit| ≤ 1.
        XCTAssertTrue(head(testTensor([5, 8], seed: 3, low: -10, high: 10)).scalars.allSatisfy { abs($0) <= 1 + 1e-5 })
        let withBatchNorm = DINOHead(inputFeatures: 8, outputDimension: 32, hiddenFeatures: 16, bottleneckFeatures: 6, batchNorm: true)
        XCTAssertEqual(withBatchNorm.namedParameters().map(\.name).prefix(6),
                       ["mlp.0.weight", "mlp.0.bias", "mlp.1.weight", "mlp.1.bias", "mlp.3.weight", "mlp.3.bias"],
                       "use_bn_in_head: Linear, BatchNorm1d, GELU, … as the official Sequential")
        XCTAssertTrue((withBatchNorm.copy() as DINOHead).usesBatchNorm)
        let copy = head.copy()
        XCTAssertEqual(copy.stateDict().keys, head.stateDict().keys)
        XCTAssertFalse(copy.lastLayer.weightG.requiresGrad)
    }
}

import SSLNN
import SSLTensor
import SSLTestSupport
import XCTest

/// Layer outputs and gradients against PyTorch (Reference/make_reference.py).
final class LayerReferenceTests: XCTestCase {
    private func tensor(_ literal: (shape: [Int], values: [Float])) -> Tensor {
        Tensor(shape: literal.shape, scalars: literal.values)
    }

    func testLinearMatchesPyTorchValuesAndGradients() throws {
        let layer = Linear(4, 3)
        layer.weight.copyIn(tensor(NNReference.linearWeight))
        try XCTUnwrap(layer.bias).copyIn(tensor(NNReference.linearBias))
        let x = tensor(NNReference.linearInput).requiringGrad()
        let y = layer(x)
        assertClose(y, tensor(NNReference.linearOutput), rtol: 1e-5, atol: 1e-6)
        y.backward(gradient: tensor(NNReference.linearUpstream))
        assertClose(x.grad!, tensor(NNReference.linearGradInput), rtol: 1e-5, atol: 1e-6)
        assertClose(layer.weight.grad!, tensor(NNReference.linearGradWeight), rtol: 1e-5, atol: 1e-6)
        assertClose(layer.bias!.grad!, tensor(NNReference.linearGradBias), rtol: 1e-5, atol: 1e-6)
    }

    func testConv2dMatchesPyTorchValuesAndGradients() throws {
        let layer = Conv2d(2, 3, kernelSize: 3, padding: 1)
        layer.weight.copyIn(tensor(NNReference.convWeight))
        try XCTUnwrap(layer.bias).copyIn(tensor(NNReference.convBias))
        let x = tensor(NNReference.convInput).requiringGrad()
        let y = layer(x)
        assertClose(y, tensor(NNReference.convOutput), rtol: 1e-5, atol: 1e-5)
        y.backward(gradient: tensor(NNReference.convUpstream))
        assertClose(x.grad!, tensor(NNReference.convGradInput), rtol: 1e-5, atol: 1e-5)
        assertClose(layer.weight.grad!, tensor(NNReference.convGradWeight), rtol: 1e-5, atol: 1e-5)
        assertClose(layer.bias!.grad!, tensor(NNReference.convGradBias), rtol: 1e-5, atol: 1e-5)
    }

    func testBatchNorm1dInTrainingAndEvaluationMatchesPyTorch() throws {
        let norm = BatchNorm1d(3)
        norm.weight!.copyIn(tensor(NNReference.bn1dWeight))
        norm.bias!.copyIn(tensor(NNReference.bn1dBias))
        let x = tensor(NNReference.bn1dInput).requiringGrad()
        let y = norm(x)
        assertClose(y, tensor(NNReference.bn1dOutput), rtol: 1e-5, atol: 1e-5)
        y.backward(gradient: tensor(NNReference.bn1dUpstream))
        assertClose(x.grad!, tensor(NNReference.bn1dGradInput), rtol: 1e-4, atol: 1e-5)
        assertClose(norm.weight!.grad!, tensor(NNReference.bn1dGradWeight), rtol: 1e-5, atol: 1e-5)
        assertClose(norm.bias!.grad!, tensor(NNReference.bn1dGradBias), rtol: 1e-5, atol: 1e-5)
        assertClose(norm.runningMean!, tensor(NNReference.bn1dRunningMean), rtol: 1e-5, atol: 1e-6)
        assertClose(norm.runningVariance!, tensor(NNReference.bn1dRunningVar), rtol: 1e-5, atol: 1e-6)

        norm.eval()
        norm.runningMean!.copyIn(tensor(NNReference.bn1dEvalRunningMean))
        norm.runningVariance!.copyIn(tensor(NNReference.bn1dEvalRunningVar))
        let evalInput = tensor(NNReference.bn1dEvalInput).requiringGrad()
        let evalOutput = norm(evalInput)
        assertClose(evalOutput, tensor(NNReference.bn1dEvalOutput), rtol: 1e-5, atol: 1e-5)
        evalOutput.backward(gradient: tensor(NNReference.bn1dEvalUpstream))
        assertClose(evalInput.grad!, tensor(NNReference.bn1dEvalGradInput), rtol: 1e-5, atol: 1e-5)
        // Evaluation leaves the running statistics alone.
        assertClose(norm.runningMean!, tensor(NNReference.bn1dEvalRunningMean))
    }

    func testBatchNorm2dMatchesPyTorchAndItsRunningStatisticsAfterThreeSteps() {
        let norm = BatchNorm2d(2)
        norm.weight!.copyIn(tensor(NNReference.bn2dWeight))
        norm.bias!.copyIn(tensor(NNReference.bn2dBias))
        let x = tensor(NNReference.bn2dInput).requiringGrad()
        let y = norm(x)
        assertClose(y, tensor(NNReference.bn2dOutput), rtol: 1e-5, atol: 1e-5)
        y.backward(gradient: tensor(NNReference.bn2dUpstream))
        assertClose(x.grad!, tensor(NNReference.bn2dGradInput), rtol: 1e-4, atol: 1e-5)
        assertClose(norm.weight!.grad!, tensor(NNReference.bn2dGradWeight), rtol: 1e-5, atol: 1e-5)
        assertClose(norm.bias!.grad!, tensor(NNReference.bn2dGradBias), rtol: 1e-5, atol: 1e-5)

        let fresh = BatchNorm2d(2)
        for input in [NNReference.bn2dStep1Input, NNReference.bn2dStep2Input, NNReference.bn2dStep3Input] {
            _ = fresh(tensor(input))
        }
        assertClose(fresh.runningMean!, tensor(NNReference.bn2dRunningMeanAfter3), rtol: 1e-5, atol: 1e-6)
        assertClose(fresh.runningVariance!, tensor(NNReference.bn2dRunningVarAfter3), rtol: 1e-5, atol: 1e-6)
        XCTAssertEqual(fresh.batchesTracked!.item(), Float(NNReference.bn2dBatchesTrackedAfter3))
        fresh.eval()
        assertClose(fresh(tensor(NNReference.bn2dEvalInput)), tensor(NNReference.bn2dEvalOutput), rtol: 1e-5, atol: 1e-5)
    }

    func testLayerNormMatchesPyTorchValuesAndGradients() {
        let norm = LayerNorm(4)
        norm.weight!.copyIn(tensor(NNReference.layerNormWeight))
        norm.bias!.copyIn(tensor(NNReference.layerNormBias))
        let x = tensor(NNReference.layerNormInput).requiringGrad()
        let y = norm(x)
        assertClose(y, tensor(NNReference.layerNormOutput), rtol: 1e-5, atol: 1e-5)
        y.backward(gradient: tensor(NNReference.layerNormUpstream))
        assertClose(x.grad!, tensor(NNReference.layerNormGradInput), rtol: 1e-4, atol: 1e-5)
        assertClose(norm.weight!.grad!, tensor(NNReference.layerNormGradWeight), rtol: 1e-5, atol: 1e-5)
        assertClose(norm.bias!.grad!, tensor(NNReference.layerNormGradBias), rtol: 1e-5, atol: 1e-5)
    }

    func testDefaultInitialisationBoundsMatchPyTorch() {
        let linear = ParameterInitialization.withSeed(1) { Linear(400, 50) }
        let bound = 1 / Float(400).squareRoot()
        XCTAssertLessThanOrEqual(linear.weight.abs().max().item(), bound)
        XCTAssertGreaterThan(linear.weight.abs().max().item(), 0.95 * bound)
        XCTAssertLessThanOrEqual(linear.bias!.abs().max().item(), bound)
        let conv = ParameterInitialization.withSeed(1) { Conv2d(16, 8, kernelSize: 3) }
        XCTAssertLessThanOrEqual(conv.weight.abs().max().item(), 1 / Float(144).squareRoot())
    }
}

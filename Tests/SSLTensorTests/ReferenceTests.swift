import SSLTensor
import SSLTestSupport
import XCTest

/// Layers of the engine checked against numbers from Reference/make_reference.py (numpy).
final class ReferenceTests: XCTestCase {
    private func tensor(_ literal: (shape: [Int], values: [Float])) -> Tensor {
        Tensor(shape: literal.shape, scalars: literal.values)
    }

    func testMatmulMatchesReferenceValuesAndGradients() {
        let a = tensor(ReferenceValues.matmulA).requiringGrad()
        let b = tensor(ReferenceValues.matmulB).requiringGrad()
        let c = a.matmul(b)
        assertClose(c, tensor(ReferenceValues.matmulC), rtol: 1e-5, atol: 1e-5)
        c.backward(gradient: tensor(ReferenceValues.matmulUpstream))
        assertClose(a.grad!, tensor(ReferenceValues.matmulGradA), rtol: 1e-5, atol: 1e-5)
        assertClose(b.grad!, tensor(ReferenceValues.matmulGradB), rtol: 1e-5, atol: 1e-5)
    }

    func testTransposedMatmulOperandsMatchReference() {
        // Aᵀ stored as [4, 3] and Bᵀ stored as [5, 4] give the same product.
        let aT = tensor(ReferenceValues.matmulA).transposed().contiguous()
        let bT = tensor(ReferenceValues.matmulB).transposed().contiguous()
        assertClose(aT.matmul(bT, transposeSelf: true, transposeOther: true), tensor(ReferenceValues.matmulC),
                    rtol: 1e-5, atol: 1e-5)
    }

    func testConv2dMatchesReferenceValuesAndGradients() {
        let x = tensor(ReferenceValues.convInput).requiringGrad()
        let w = tensor(ReferenceValues.convWeight).requiringGrad()
        let b = tensor(ReferenceValues.convBias).requiringGrad()
        let y = x.conv2d(weight: w, bias: b, stride: 1, padding: 1)
        assertClose(y, tensor(ReferenceValues.convOutput), rtol: 1e-5, atol: 1e-5)
        y.backward(gradient: tensor(ReferenceValues.convUpstream))
        assertClose(x.grad!, tensor(ReferenceValues.convGradInput), rtol: 1e-5, atol: 1e-5)
        assertClose(w.grad!, tensor(ReferenceValues.convGradWeight), rtol: 1e-5, atol: 1e-5)
        assertClose(b.grad!, tensor(ReferenceValues.convGradBias), rtol: 1e-5, atol: 1e-5)
    }

    func testStridedConv2dMatchesReference() {
        let x = tensor(ReferenceValues.convInput).requiringGrad()
        let w = tensor(ReferenceValues.convWeight).requiringGrad()
        let y = x.conv2d(weight: w, stride: 2, padding: 1)
        assertClose(y, tensor(ReferenceValues.convStride2Output), rtol: 1e-5, atol: 1e-5)
        y.backward(gradient: tensor(ReferenceValues.convStride2Upstream))
        assertClose(x.grad!, tensor(ReferenceValues.convStride2GradInput), rtol: 1e-5, atol: 1e-5)
        assertClose(w.grad!, tensor(ReferenceValues.convStride2GradWeight), rtol: 1e-5, atol: 1e-5)
    }

    func testMaxPoolMatchesReference() {
        let x = tensor(ReferenceValues.maxPoolInput).requiringGrad()
        let y = x.maxPool2d(kernelSize: 2, stride: 2)
        assertClose(y, tensor(ReferenceValues.maxPoolOutput))
        y.backward(gradient: tensor(ReferenceValues.maxPoolUpstream))
        assertClose(x.grad!, tensor(ReferenceValues.maxPoolGradInput))
    }

    func testAvgPoolWithPaddingMatchesReference() {
        let x = tensor(ReferenceValues.avgPoolInput).requiringGrad()
        let y = x.avgPool2d(kernelSize: 3, stride: 2, padding: 1)
        assertClose(y, tensor(ReferenceValues.avgPoolOutput), rtol: 1e-5, atol: 1e-6)
        y.backward(gradient: tensor(ReferenceValues.avgPoolUpstream))
        assertClose(x.grad!, tensor(ReferenceValues.avgPoolGradInput), rtol: 1e-5, atol: 1e-6)
    }

    func testSoftmaxAndLogSoftmaxMatchReference() {
        let x = tensor(ReferenceValues.softmaxInput).requiringGrad()
        let s = x.softmax(axis: -1)
        assertClose(s, tensor(ReferenceValues.softmaxOutput), rtol: 1e-5, atol: 1e-6)
        s.backward(gradient: tensor(ReferenceValues.softmaxUpstream))
        assertClose(x.grad!, tensor(ReferenceValues.softmaxGradInput), rtol: 1e-4, atol: 1e-6)

        let z = tensor(ReferenceValues.softmaxInput).requiringGrad()
        let l = z.logSoftmax(axis: 1)
        assertClose(l, tensor(ReferenceValues.logSoftmaxOutput), rtol: 1e-5, atol: 1e-5)
        l.backward(gradient: tensor(ReferenceValues.softmaxUpstream))
        assertClose(z.grad!, tensor(ReferenceValues.logSoftmaxGradInput), rtol: 1e-4, atol: 1e-6)
    }

    func testCrossEntropyMatchesReferenceWithAndWithoutLabelSmoothing() {
        let targets = IntTensor(ReferenceValues.crossEntropyTargets)
        let logits = tensor(ReferenceValues.crossEntropyLogits).requiringGrad()
        let loss = logits.crossEntropy(targets: targets)
        assertClose([loss.item()], ReferenceValues.crossEntropyLoss.values, rtol: 1e-5)
        loss.backward()
        assertClose(logits.grad!, tensor(ReferenceValues.crossEntropyGrad), rtol: 1e-4, atol: 1e-6)

        let smoothedLogits = tensor(ReferenceValues.crossEntropyLogits).requiringGrad()
        let smoothed = smoothedLogits.crossEntropy(targets: targets, labelSmoothing: 0.1)
        assertClose([smoothed.item()], ReferenceValues.crossEntropySmoothedLoss.values, rtol: 1e-5)
        smoothed.backward()
        assertClose(smoothedLogits.grad!, tensor(ReferenceValues.crossEntropySmoothedGrad), rtol: 1e-4, atol: 1e-6)
    }
}

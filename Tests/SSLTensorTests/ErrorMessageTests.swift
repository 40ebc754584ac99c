import SSLTensor
import Testing

/// Programmer errors stop the process with a message naming the op, the shapes and what was
/// expected. Each case runs in a child process (a Swift Testing exit test).
@Suite struct ErrorMessageTests {
    private func stderrText(_ result: ExitTest.Result?) -> String {
        String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
    }

    @Test func matmulInnerDimensionMismatchNamesBothShapes() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.zeros([2, 3]).matmul(Tensor.zeros([4, 5]))
        }
        #expect(stderrText(result).contains("matmul: inner dimensions differ: [2, 3] · [4, 5] (3 vs 4)"))
    }

    @Test func broadcastMismatchNamesOpShapesAndAxis() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.zeros([2, 3]) + Tensor.zeros([4])
        }
        #expect(stderrText(result).contains("add: shapes [2, 3] and [4] cannot be broadcast together (axis 1: 3 vs 4)"))
    }

    @Test func conv2dChannelMismatchNamesShapes() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.zeros([1, 3, 8, 8]).conv2d(weight: Tensor.zeros([4, 2, 3, 3]))
        }
        #expect(stderrText(result).contains("conv2d: input has 3 channels but weight [4, 2, 3, 3] expects 2"))
    }

    @Test func reshapeToWrongCountNamesBothShapes() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.zeros([2, 3]).reshape([4, 2])
        }
        #expect(stderrText(result).contains("reshape: cannot reshape [2, 3] (6 elements) to [4, 2]"))
    }

    @Test func backwardOfNonScalarWithoutGradientExplains() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let x = Tensor.ones([3], requiresGrad: true)
            (x * 2).backward()
        }
        #expect(stderrText(result).contains("backward(): tensor has shape [3]; a non-scalar output needs backward(gradient:)"))
    }

    @Test func secondBackwardThroughFreedGraphExplains() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            let x = Tensor.ones([1], requiresGrad: true)
            let y = (x * x).sum()
            y.backward()
            y.backward()
        }
        #expect(stderrText(result).contains("already freed by an earlier backward(); pass retainGraph: true"))
    }

    @Test func crossEntropyTargetOutOfRangeNamesTheClassCount() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.zeros([2, 3]).crossEntropy(targets: IntTensor([0, 5]))
        }
        #expect(stderrText(result).contains("crossEntropy: target 5 out of range for 3 classes"))
    }
}

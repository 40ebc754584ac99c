import SSLOptim
import SSLTensor
import SSLTestSupport
import XCTest

/// Five steps of each optimizer on a fixed least-squares problem, against PyTorch
/// (Reference/make_reference.py): final parameters and the loss before every step.
final class OptimizerParityTests: XCTestCase {
    private func tensor(_ literal: (shape: [Int], values: [Float])) -> Tensor {
        Tensor(shape: literal.shape, scalars: literal.values)
    }

    /// Runs 5 steps; returns the losses before each step and the final (W, b).
    private func train(_ makeOptimizer: ([(name: String, tensor: Tensor)]) -> Optimizer) -> ([Float], Tensor, Tensor) {
        let w = tensor(OptimReference.optimW0).requiringGrad()
        let b = tensor(OptimReference.optimB0).requiringGrad()
        let x = tensor(OptimReference.optimX), y = tensor(OptimReference.optimY)
        let optimizer = makeOptimizer([("W", w), ("b", b)])
        var losses: [Float] = []
        for _ in 0..<5 {
            optimizer.zeroGrad()
            let residual = x.matmul(w) + b - y
            let loss = (residual * residual).mean()
            losses.append(loss.item())
            loss.backward()
            optimizer.step()
        }
        return (losses, w, b)
    }

    private func check(
        _ name: String, _ makeOptimizer: ([(name: String, tensor: Tensor)]) -> Optimizer,
        losses: [Float], w: (shape: [Int], values: [Float]), b: (shape: [Int], values: [Float]),
        file: StaticString = #filePath, line: UInt = #line
    ) {
        let (ourLosses, ourW, ourB) = train(makeOptimizer)
        assertClose(ourLosses, losses, rtol: 1e-5, atol: 1e-6, "\(name) losses", file: file, line: line)
        assertClose(ourW, tensor(w), rtol: 1e-5, atol: 1e-6, "\(name) W", file: file, line: line)
        assertClose(ourB, tensor(b), rtol: 1e-5, atol: 1e-6, "\(name) b", file: file, line: line)
    }

    func testSGDVariantsMatchPyTorch() {
        check("SGD", { SGD($0, learningRate: 0.1) },
              losses: OptimReference.sgdPlainLosses, w: OptimReference.sgdPlainW, b: OptimReference.sgdPlainB)
        check("SGD momentum", { SGD($0, learningRate: 0.1, momentum: 0.9, dampening: 0.1, weightDecay: 0.01) },
              losses: OptimReference.sgdMomentumLosses, w: OptimReference.sgdMomentumW, b: OptimReference.sgdMomentumB)
        check("SGD Nesterov", { SGD($0, learningRate: 0.1, momentum: 0.9, weightDecay: 0.01, nesterov: true) },
              losses: OptimReference.sgdNesterovLosses, w: OptimReference.sgdNesterovW, b: OptimReference.sgdNesterovB)
    }

    func testAdamAndAdamWMatchPyTorch() {
        // Note the reference names: `adamW`/`adamB` are Adam's results, `adamWW`/`adamWB` AdamW's.
        check("Adam", { Adam($0, learningRate: 0.01) },
              losses: OptimReference.adamLosses, w: OptimReference.adamW, b: OptimReference.adamB)
        check("Adam weight decay", { Adam($0, learningRate: 0.01, weightDecay: 0.1) },
              losses: OptimReference.adamWeightDecayLosses, w: OptimReference.adamWeightDecayW,
              b: OptimReference.adamWeightDecayB)
        check("AdamW", { AdamW($0, learningRate: 0.01, weightDecay: 0.01) },
              losses: OptimReference.adamWLosses, w: OptimReference.adamWW, b: OptimReference.adamWB)
    }

    func testParameterGroupsChosenByNameMatchPyTorchGroups() {
        let biasGroup = ParameterGroupRule<Adam.Options>("bias", matching: { $0 == "b" }) {
            $0.learningRate = 0.02
            $0.weightDecay = 0
        }
        check("AdamW groups", { AdamW($0, learningRate: 0.01, weightDecay: 0.05, groups: [biasGroup]) },
              losses: OptimReference.adamWGroupsLosses, w: OptimReference.adamWGroupsW, b: OptimReference.adamWGroupsB)
        let optimizer = AdamW([("W", Tensor.zeros([2])), ("b", Tensor.zeros([2]))], groups: [biasGroup])
        XCTAssertEqual(optimizer.groupNames, ["bias", "default"])
        XCTAssertEqual(optimizer.learningRates, [0.02, 1e-3])
        XCTAssertEqual(optimizer.groups[1].options.weightDecay, 1e-2, "PyTorch's AdamW default")
    }

    func testLARSMatchesTheReferenceImplementation() {
        check("LARS", { LARS($0, learningRate: 0.1, momentum: 0.9, weightDecay: 0.01, trustCoefficient: 0.02) },
              losses: OptimReference.larsLosses, w: OptimReference.larsW, b: OptimReference.larsB)
    }

    func testOptimizerStateRoundTripContinuesExactly() throws {
        // Three steps, save, two more in a fresh optimizer from the saved state, against five steps.
        let (_, fullW, fullB) = train { AdamW($0, learningRate: 0.01) }
        let w = tensor(OptimReference.optimW0).requiringGrad(), b = tensor(OptimReference.optimB0).requiringGrad()
        let x = tensor(OptimReference.optimX), y = tensor(OptimReference.optimY)
        func run(_ optimizer: Optimizer, steps: Int) {
            for _ in 0..<steps {
                optimizer.zeroGrad()
                let residual = x.matmul(w) + b - y
                (residual * residual).mean().backward()
                optimizer.step()
            }
        }
        let first = AdamW([("W", w), ("b", b)], learningRate: 0.01)
        run(first, steps: 3)
        let saved = first.stateDict()
        XCTAssertEqual(saved["param.W.step"]?.item(), 3)
        let second = AdamW([("W", w), ("b", b)], learningRate: 0.01)
        try second.loadStateDict(saved)
        run(second, steps: 2)
        XCTAssertEqual(w.scalars, fullW.scalars)
        XCTAssertEqual(b.scalars, fullB.scalars)
        XCTAssertThrowsError(try AdamW([("other", w)]).loadStateDict(saved)) { error in
            XCTAssertTrue(String(describing: error).contains("does not hold"), "\(error)")
        }
    }

    func testParametersWithoutGradientsAreSkipped() {
        let frozen = Tensor([1, 2, 3])
        let optimizer = SGD([("frozen", frozen)], learningRate: 1, momentum: 0.9)
        optimizer.step()
        XCTAssertEqual(frozen.scalars, [1, 2, 3])
    }
}

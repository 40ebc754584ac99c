import SSLOptim
import SSLTensor
import SSLTestSupport
import XCTest

/// Learning-rate sequences and gradient clipping against PyTorch.
final class ScheduleAndClippingTests: XCTestCase {
    private func optimizer() -> SGD { SGD([("p", Tensor.zeros([1]))], learningRate: 0.1) }

    /// The rate at creation, then after each of `steps` steps.
    private func sequence(_ scheduler: LearningRateScheduler, _ optimizer: Optimizer, steps: Int) -> [Float] {
        var rates = [optimizer.learningRates[0]]
        for _ in 0..<steps {
            scheduler.step()
            rates.append(optimizer.learningRates[0])
        }
        return rates
    }

    func testClosedFormSchedulesMatchPyTorch() {
        var opt = optimizer()
        assertClose(sequence(ClosedFormScheduler.cosineAnnealing(opt, totalSteps: 10, minimumLearningRate: 0.001), opt, steps: 12),
                    OptimReference.cosineAnnealingLRs, rtol: 1e-5, atol: 1e-7, "cosine")
        opt = optimizer()
        assertClose(sequence(ClosedFormScheduler.linearWarmupCosine(opt, warmupSteps: 3, totalSteps: 10, startFactor: 0.01), opt, steps: 10),
                    OptimReference.warmupCosineLRs, rtol: 1e-5, atol: 1e-7, "warmup cosine")
        opt = optimizer()
        assertClose(sequence(ClosedFormScheduler.stepDecay(opt, stepSize: 3, gamma: 0.5), opt, steps: 10),
                    OptimReference.stepLRs, rtol: 1e-6, atol: 1e-8, "step")
        opt = optimizer()
        assertClose(sequence(ClosedFormScheduler.exponential(opt, gamma: 0.9), opt, steps: 10),
                    OptimReference.exponentialLRs, rtol: 1e-5, atol: 1e-8, "exponential")
        opt = optimizer()
        assertClose(sequence(ClosedFormScheduler.linear(opt, startFactor: 0.25, totalSteps: 4), opt, steps: 6),
                    OptimReference.linearLRs, rtol: 1e-6, atol: 1e-8, "linear")
        opt = optimizer()
        XCTAssertEqual(sequence(ClosedFormScheduler.constant(opt), opt, steps: 3), [0.1, 0.1, 0.1, 0.1])
    }

    func testReduceOnPlateauMatchesPyTorchInBothModes() {
        var opt = optimizer()
        var plateau = ReduceLROnPlateau(opt, mode: .min, factor: 0.5, patience: 2, threshold: 1e-4, cooldown: 1,
                                        minimumLearningRate: 0.01)
        var rates: [Float] = []
        for metric in OptimReference.plateauMetrics {
            plateau.step(metric: metric)
            rates.append(opt.learningRates[0])
        }
        assertClose(rates, OptimReference.plateauLRs, rtol: 1e-6, atol: 1e-8, "min mode")
        opt = optimizer()
        plateau = ReduceLROnPlateau(opt, mode: .max, factor: 0.5, patience: 2, threshold: 1e-4, cooldown: 1,
                                    minimumLearningRate: 0.01)
        rates = []
        for metric in OptimReference.plateauMaxMetrics {
            plateau.step(metric: metric)
            rates.append(opt.learningRates[0])
        }
        assertClose(rates, OptimReference.plateauMaxLRs, rtol: 1e-6, atol: 1e-8, "max mode")
    }

    func testSchedulerStateRestoresTheRate() throws {
        let opt = optimizer()
        let schedule = ClosedFormScheduler.cosineAnnealing(opt, totalSteps: 10)
        for _ in 0..<4 { schedule.step() }
        let saved = schedule.stateDict()
        let fresh = optimizer()
        let restored = ClosedFormScheduler.cosineAnnealing(fresh, totalSteps: 10)
        try restored.loadStateDict(saved)
        XCTAssertEqual(fresh.learningRates, opt.learningRates)
        XCTAssertEqual(restored.stepCount, 4)
        XCTAssertThrowsError(try restored.loadStateDict([:]))
    }

    /// A damaged checkpoint's step counts (1e30 trapped converting to Int before) are errors.
    func testSchedulerAndOptimizerStateWithImpossibleStepCountsThrows() throws {
        let schedule = ClosedFormScheduler.cosineAnnealing(optimizer(), totalSteps: 10)
        for step: Float in [1e30, -1, 2.5, .nan, .infinity] {
            XCTAssertThrowsError(try schedule.loadStateDict(["step": step]), "step \(step)")
        }
        let plateau = ReduceLROnPlateau(optimizer(), mode: .min)
        let good = plateau.stateDict()
        for (key, value) in [("step", Float(1e30)), ("bad_steps", -3), ("cooldown_remaining", 1e20), ("best", .nan)] {
            var state = good
            state[key] = value
            XCTAssertThrowsError(try plateau.loadStateDict(state), "\(key) \(value)")
        }
        let opt = optimizer()
        let (name, parameter) = try XCTUnwrap(opt.namedParameters.first)
        parameter.grad = Tensor.ones(parameter.shape)
        opt.step()
        var state = opt.stateDict()
        state["param.\(name).step"] = Tensor(Float(1e30))
        XCTAssertThrowsError(try optimizer().loadStateDict(state))
    }

    func testGradientClippingByNormAndValueMatchesPyTorch() {
        func parameters() -> [Tensor] {
            let a = Tensor.zeros([3]).requiringGrad(), b = Tensor.zeros([2, 2]).requiringGrad()
            a.grad = Tensor(shape: OptimReference.clipGrad1.shape, scalars: OptimReference.clipGrad1.values)
            b.grad = Tensor(shape: OptimReference.clipGrad2.shape, scalars: OptimReference.clipGrad2.values)
            return [a, b]
        }
        var params = parameters()
        let norm = clipGradientNorm(params, maxNorm: 1.0)
        assertClose([norm], OptimReference.clipTotalNorm, rtol: 1e-6)
        assertClose(params[0].grad!.scalars, OptimReference.clipNormGrad1.values, rtol: 1e-5, atol: 1e-7)
        assertClose(params[1].grad!.scalars, OptimReference.clipNormGrad2.values, rtol: 1e-5, atol: 1e-7)

        params = parameters()
        let large = clipGradientNorm(params, maxNorm: 100)
        assertClose([large], OptimReference.clipTotalNormLarge, rtol: 1e-6)
        XCTAssertEqual(params[0].grad!.scalars, OptimReference.clipGrad1.values, "no clipping below the limit")

        params = parameters()
        clipGradientValue(params, maxValue: 0.5)
        assertClose(params[0].grad!.scalars, OptimReference.clipValueGrad1.values)
        assertClose(params[1].grad!.scalars, OptimReference.clipValueGrad2.values)
    }
}

import SSLMethods
import SSLNN
import SSLOptim
import SSLTensor
import SSLTestSupport
import SSLTraining
import XCTest

/// TeacherStudentModule semantics, its EMA callback and its checkpointed coefficient.
final class TeacherStudentTests: XCTestCase {
    private func filled(_ module: Module, _ value: Float) {
        for (_, tensor) in module.namedParameters() { tensor.fill(with: value) }
    }

    func testEMAOfTwoAndOneWithHalfGivesOnePointFiveAndLeavesTheStudent() throws {
        let pair = try TeacherStudentModule(student: Linear(3, 2), baseEMACoefficient: 0.5, finalEMACoefficient: 0.5)
        filled(pair.student, 2)
        filled(pair.teacher, 1)
        pair.emaCoefficient = 0.5
        pair.updateTeacher()
        for (_, tensor) in pair.teacher.namedParameters() { XCTAssertTrue(tensor.scalars.allSatisfy { $0 == 1.5 }) }
        for (_, tensor) in pair.student.namedParameters() { XCTAssertTrue(tensor.scalars.allSatisfy { $0 == 2 }) }
    }

    func testTeacherIsAFrozenWarmCopyUnlessBothCoefficientsAreZero() throws {
        let pair = try TeacherStudentModule(student: MLP([3, 4, 2]))
        XCTAssertFalse(pair.teacher === pair.student)
        XCTAssertEqual(pair.teacher.parameters().map(\.scalars), pair.student.parameters().map(\.scalars))
        XCTAssertTrue(pair.teacher.parameters().allSatisfy { !$0.requiresGrad })
        XCTAssertTrue(pair.student.parameters().allSatisfy { $0.requiresGrad })
        let x = testTensor([2, 3], seed: 1)
        XCTAssertFalse(pair.forwardTeacher(x).requiresGrad)
        XCTAssertFalse(pair(x).requiresGrad, "forward runs the teacher")
        XCTAssertTrue(pair.forwardStudent(x).requiresGrad)
        let cold = try ParameterInitialization.withSeed(3) { try TeacherStudentModule(student: Linear(3, 2), warmInit: false) }
        XCTAssertNotEqual(cold.teacher.weight.scalars, cold.student.weight.scalars)

        let shared = try TeacherStudentModule(student: Linear(3, 2), baseEMACoefficient: 0, finalEMACoefficient: 0)
        XCTAssertTrue(shared.teacher === shared.student, "the same object, no copy")
        XCTAssertTrue(shared.teacherIsStudent)
        let output = shared.forwardTeacher(x)
        XCTAssertFalse(output.requiresGrad, "a teacher forward builds no graph")
        XCTAssertTrue(output.isLeaf)
        XCTAssertEqual(shared.namedParameters().map(\.name), ["student.weight", "student.bias"], "counted once")
    }

    func testCosineAndPerStepSchedulesGiveTheDocumentedCoefficients() throws {
        let pair = try TeacherStudentModule(student: Linear(2, 2), baseEMACoefficient: 0.996, finalEMACoefficient: 1)
        var values: [Float] = []
        for epoch in [0, 50, 100] {
            pair.updateEMACoefficient(epoch: epoch, totalEpochs: 100)
            values.append(pair.emaCoefficient)
        }
        assertClose(values, SSLReference.emaCosineCoefficients, rtol: 0, atol: 1e-7)
        XCTAssertEqual(values, [0.996, 0.998, 1.0])
        let stepped = try TeacherStudentModule(student: Linear(2, 2), baseEMACoefficient: 0.9995, finalEMACoefficient: 1)
        values = []
        for step in [0, 500, 1000] {
            stepped.updateEMACoefficient(step: step, totalSteps: 1000)
            values.append(stepped.emaCoefficient)
        }
        assertClose(values, SSLReference.emaStepCoefficients, rtol: 0, atol: 1e-7)
    }

    func testBatchNormStatisticsAreAveragedAndBatchesTrackedCopiedOrLeftWithSkipBuffers() throws {
        for skip in [false, true] {
            let pair = try TeacherStudentModule(student: BatchNorm1d(2), baseEMACoefficient: 0.5, finalEMACoefficient: 0.5,
                                            skipBuffers: skip)
            pair.student.runningMean!.fill(with: 4)
            pair.student.runningVariance!.fill(with: 3)
            pair.student.batchesTracked!.fill(with: 7)
            pair.teacher.runningMean!.fill(with: 2)
            pair.updateTeacher()
            if skip {
                XCTAssertEqual(pair.teacher.runningMean!.scalars, [2, 2])
                XCTAssertEqual(pair.teacher.runningVariance!.scalars, [1, 1])
                XCTAssertEqual(pair.teacher.batchesTracked!.item(), 0)
            } else {
                XCTAssertEqual(pair.teacher.runningMean!.scalars, [3, 3], "0.5·2 + 0.5·4")
                XCTAssertEqual(pair.teacher.runningVariance!.scalars, [2, 2], "0.5·1 + 0.5·3")
                XCTAssertEqual(pair.teacher.batchesTracked!.item(), 7, "integer buffers are copied")
            }
        }
    }

    // MARK: Within a fit

    struct Parts {
        let encoder: TeacherStudentModule<Linear>
        let head: Linear
        init(interval: Int = 1, schedule: EMASchedule = .perEpoch) throws {
            (encoder, head) = try ParameterInitialization.withSeed(2) {
                (try TeacherStudentModule(student: Linear(4, 3), baseEMACoefficient: 0.9, finalEMACoefficient: 1,
                                      interval: interval, schedule: schedule), Linear(3, 2))
            }
        }
    }

    private func module(_ parts: Parts) -> SSLModule<Parts> {
        SSLModule(parts, optimizer: .sgd(learningRate: 0.1, momentum: 0)) { m, batch, _ in
            var out = batch
            let student = m.head(m.encoder.forwardStudent(batch["x"]))
            let teacher = m.encoder.forwardTeacher(batch["x"])
            let difference = student - batch["y"]
            out["loss"] = (difference * difference).mean() + (teacher * 0).sum()
            return out
        }
    }

    private func batches(_ count: Int) -> BatchList {
        BatchList((0..<count).map { index in
            var batch = Batch()
            batch["x"] = testTensor([4, 4], seed: UInt64(index * 2 + 1))
            batch["y"] = testTensor([4, 2], seed: UInt64(index * 2 + 2))
            return batch
        })
    }

    /// Logs optimizer steps and teacher updates in order.
    final class Trace: Callback {
        var events: [String] = []
        weak var pair: TeacherStudentModule<Linear>?
        var lastCount = 0
        func onAfterOptimizerStep(_ trainer: Trainer, _ module: TrainableModule, optimizer: ConfiguredOptimizer) {
            events.append("step")
        }
        func onTrainBatchEnd(_ trainer: Trainer, _ module: TrainableModule, outputs: Batch, batch: Batch, batchIndex: Int) {
            // The EMA callback runs before every user callback: the step's update is visible here.
            if let pair, pair.updateCount > lastCount { events.append("ema"); lastCount = pair.updateCount }
            events.append("batchEnd")
        }
    }

    func testTeacherUpdatesFollowEveryRealOptimizerStepAndNeverAccumulationOnlyBatches() throws {
        let directory = try makeDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let parts = try Parts()
        let trace = Trace()
        trace.pair = parts.encoder
        let teacherBefore = parts.encoder.teacher.weight.scalars
        let trainer = Trainer(maxEpochs: 1, accumulateGradBatches: 2, numSanityValSteps: 0, callbacks: [trace],
                              rootDirectory: directory, enableProgressBar: false, enableCheckpointing: false)
        try trainer.fit(module(parts), train: batches(4), validation: batches(1))
        // Batches 0,1 → one step; batches 2,3 → one step; each step followed by exactly one update.
        XCTAssertEqual(trace.events, ["batchEnd", "step", "ema", "batchEnd", "batchEnd", "step", "ema", "batchEnd"])
        XCTAssertEqual(parts.encoder.updateCount, 2)
        XCTAssertNotEqual(parts.encoder.teacher.weight.scalars, teacherBefore)
        XCTAssertTrue(parts.encoder.teacher.weight.grad == nil, "the teacher never receives gradients")
        let optimized = module(parts)
        optimized.configureOptimizers(totalSteps: 1)
        XCTAssertFalse(optimized.optimizers[0].optimizer.namedParameters.contains { $0.name.hasPrefix("encoder.teacher") },
                       "teacher parameters never enter an optimizer")
    }

    func testIntervalThreeUpdatesOnEveryThirdStepOnly() throws {
        let directory = try makeDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let parts = try Parts(interval: 3)
        let trainer = Trainer(maxEpochs: 1, numSanityValSteps: 0, rootDirectory: directory, enableProgressBar: false,
                              enableCheckpointing: false)
        try trainer.fit(module(parts), train: batches(7))
        XCTAssertEqual(parts.encoder.updateCount, 2, "steps 3 and 6 of 7")
    }

    func testAutomaticUpdatesCanBeTurnedOff() throws {
        let directory = try makeDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let pair = try TeacherStudentModule(student: Linear(4, 2), automaticUpdates: false)
        struct Only { let encoder: TeacherStudentModule<Linear> }
        let module = SSLModule(Only(encoder: pair)) { m, batch, _ in
            var out = batch
            out["loss"] = m.encoder.forwardStudent(batch["x"]).pow(2).mean()
            return out
        }
        try Trainer(maxEpochs: 1, numSanityValSteps: 0, rootDirectory: directory, enableProgressBar: false,
                    enableCheckpointing: false).fit(module, train: batches(2))
        XCTAssertEqual(pair.updateCount, 0)
    }

    func testAResumedFitKeepsTheCoefficient() throws {
        let directory = try makeDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let first = try Parts(schedule: .perStep)
        let stopper = StopAt(step: 3)
        try Trainer(maxEpochs: 2, numSanityValSteps: 0, callbacks: [stopper], rootDirectory: directory, name: "ema",
                    enableProgressBar: false).fit(module(first), train: batches(4))
        let coefficient = first.encoder.emaCoefficient
        XCTAssertNotEqual(coefficient, 0.9)
        let second = try Parts(schedule: .perStep)
        XCTAssertEqual(second.encoder.emaCoefficient, 0.9)
        final class CoefficientAtStart: Callback {
            let pair: TeacherStudentModule<Linear>
            var value: Float?
            init(_ pair: TeacherStudentModule<Linear>) { self.pair = pair }
            func onTrainStart(_ trainer: Trainer, _ module: TrainableModule) { value = pair.emaCoefficient }
        }
        let probe = CoefficientAtStart(second.encoder)
        let resumed = Trainer(maxEpochs: 2, numSanityValSteps: 0, callbacks: [probe], rootDirectory: directory,
                              name: "ema", enableProgressBar: false)
        try resumed.fit(module(second), train: batches(4), resumeFrom: .last)
        XCTAssertEqual(probe.value, coefficient, "the coefficient comes back from the checkpoint")
        XCTAssertEqual(resumed.globalStep, 8)
    }

    private func makeDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ssl-methods-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}

/// Stops the fit once the global step reaches `step`.
final class StopAt: Callback {
    let step: Int
    init(step: Int) { self.step = step }
    func onTrainBatchStart(_ trainer: Trainer, _ module: TrainableModule, batch: Batch, batchIndex: Int) {
        if trainer.globalStep >= step { trainer.shouldStop = true }
    }
    func onTrainBatchEnd(_ trainer: Trainer, _ module: TrainableModule, outputs: Batch, batch: Batch, batchIndex: Int) {
        if trainer.globalStep >= step { trainer.shouldStop = true }
    }
}

/// Issue 16's teacher–student defects, each checked the way it went wrong.
final class TeacherStudentDefectTests: XCTestCase {
    /// Records the coefficient used by every update (read after the EMA callback ran).
    final class CoefficientTrace: Callback {
        let pair: TeacherStudentModule<Linear>
        var used: [Float] = []
        init(_ pair: TeacherStudentModule<Linear>) { self.pair = pair }
        func onTrainBatchEnd(_ trainer: Trainer, _ module: TrainableModule, outputs: Batch, batch: Batch, batchIndex: Int) {
            used.append(pair.emaCoefficient)
        }
    }

    func testPerStepScheduleUsesTheBaseForTheFirstUpdateAndStepKMinusOneForTheLast() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ssl-ema-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        struct Parts { let encoder: TeacherStudentModule<Linear> }
        let pair = try TeacherStudentModule(student: Linear(4, 2), baseEMACoefficient: 0.9, finalEMACoefficient: 1, schedule: .perStep)
        let module = SSLModule(Parts(encoder: pair), optimizer: .sgd(learningRate: 0.1)) { m, batch, _ in
            var out = batch
            out["loss"] = m.encoder.forwardStudent(batch["x"]).pow(2).mean()
            return out
        }
        let trace = CoefficientTrace(pair)
        let batches = BatchList((0..<4).map { index in
            var batch = Batch()
            batch["x"] = testTensor([3, 4], seed: UInt64(index + 1))
            return batch
        })
        try Trainer(maxEpochs: 1, numSanityValSteps: 0, callbacks: [trace], rootDirectory: directory, enableProgressBar: false,
                    enableCheckpointing: false).fit(module, train: batches)
        let expected = (0..<4).map { TeacherStudentModule<Linear>.cosineCoefficient(progress: Double($0), total: 4, base: 0.9, final: 1) }
        XCTAssertEqual(trace.used, expected, "update k uses τ(k), k = 0…K−1")
        XCTAssertEqual(trace.used.first, 0.9)
        XCTAssertLessThan(trace.used.last ?? 1, 1, "the last update is not a no-op")
    }

    func testTheEMAPairsTensorsByNameAndRefusesTreesThatDiffer() throws {
        // Same names, other registration order in the teacher: pairs by name still line up.
        final class Ordered: Module {
            init(reversed: Bool) {
                super.init()
                for name in reversed ? ["b", "a"] : ["a", "b"] { registerParameter(name, Tensor([name == "a" ? 1 : 2])) }
            }
        }
        var built = 0
        let pair = try TeacherStudentModule(make: { built += 1; return Ordered(reversed: built == 2) },
                                            baseEMACoefficient: 0.5, finalEMACoefficient: 0.5)
        XCTAssertEqual(pair.teacher.namedParameters().map(\.name), ["b", "a"])
        pair.student.namedParameters().forEach { $0.tensor.fill(with: $0.name == "a" ? 11 : 22) }
        pair.updateTeacher()
        let teacher = Dictionary(uniqueKeysWithValues: pair.teacher.namedParameters().map { ($0.name, $0.tensor.item()) })
        XCTAssertEqual(teacher, ["a": 6, "b": 12], "a ← ½·1 + ½·11, b ← ½·2 + ½·22")

        final class Sized: Module {
            init(extra: Bool) {
                super.init()
                registerParameter("a", Tensor([1]))
                if extra { registerParameter("c", Tensor([3])) }
            }
        }
        var count = 0
        XCTAssertThrowsError(try TeacherStudentModule(make: { count += 1; return Sized(extra: count == 2) }, warmInit: false)) { error in
            XCTAssertTrue("\(error)".contains("differ in names: c"), "\(error)")
        }
    }

    func testACustomNetworkWithoutMakeCopyWorksThroughMake() throws {
        final class Custom: Module {
            let inner = Linear(3, 2)
            override func forward(_ x: Tensor) -> Tensor { inner(x) }
        }
        let pair = try TeacherStudentModule(make: { Custom() }, baseEMACoefficient: 0.99)
        XCTAssertEqual(pair.teacher.inner.weight.scalars, pair.student.inner.weight.scalars, "warm: the teacher starts equal")
        XCTAssertFalse(pair.teacher.inner.weight === pair.student.inner.weight)
        XCTAssertTrue(pair.teacher.parameters().allSatisfy { !$0.requiresGrad })
    }

    func testCoefficientsOutsideZeroToOneAreThrownErrors() {
        for (base, final) in [(Float(1.5), Float(1)), (-0.1, 1), (0.9, 1.01)] {
            XCTAssertThrowsError(try TeacherStudentModule(student: Linear(2, 2), baseEMACoefficient: base, finalEMACoefficient: final)) { error in
                XCTAssertTrue("\(error)".contains("must be in [0, 1]"), "\(error)")
            }
        }
        XCTAssertThrowsError(try TeacherStudentModule(student: Linear(2, 2), interval: 0))
    }

    func testTeacherInEvaluationModeUsesRunningStatistics() throws {
        let pair = try TeacherStudentModule(student: BatchNorm1d(2), baseEMACoefficient: 0.5, teacherInEvaluationMode: true)
        pair.train()
        let x = Tensor([1, 2, 3, 4]).reshape([2, 2])
        let output = pair.forwardTeacher(x)
        XCTAssertFalse(pair.teacher.isTraining)
        XCTAssertTrue(pair.student.isTraining, "the student keeps training mode")
        // Running statistics 0 and 1: evaluation mode gives x / sqrt(1 + eps).
        assertClose(output.scalars, x.scalars.map { $0 / (1 + 1e-5).squareRoot() }, rtol: 1e-6, atol: 1e-6)
        let following = try TeacherStudentModule(student: BatchNorm1d(2), baseEMACoefficient: 0.5)
        following.train()
        _ = following.forwardTeacher(x)
        XCTAssertTrue(following.teacher.isTraining, "by default the teacher follows the module's mode")
    }
}

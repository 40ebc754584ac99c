import Foundation
import SSLMethods
import SSLNN
import SSLTensor
import SSLTestSupport
import SSLTraining
import XCTest

/// MoCo v3's and DINO's losses against numpy (Reference/make_method_reference.py) and finite
/// differences; DINO's centre, temperature warm-up and checkpointed state.
final class MoCoV3AndDINOLossTests: XCTestCase {
    private typealias R = MethodReference

    private func tensor(_ literal: (shape: [Int], values: [Float])) -> Tensor {
        Tensor(shape: literal.shape, scalars: literal.values).requiringGrad()
    }

    func testMoCoV3LossMatchesNumpyValuesAndGradients() {
        for (temperature, inputs, expected, gradients) in [
            (Float(0.2), [R.mocov3Q1, R.mocov3Q2, R.mocov3K1, R.mocov3K2], R.mocov3Loss,
             [R.mocov3GradQ1, R.mocov3GradQ2, R.mocov3GradK1, R.mocov3GradK2]),
            (Float(1.0), [R.mocov3T1_Q1, R.mocov3T1_Q2, R.mocov3T1_K1, R.mocov3T1_K2], R.mocov3T1_Loss,
             [R.mocov3T1_GradQ1, R.mocov3T1_GradQ2, R.mocov3T1_GradK1, R.mocov3T1_GradK2]),
        ] {
            let x = inputs.map(tensor)
            let loss = MoCoV3Loss(temperature: temperature)(queries: (x[0], x[1]), keys: (x[2], x[3]))
            assertClose([loss.item()], [expected], rtol: 1e-5, atol: 1e-6, "loss at τ \(temperature)")
            loss.backward()
            for (index, (input, gradient)) in zip(x, gradients).enumerated() {
                assertClose(input.grad ?? Tensor.zeros([1]), Tensor(shape: gradient.shape, scalars: gradient.values),
                            rtol: 1e-3, atol: 1e-5, "gradient \(index) at τ \(temperature)")
            }
        }
        // Without the 2τ factor the loss is the plain cross-entropy sum: 1/(2τ) times smaller.
        let x = [R.mocov3Q1, R.mocov3Q2, R.mocov3K1, R.mocov3K2].map(tensor)
        let plain = MoCoV3Loss(temperature: 0.2, scalesByTwiceTheTemperature: false)(queries: (x[0], x[1]), keys: (x[2], x[3]))
        assertClose([plain.item()], [R.mocov3Loss / 0.4], rtol: 1e-5)
    }

    func testMoCoV3LossGradientsMatchFiniteDifferences() {
        let inputs = (0..<4).map { testTensor([5, 3], seed: UInt64(20 + $0)) }
        checkGradients(inputs) { x in MoCoV3Loss(temperature: 0.5)(queries: (x[0], x[1]), keys: (x[2], x[3])) }
    }

    private var dinoStudents: [Tensor] { [R.dinoStudent0, R.dinoStudent1, R.dinoStudent2, R.dinoStudent3].map(tensor) }
    private var dinoTeachers: [Tensor] { [R.dinoTeacher0, R.dinoTeacher1].map(tensor) }

    private func dinoLoss() -> DINOLoss {
        let loss = DINOLoss(outputDimension: 6)
        loss.center.copyIn(Tensor(shape: R.dinoCenter.shape, scalars: R.dinoCenter.values))
        return loss
    }

    func testDINOLossMatchesNumpyValuesGradientsAndCentre() {
        let loss = dinoLoss()
        let students = dinoStudents, teachers = dinoTeachers
        XCTAssertEqual(loss.currentTeacherTemperature, 0.04, "the warm-up's start")
        let value = loss(student: students, teacher: teachers)
        assertClose([value.item()], [R.dinoLoss], rtol: 1e-5, atol: 1e-6)
        value.backward()
        let expected = [R.dinoGradStudent0, R.dinoGradStudent1, R.dinoGradStudent2, R.dinoGradStudent3]
        for (index, (student, gradient)) in zip(students, expected).enumerated() {
            assertClose(student.grad ?? Tensor.zeros([1]), Tensor(shape: gradient.shape, scalars: gradient.values),
                        rtol: 1e-3, atol: 1e-5, "student crop \(index)")
        }
        XCTAssertTrue(teachers.allSatisfy { $0.grad == nil }, "the teacher's distributions are targets (detached)")
        assertClose(loss.center, Tensor(shape: R.dinoNewCenter.shape, scalars: R.dinoNewCenter.values), rtol: 1e-5, atol: 1e-6,
                    "the centre moved after the call")
        // `loss(student:teacher:teacherTemperature:)` uses the current centre and changes nothing.
        let fresh = dinoLoss()
        let at007 = fresh.loss(student: dinoStudents, teacher: teachers, teacherTemperature: 0.07)
        assertClose([at007.item()], [R.dinoLossT007], rtol: 1e-5, atol: 1e-6)
        assertClose(fresh.center, Tensor(shape: R.dinoCenter.shape, scalars: R.dinoCenter.values), rtol: 0, atol: 0)
    }

    func testDINOLossGradientsMatchFiniteDifferences() {
        let loss = DINOLoss(outputDimension: 5, studentTemperature: 0.5)
        loss.center.copyIn(testTensor([1, 5], seed: 40, low: -0.2, high: 0.2))
        let teachers = [testTensor([3, 5], seed: 41), testTensor([3, 5], seed: 42)]
        let students = (0..<4).map { testTensor([3, 5], seed: UInt64(50 + $0)) }
        checkGradients(students) { x in loss.loss(student: x, teacher: teachers, teacherTemperature: 0.3) }
    }

    func testTeacherTemperatureWarmsUpLinearlyOverItsShareOfStepsThenStays() {
        let loss = DINOLoss(outputDimension: 4, teacherTemperature: 0.07, warmupTeacherTemperature: 0.04, warmupFraction: 0.3)
        let values = [0, 15, 30, 31, 99].map { loss.teacherTemperature(step: $0, totalSteps: 100) }
        assertClose(values, [0.04, 0.055, 0.07, 0.07, 0.07], rtol: 0, atol: 1e-7)
        XCTAssertEqual(DINOLoss(outputDimension: 4, warmupFraction: 0).teacherTemperature(step: 0, totalSteps: 10), 0.07)
    }

    /// A fit stopped after step 3 and resumed ends with the same centre, weights and temperature
    /// as one run straight through: the centre is saved with the checkpoint.
    func testAResumedFitContinuesWithTheSavedCentreByteForByte() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ssl-dino-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        struct Parts { let head: Linear; let loss: DINOLoss }
        func makeModule() -> SSLModule<Parts> {
            let parts = ParameterInitialization.withSeed(9) { Parts(head: Linear(4, 6), loss: DINOLoss(outputDimension: 6)) }
            return SSLModule(parts, optimizer: .sgd(learningRate: 0.5)) { m, batch, _ in
                var out = batch
                let crops = (0..<3).map { m.head(batch["x\($0)"]) }
                out["loss"] = m.loss(student: crops, teacher: noGrad { Array(crops.prefix(2)).map { $0.detach() * 1.5 } })
                return out
            }
        }
        let batches = BatchList((0..<4).map { index in
            var batch = Batch()
            for crop in 0..<3 { batch["x\(crop)"] = testTensor([5, 4], seed: UInt64(index * 3 + crop + 1)) }
            return batch
        })
        func trainer(_ name: String, _ callbacks: [Callback]) -> Trainer {
            Trainer(maxEpochs: 2, numSanityValSteps: 0, callbacks: callbacks, rootDirectory: directory, name: name,
                    enableProgressBar: false)
        }
        let straight = makeModule()
        try trainer("straight", []).fit(straight, train: batches)
        XCTAssertNotEqual(straight.loss.center.scalars, [Float](repeating: 0, count: 6))
        XCTAssertEqual(straight.stateDict().keys.sorted(), ["head.bias", "head.weight", "loss.center"])
        try trainer("stopped", [StopAt(step: 3)]).fit(makeModule(), train: batches)
        let resumed = makeModule()
        try trainer("stopped", []).fit(resumed, train: batches, resumeFrom: .last)
        for key in ["loss.center", "head.weight", "head.bias"] {
            XCTAssertEqual(resumed.stateDict()[key]?.scalars, straight.stateDict()[key]?.scalars, key)
        }
        XCTAssertEqual(resumed.loss.currentTeacherTemperature, straight.loss.currentTeacherTemperature)
    }
}

import Foundation
import SSLNN
import SSLOptim
import SSLTensor
import SSLTestSupport
import SSLTraining
import XCTest

/// The scheduler contract (Lightning's `lr_scheduler_config`: interval and monitor) and the
/// loss contract of `fit`, as issue 16 found them broken.
final class SchedulerAndLossContractTests: XCTestCase {
    private var directory = ""
    override func setUpWithError() throws { directory = try makeTemporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    private func trainer(maxEpochs: Int, callbacks: [Callback] = []) -> Trainer {
        Trainer(maxEpochs: maxEpochs, numSanityValSteps: 0, callbacks: callbacks, rootDirectory: directory,
                enableProgressBar: false, enableCheckpointing: false)
    }

    /// A module whose validation loss is the same every epoch (a plateau).
    private func plateauModule(schedule: OptimizerSpec.Schedule) -> SSLModule<TinyParts> {
        SSLModule(TinyParts(), optimizer: .sgd(learningRate: 0.1, momentum: 0, schedule: schedule)) { m, batch, stage in
            var out = batch
            let difference = m.head(m.encoder(batch["x"])) - batch["y"]
            if stage == .fit { out["loss"] = (difference * difference).mean() }
            if stage == .validate { m.log("val/loss", 1.0) }
            return out
        }
    }

    func testReduceLROnPlateauThroughFitHalvesTheRateAfterItsPatience() throws {
        let rates = RateCapture()
        let module = plateauModule(schedule: .custom({ optimizer, _ in ReduceLROnPlateau(optimizer, mode: .min, factor: 0.5, patience: 1) },
                                                     interval: .epoch, monitor: "val/loss"))
        try trainer(maxEpochs: 5, callbacks: [rates]).fit(module, train: BatchList(makeBatches(count: 2)),
                                                          validation: BatchList(makeBatches(count: 1)))
        // PyTorch: epoch 0 sets best; epochs 1 and 2 are bad; after the second bad epoch (> patience 1)
        // the rate halves, the count restarts; epochs 3 and 4 halve it again after epoch 4.
        XCTAssertEqual(module.optimizers[0].optimizer.learningRates, [0.025])
        XCTAssertEqual(rates.rates.prefix(6), [0.1, 0.1, 0.1, 0.1, 0.1, 0.1], "epochs 0–2 run at the base rate")
        XCTAssertEqual(rates.rates.suffix(4), [0.05, 0.05, 0.05, 0.05], "epochs 3 and 4 at half of it")
    }

    func testAStepIntervalSchedulerCanMonitorTheTrainingLoss() throws {
        let module = plateauModule(schedule: .custom({ optimizer, _ in ReduceLROnPlateau(optimizer, patience: 100) },
                                                     interval: .step, monitor: "train/loss"))
        try trainer(maxEpochs: 1).fit(module, train: BatchList(makeBatches(count: 3)))
        XCTAssertEqual(module.optimizers[0].scheduler?.stepCount, 3)
    }

    func testAMetricSchedulerWithoutItsMetricIsAConfigurationError() throws {
        let unmonitored = plateauModule(schedule: .custom({ optimizer, _ in ReduceLROnPlateau(optimizer) }))
        XCTAssertThrowsError(try trainer(maxEpochs: 1).fit(unmonitored, train: BatchList(makeBatches(count: 2)))) { error in
            XCTAssertTrue("\(error)".contains("needs a metric"), "\(error)")
        }
        let missing = plateauModule(schedule: .custom({ optimizer, _ in ReduceLROnPlateau(optimizer) }, interval: .epoch, monitor: "val/nothing"))
        XCTAssertThrowsError(try trainer(maxEpochs: 1).fit(missing, train: BatchList(makeBatches(count: 2)),
                                                           validation: BatchList(makeBatches(count: 1)))) { error in
            XCTAssertTrue("\(error)".contains("monitors \"val/nothing\"") && "\(error)".contains("val/loss"), "\(error)")
        }
    }

    func testALossOfMoreThanOneValueIsAThrownError() throws {
        let module = SSLModule(TinyParts()) { m, batch, _ in
            var out = batch
            out["loss"] = m.head(m.encoder(batch["x"]))
            return out
        }
        XCTAssertThrowsError(try trainer(maxEpochs: 1).fit(module, train: BatchList(makeBatches(count: 1)))) { error in
            XCTAssertEqual(error as? TrainingError, .lossNotAScalar(shape: [6, 2]))
            XCTAssertTrue("\(error)".contains("must hold one value"), "\(error)")
        }
    }
}

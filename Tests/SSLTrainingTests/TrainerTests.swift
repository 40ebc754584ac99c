import Foundation
import SSLNN
import SSLOptim
import SSLTensor
import SSLTestSupport
import SSLTraining
import XCTest

/// Captures the gradients just before each optimizer step.
final class GradientCapture: Callback {
    var gradients: [[Float]] = []
    func onBeforeOptimizerStep(_ trainer: Trainer, _ module: TrainableModule, optimizer: ConfiguredOptimizer) {
        gradients.append(optimizer.parameters.flatMap { $0.grad?.scalars ?? [] })
    }
}

/// Captures the learning rate seen at every optimizer step.
final class RateCapture: Callback {
    var rates: [Float] = []
    var optimizerType = ""
    func onBeforeOptimizerStep(_ trainer: Trainer, _ module: TrainableModule, optimizer: ConfiguredOptimizer) {
        rates.append(optimizer.optimizer.learningRates[0])
        optimizerType = String(describing: type(of: optimizer.optimizer))
    }
}

final class TrainerTests: XCTestCase {
    private var directory = ""
    override func setUpWithError() throws { directory = try makeTemporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    private func trainer(_ maxEpochs: Int = 1, callbacks: [Callback] = [], accumulate: Int = 1, checkpointing: Bool = false,
                         name: String = "test", configure: ((inout [String: String]) -> Void)? = nil) -> Trainer {
        Trainer(maxEpochs: maxEpochs, accumulateGradBatches: accumulate, numSanityValSteps: 0, callbacks: callbacks,
                rootDirectory: directory, name: name, enableProgressBar: false, enableCheckpointing: checkpointing)
    }

    func testAccumulatingKBatchesGivesTheGradientOfOneBatchKTimesAsLarge() throws {
        // One batch of 6 rows against the same rows split into 3 batches of 2, accumulated.
        let whole = makeBatches(count: 1, size: 6)[0]
        let parts: [Batch] = (0..<3).map { part in
            var batch = Batch()
            batch["x"] = whole["x"].slice(axis: 0, (part * 2)..<(part * 2 + 2)).contiguous()
            batch["y"] = whole["y"].slice(axis: 0, (part * 2)..<(part * 2 + 2)).contiguous()
            return batch
        }
        let single = GradientCapture(), accumulated = GradientCapture()
        try trainer(callbacks: [single]).fit(makeTinyModule(), train: BatchList([whole]))
        try trainer(callbacks: [accumulated], accumulate: 3).fit(makeTinyModule(), train: BatchList(parts))
        XCTAssertEqual(single.gradients.count, 1)
        XCTAssertEqual(accumulated.gradients.count, 1, "one optimizer step for three accumulated batches")
        assertClose(accumulated.gradients[0], single.gradients[0], rtol: 1e-5, atol: 1e-7)
    }

    func testDefaultOptimizerIsAdamWWithCosineAnnealingOverAllSteps() throws {
        let module = SSLModule(TinyParts()) { m, batch, _ in
            var out = batch
            let difference = m.head(m.encoder(batch["x"])) - batch["y"]
            out["loss"] = (difference * difference).mean()
            return out
        }
        let capture = RateCapture()
        try trainer(2, callbacks: [capture]).fit(module, train: BatchList(makeBatches(count: 5)))
        XCTAssertEqual(capture.optimizerType, "AdamW")
        let adamW = try XCTUnwrap(module.optimizers.first?.optimizer as? AdamW)
        XCTAssertEqual(adamW.groups[0].options.weightDecay, 1e-2)
        XCTAssertEqual(adamW.groups[0].options.beta1, 0.9)
        XCTAssertEqual(adamW.groups[0].options.beta2, 0.999)
        XCTAssertEqual(adamW.groups[0].options.eps, 1e-8)
        let total = 10
        let expected = (0..<total).map { step in Float(1e-3 * (1 + cos(Double.pi * Double(step) / Double(total))) / 2) }
        assertClose(capture.rates, expected, rtol: 1e-5, atol: 1e-9)
        XCTAssertEqual(module.optimizers[0].optimizer.learningRates[0], 0, accuracy: 1e-9, "annealed to 0 after the last step")
    }

    func testMissingLossGivesAClearError() throws {
        let module = SSLModule(TinyParts()) { m, batch, _ in
            var out = batch
            out["embedding"] = m.encoder(batch["x"])
            return out
        }
        XCTAssertThrowsError(try trainer().fit(module, train: BatchList(makeBatches(count: 1)))) { error in
            XCTAssertEqual(String(describing: error),
                           "forward(batch, .fit) returned no \"loss\"; keys present: embedding, sample_idx, x, y. In fit the output must hold the loss to minimise under \"loss\".")
        }
    }

    func testEvaluationOnlyModuleValidatesAndPredictsButCannotFit() throws {
        let module = makeTinyModule(optimizer: nil)
        XCTAssertFalse(module.isTrainable)
        XCTAssertThrowsError(try trainer().fit(module, train: BatchList(makeBatches(count: 1)))) { error in
            XCTAssertEqual(error as? TrainingError, .notTrainable)
        }
        let metrics = try trainer().validate(module, data: BatchList(makeBatches(count: 2)))
        XCTAssertNotNil(metrics["val/loss"])
        let outputs = try trainer().predict(module, data: BatchList(makeBatches(count: 3)))
        XCTAssertEqual(outputs.count, 3)
        XCTAssertEqual(outputs[0]["embedding"].shape, [6, 2])
        XCTAssertFalse(outputs[0]["embedding"].requiresGrad, "predict runs without gradients")
    }

    func testMetricsCSVHoldsTheLoggedValuesInLightningsLayout() throws {
        let trainer = Trainer(maxEpochs: 2, numSanityValSteps: 0, logEveryNSteps: 2, rootDirectory: directory, name: "csv",
                              enableProgressBar: false, enableCheckpointing: false)
        try trainer.fit(makeTinyModule(), train: BatchList(makeBatches(count: 4)), validation: BatchList(makeBatches(count: 1)))
        let runDirectory = try XCTUnwrap(trainer.runDirectory)
        XCTAssertTrue(runDirectory.hasSuffix("csv/version_0"))
        let csv = try String(contentsOfFile: runDirectory + "/metrics.csv", encoding: .utf8)
        let lines = csv.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines[0], "epoch,step,train/loss_epoch,train/loss_step,val/loss")
        // Steps 2, 4 (epoch 0), the epoch rows, then steps 6, 8 (epoch 1) …
        let rows = lines.dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        XCTAssertEqual(rows.filter { !$0[3].isEmpty }.map { $0[1] }, ["2", "4", "6", "8"])
        XCTAssertEqual(rows.filter { !$0[4].isEmpty }.count, 2, "one validation value per epoch")
        let epochLoss = try XCTUnwrap(rows.first { !$0[2].isEmpty }.flatMap { Float($0[2]) })
        XCTAssertEqual(epochLoss, trainer.metricsHistory.first { $0.values["train/loss_epoch"] != nil }?.values["train/loss_epoch"])
        // JSON lines, hyperparameters and the report sit beside it.
        let jsonLines = try String(contentsOfFile: runDirectory + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(jsonLines.count, lines.count - 1)
        let hparams = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: runDirectory + "/hparams.json"))) as? [String: String]
        XCTAssertEqual(hparams?["max_epochs"], "2")
        let report = try String(contentsOfFile: runDirectory + "/report.html", encoding: .utf8)
        XCTAssertTrue(report.contains("<svg"))
        XCTAssertTrue(report.contains("val/loss"))
        XCTAssertFalse(report.contains("<script"))
        // A second fit gets the next version.
        try trainer.fit(makeTinyModule(), train: BatchList(makeBatches(count: 1)))
        XCTAssertTrue(trainer.runDirectory?.hasSuffix("csv/version_1") ?? false)
    }

    func testNonFiniteLossStopsNamingTheStepAndLeavesTheLastCheckpointUntouched() throws {
        let module = SSLModule(TinyParts()) { m, batch, _ in
            var out = batch
            let difference = m.head(m.encoder(batch["x"])) - batch["y"]
            out["loss"] = (difference * difference).mean() * batch["scale"].sum()
            return out
        }
        var batches = makeBatches(count: 3)
        for index in batches.indices { batches[index]["scale"] = Tensor([index == 2 ? .nan : 1]) }
        // First fit: one good epoch over batches 0 and 1 writes last.safetensors.
        let good = Trainer(maxEpochs: 1, numSanityValSteps: 0, rootDirectory: directory, name: "nan", enableProgressBar: false)
        try good.fit(module, train: BatchList(Array(batches.prefix(2))))
        let last = try XCTUnwrap(good.runDirectory).appending("/checkpoints/last.safetensors")
        let before = try Data(contentsOf: URL(fileURLWithPath: last))
        let failing = Trainer(maxEpochs: 2, numSanityValSteps: 0, rootDirectory: directory, name: "nan", enableProgressBar: false)
        XCTAssertThrowsError(try failing.fit(module, train: BatchList(batches), resumeFrom: .path(last))) { error in
            guard case TrainingError.nonFiniteLoss(let value, let epoch, let batchIndex, let step) = error else {
                return XCTFail("unexpected \(error)")
            }
            XCTAssertTrue(value.isNaN)
            XCTAssertEqual(epoch, 1)
            XCTAssertEqual(batchIndex, 2)
            XCTAssertEqual(step, 4)
            XCTAssertTrue(String(describing: error).contains("non-finite loss nan at global step 4 (epoch 1, batch 2)"))
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: last)), before, "the last good checkpoint is untouched")

        // Skipping instead: the run finishes and the bad batch takes no step.
        let skipping = Trainer(maxEpochs: 1, numSanityValSteps: 0, rootDirectory: directory, name: "skip", enableProgressBar: false,
                               enableCheckpointing: false, nonFiniteLoss: .skipBatch)
        try skipping.fit(makeTinyModuleWithScale(), train: BatchList(batches))
        XCTAssertEqual(skipping.globalStep, 2)
        XCTAssertEqual(skipping.callbackMetrics["train/skipped_batches"], 1)
    }

    private func makeTinyModuleWithScale() -> SSLModule<TinyParts> {
        SSLModule(TinyParts()) { m, batch, _ in
            var out = batch
            let difference = m.head(m.encoder(batch["x"])) - batch["y"]
            out["loss"] = (difference * difference).mean() * batch["scale"].sum()
            return out
        }
    }

    func testLimitsMaxStepsAndFastDevRun() throws {
        let limited = Trainer(maxEpochs: 3, limitTrainBatches: 2, numSanityValSteps: 0, rootDirectory: directory,
                              enableProgressBar: false, enableCheckpointing: false)
        try limited.fit(makeTinyModule(), train: BatchList(makeBatches(count: 5)))
        XCTAssertEqual(limited.globalStep, 6)
        let fraction = Trainer(maxEpochs: 1, limitTrainBatches: 0.5, numSanityValSteps: 0, rootDirectory: directory,
                               enableProgressBar: false, enableCheckpointing: false)
        try fraction.fit(makeTinyModule(), train: BatchList(makeBatches(count: 4)))
        XCTAssertEqual(fraction.globalStep, 2)
        let stepped = Trainer(maxEpochs: 10, maxSteps: 7, numSanityValSteps: 0, rootDirectory: directory,
                              enableProgressBar: false, enableCheckpointing: false)
        let capture = RateCapture()
        stepped.callbacks = [capture]
        try stepped.fit(makeTinyModule(), train: BatchList(makeBatches(count: 3)))
        XCTAssertEqual(stepped.globalStep, 7)
        XCTAssertEqual(stepped.totalOptimizerSteps, 7, "the cosine schedule spans maxSteps")
        let recorder = HookRecorder()
        let dev = Trainer(maxEpochs: 50, fastDevRun: 1, callbacks: [recorder], rootDirectory: directory + "/dev", enableProgressBar: false)
        try dev.fit(makeTinyModule(), train: BatchList(makeBatches(count: 5)), validation: BatchList(makeBatches(count: 5)))
        XCTAssertEqual(dev.globalStep, 1)
        XCTAssertEqual(recorder.events.filter { $0.hasPrefix("valBatchStart") }, ["valBatchStart0"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/dev"), "fast dev run writes no logs or checkpoints")
    }

    func testEarlyStoppingUsesItsPatience() throws {
        // A constant validation loss never improves after the first check: stops after 1 + patience epochs.
        let module = SSLModule(TinyParts()) { m, batch, stage in
            var out = batch
            let difference = m.head(m.encoder(batch["x"])) - batch["y"]
            out["loss"] = (difference * difference).mean()
            if stage == .validate { m.log("val/constant", 1) }
            return out
        }
        let stopper = EarlyStopping(monitor: "val/constant", mode: .min, patience: 2)
        let trainer = Trainer(maxEpochs: 20, numSanityValSteps: 0, callbacks: [stopper], rootDirectory: directory,
                              enableProgressBar: false, enableCheckpointing: false)
        try trainer.fit(module, train: BatchList(makeBatches(count: 1)), validation: BatchList(makeBatches(count: 1)))
        XCTAssertEqual(trainer.globalStep, 3, "epochs 0 (best), 1 (wait 1), 2 (wait 2 → stop)")
        XCTAssertEqual(stopper.stoppedEpoch, 2)
    }

    func testModelCheckpointKeepsTheTopKByMonitorAndTheLast() throws {
        var scores: [Float] = [0.5, 0.9, 0.7, 0.95, 0.1]
        let module = SSLModule(TinyParts()) { m, batch, stage in
            var out = batch
            let difference = m.head(m.encoder(batch["x"])) - batch["y"]
            out["loss"] = (difference * difference).mean()
            if stage == .validate { m.log("val/score", scores.removeFirst()) }
            return out
        }
        let checkpoint = ModelCheckpoint(monitor: "val/score", mode: .max, saveTopK: 2)
        let trainer = Trainer(maxEpochs: 5, numSanityValSteps: 0, callbacks: [checkpoint], rootDirectory: directory,
                              name: "topk", enableProgressBar: false)
        try trainer.fit(module, train: BatchList(makeBatches(count: 1)), validation: BatchList(makeBatches(count: 1)))
        let folder = try XCTUnwrap(trainer.runDirectory) + "/checkpoints"
        let files = try FileManager.default.contentsOfDirectory(atPath: folder).filter { !$0.hasPrefix(".") }.sorted()
        XCTAssertEqual(files, ["epoch=1-step=2.safetensors", "epoch=3-step=4.safetensors", "last.safetensors"])
        XCTAssertEqual(checkpoint.bestScore, 0.95)
        XCTAssertTrue(checkpoint.bestPath?.hasSuffix("epoch=3-step=4.safetensors") ?? false)
        let saved = try Checkpoint.read(from: folder + "/last.safetensors")
        XCTAssertEqual(saved.metadata.globalStep, 5)
        XCTAssertEqual(saved.model.keys, module.stateDict().keys)
    }

    func testLearningRateAndThroughputMonitorsLog() throws {
        let trainer = Trainer(maxEpochs: 1, numSanityValSteps: 0, logEveryNSteps: 1,
                              callbacks: [LearningRateMonitor(), ThroughputMonitor()], rootDirectory: directory,
                              enableProgressBar: false, enableCheckpointing: false)
        try trainer.fit(makeTinyModule(), train: BatchList(makeBatches(count: 2)))
        let firstStep = try XCTUnwrap(trainer.metricsHistory.first)
        XCTAssertEqual(firstStep.values["lr-optimizer/default"], 0.01)
        XCTAssertNotNil(firstStep.values["throughput/samples_per_sec_step"])
        XCTAssertNotNil(trainer.callbackMetrics["throughput/samples_per_sec_epoch"])
    }

    func testComponentsAreNamedAttributesAndParametersCarryTheirPaths() {
        struct Parts {
            let backbone = ConvNet(channels: [2], inputChannels: 1)
            let heads = [Linear(2, 2), Linear(2, 1)]
        }
        let module = SSLModule(Parts()) { m, batch, _ in batch }
        let backbone: ConvNet = module.backbone
        XCTAssertEqual(backbone.outputFeatures, 2)
        let names = module.namedParameters().map(\.name)
        XCTAssertEqual(names.first, "backbone.stages.0.conv1.weight")
        XCTAssertTrue(names.contains("heads.1.weight"))
        XCTAssertTrue(module.stateDict().keys.contains("backbone.stages.0.bn1.running_mean"))
        XCTAssertEqual(module.componentModules.map(\.name), ["backbone", "heads"])
    }

    func testSeparateOptimizersForNamedComponents() throws {
        let module = SSLModule(TinyParts(), optimizers: [
            .sgd(learningRate: 0.1, components: ["encoder"], name: "encoder-sgd"),
            .adamW(learningRate: 0.01, name: "rest"),
        ]) { m, batch, _ in
            var out = batch
            let difference = m.head(m.encoder(batch["x"])) - batch["y"]
            out["loss"] = (difference * difference).mean()
            return out
        }
        try trainer().fit(module, train: BatchList(makeBatches(count: 2)))
        XCTAssertEqual(module.optimizers.map(\.name), ["encoder-sgd", "rest"])
        XCTAssertEqual(module.optimizers[0].optimizer.namedParameters.map(\.name), ["encoder.weight", "encoder.bias"])
        XCTAssertEqual(module.optimizers[1].optimizer.namedParameters.map(\.name), ["head.weight", "head.bias"])
        XCTAssertTrue(module.optimizers[0].optimizer is SGD)
    }

    func testProgressBarPrintsPlainLinesWhenNotATerminal() throws {
        let bar = ProgressBar(linesPerEpoch: 2, forceTerminal: false)
        let trainer = Trainer(maxEpochs: 1, numSanityValSteps: 0, callbacks: [bar], rootDirectory: directory,
                              enableCheckpointing: false)
        try trainer.fit(makeTinyModule(), train: BatchList(makeBatches(count: 4)))
        XCTAssertFalse(trainer.callbackList(for: makeTinyModule()).contains { $0 !== bar && $0 is ProgressBar }, "no second bar added")
    }
}

/// Gradient norms after clipping, read just after each step (before zeroing).
final class ClippedNormCapture: Callback {
    var norms: [Float] = []
    func onAfterOptimizerStep(_ trainer: Trainer, _ module: TrainableModule, optimizer: ConfiguredOptimizer) {
        let squares = optimizer.parameters.compactMap(\.grad).map { ($0 * $0).sum().item() }.reduce(0, +)
        norms.append(squares.squareRoot())
    }
}

final class TrainerFlagTests: XCTestCase {
    private var directory = ""
    override func setUpWithError() throws { directory = try makeTemporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    func testGradientClippingByNormAndByValueApplyBeforeTheStep() throws {
        // Targets far from the predictions make gradients large.
        var batches = makeBatches(count: 2)
        for index in batches.indices { batches[index]["y"] = batches[index]["y"] * 100 }
        let norms = ClippedNormCapture()
        let byNorm = Trainer(maxEpochs: 1, gradientClipValue: 0.5, numSanityValSteps: 0, callbacks: [norms],
                             rootDirectory: directory, enableProgressBar: false, enableCheckpointing: false)
        try byNorm.fit(makeTinyModule(), train: BatchList(batches))
        XCTAssertEqual(norms.norms.count, 2)
        for norm in norms.norms { XCTAssertEqual(norm, 0.5, accuracy: 1e-4) }

        final class MaxCapture: Callback {
            var largest: Float = 0
            func onAfterOptimizerStep(_ trainer: Trainer, _ module: TrainableModule, optimizer: ConfiguredOptimizer) {
                for gradient in optimizer.parameters.compactMap(\.grad) { largest = Swift.max(largest, gradient.abs().max().item()) }
            }
        }
        let maxima = MaxCapture()
        let byValue = Trainer(maxEpochs: 1, gradientClipValue: 0.01, gradientClipAlgorithm: .value, numSanityValSteps: 0,
                              callbacks: [maxima], rootDirectory: directory, enableProgressBar: false, enableCheckpointing: false)
        try byValue.fit(makeTinyModule(), train: BatchList(batches))
        XCTAssertEqual(maxima.largest, 0.01, accuracy: 1e-7)
    }

    func testValidationRunsEveryNEpochsAndMaxTimeStops() throws {
        let recorder = HookRecorder()
        let trainer = Trainer(maxEpochs: 4, checkValEveryNEpochs: 2, numSanityValSteps: 0, callbacks: [recorder],
                              rootDirectory: directory, enableProgressBar: false, enableCheckpointing: false)
        try trainer.fit(makeTinyModule(), train: BatchList(makeBatches(count: 1)), validation: BatchList(makeBatches(count: 1)))
        XCTAssertEqual(recorder.events.filter { $0 == "valStart" }.count, 2)
        let timed = Trainer(maxEpochs: 100, numSanityValSteps: 0, maxTime: 0, rootDirectory: directory,
                            enableProgressBar: false, enableCheckpointing: false)
        try timed.fit(makeTinyModule(), train: BatchList(makeBatches(count: 3)))
        XCTAssertEqual(timed.globalStep, 1, "maxTime 0 stops after the first step")
    }
}

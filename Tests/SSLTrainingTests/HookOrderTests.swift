import SSLNN
import SSLTensor
import SSLTestSupport
import SSLTraining
import XCTest

/// Records every hook the Trainer fires.
final class HookRecorder: Callback {
    var events: [String] = []
    func setup(_ trainer: Trainer, _ module: TrainableModule, stage: Stage) { events.append("setup") }
    func teardown(_ trainer: Trainer, _ module: TrainableModule, stage: Stage) { events.append("teardown") }
    func onFitStart(_ trainer: Trainer, _ module: TrainableModule) { events.append("fitStart") }
    func onFitEnd(_ trainer: Trainer, _ module: TrainableModule) { events.append("fitEnd") }
    func onSanityCheckStart(_ trainer: Trainer, _ module: TrainableModule) { events.append("sanityStart") }
    func onSanityCheckEnd(_ trainer: Trainer, _ module: TrainableModule) { events.append("sanityEnd") }
    func onTrainStart(_ trainer: Trainer, _ module: TrainableModule) { events.append("trainStart") }
    func onTrainEnd(_ trainer: Trainer, _ module: TrainableModule) { events.append("trainEnd") }
    func onTrainEpochStart(_ trainer: Trainer, _ module: TrainableModule) { events.append("epochStart") }
    func onTrainEpochEnd(_ trainer: Trainer, _ module: TrainableModule) { events.append("epochEnd") }
    func onTrainBatchStart(_ trainer: Trainer, _ module: TrainableModule, batch: Batch, batchIndex: Int) { events.append("batchStart\(batchIndex)") }
    func onTrainBatchEnd(_ trainer: Trainer, _ module: TrainableModule, outputs: Batch, batch: Batch, batchIndex: Int) {
        events.append("batchEnd\(batchIndex)")
    }
    func onBeforeBackward(_ trainer: Trainer, _ module: TrainableModule, loss: Tensor) { events.append("beforeBackward") }
    func onAfterBackward(_ trainer: Trainer, _ module: TrainableModule) { events.append("afterBackward") }
    func onBeforeOptimizerStep(_ trainer: Trainer, _ module: TrainableModule, optimizer: ConfiguredOptimizer) { events.append("beforeStep") }
    func onAfterOptimizerStep(_ trainer: Trainer, _ module: TrainableModule, optimizer: ConfiguredOptimizer) { events.append("afterStep") }
    func onValidationStart(_ trainer: Trainer, _ module: TrainableModule) { events.append("valStart") }
    func onValidationEnd(_ trainer: Trainer, _ module: TrainableModule) { events.append("valEnd") }
    func onValidationEpochStart(_ trainer: Trainer, _ module: TrainableModule) { events.append("valEpochStart") }
    func onValidationEpochEnd(_ trainer: Trainer, _ module: TrainableModule) { events.append("valEpochEnd") }
    func onValidationBatchStart(_ trainer: Trainer, _ module: TrainableModule, batch: Batch, batchIndex: Int) { events.append("valBatchStart\(batchIndex)") }
    func onValidationBatchEnd(_ trainer: Trainer, _ module: TrainableModule, outputs: Batch, batch: Batch, batchIndex: Int) {
        events.append("valBatchEnd\(batchIndex)")
    }
}

/// A second recorder proving callbacks run in list order, then the module's hooks.
final class OrderProbe: Callback {
    let label: String
    let log: (String) -> Void
    init(_ label: String, log: @escaping (String) -> Void) { self.label = label; self.log = log }
    func onTrainEpochStart(_ trainer: Trainer, _ module: TrainableModule) { log(label) }
}

final class HookOrderTests: XCTestCase {
    func testHookSequenceWithAccumulationThreeAndValidationEveryEpochFollowsTheDocumentedOrder() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let recorder = HookRecorder()
        let trainer = Trainer(maxEpochs: 2, accumulateGradBatches: 3, numSanityValSteps: 1, callbacks: [recorder],
                              rootDirectory: directory, enableProgressBar: false, enableCheckpointing: false)
        try trainer.fit(makeTinyModule(), train: BatchList(makeBatches(count: 4)), validation: BatchList(makeBatches(count: 2, seed: 9)))

        func batch(_ index: Int, step: Bool) -> [String] {
            ["batchStart\(index)", "beforeBackward", "afterBackward"] + (step ? ["beforeStep", "afterStep"] : []) + ["batchEnd\(index)"]
        }
        let validation = ["valStart", "valEpochStart", "valBatchStart0", "valBatchEnd0", "valBatchStart1", "valBatchEnd1", "valEpochEnd", "valEnd"]
        // 4 batches, accumulation 3: steps after batch 2 and after the last batch (3).
        let epoch = ["epochStart"] + batch(0, step: false) + batch(1, step: false) + batch(2, step: true) + batch(3, step: true)
            + validation + ["epochEnd"]
        let expected = ["setup", "fitStart",
                        "sanityStart", "valStart", "valEpochStart", "valBatchStart0", "valBatchEnd0", "valEpochEnd", "valEnd", "sanityEnd",
                        "trainStart"] + epoch + epoch + ["trainEnd", "fitEnd", "teardown"]
        XCTAssertEqual(recorder.events, expected)
        XCTAssertEqual(trainer.globalStep, 4)
    }

    func testCallbacksRunInListOrderThenTheModulesHooks() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var order: [String] = []
        let module = makeTinyModule()
        module.hooks = [OrderProbe("module") { order.append($0) }]
        let trainer = Trainer(maxEpochs: 1, callbacks: [OrderProbe("first") { order.append($0) }, OrderProbe("second") { order.append($0) }],
                              rootDirectory: directory, enableProgressBar: false, enableCheckpointing: false)
        try trainer.fit(module, train: BatchList(makeBatches(count: 1)))
        XCTAssertEqual(order, ["first", "second", "module"])
    }
}

final class CallbackOrderTests: XCTestCase {
    func testCheckpointCallbacksRunAfterEveryOtherCallback() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let checkpoint = ModelCheckpoint(), recorder = HookRecorder()
        let trainer = Trainer(maxEpochs: 1, numSanityValSteps: 0, callbacks: [checkpoint, recorder], rootDirectory: directory,
                              enableProgressBar: false)
        try trainer.fit(makeTinyModule(), train: BatchList(makeBatches(count: 1)))
        XCTAssertTrue(trainer.callbackList(for: makeTinyModule()).last === checkpoint)
        XCTAssertTrue(trainer.callbackList(for: makeTinyModule()).first === recorder)
    }
}

/// The one list of callbacks and its documented order (`Trainer.callbackList(for:)`).
final class CallbackListTests: XCTestCase {
    /// A component that asks for a callback, as an EMA teacher does.
    final class ProvidingLinear: Module, ProvidesCallbacks {
        let inner = Linear(4, 2)
        let provided = OrderProbe("component") { _ in }
        var callbacks: [Callback] { [provided] }
        var addsCallbacksAutomatically: Bool { true }
        override func forward(_ x: Tensor) -> Tensor { inner(x) }
    }

    func testComponentsFirstThenTheUsersThenTheModulesThenAutomaticAndCheckpointsLast() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        struct Parts { let encoder = ProvidingLinear() }
        var order: [String] = []
        let parts = Parts()
        let module = SSLModule(parts) { m, batch, _ in
            var out = batch
            out["loss"] = m.encoder(batch["x"]).pow(2).mean()
            return out
        }
        module.hooks = [OrderProbe("module") { order.append($0) }]
        let checkpoint = ModelCheckpoint()
        let user: [Callback] = [checkpoint, OrderProbe("first") { order.append($0) }, OrderProbe("second") { order.append($0) }]
        let trainer = Trainer(maxEpochs: 1, numSanityValSteps: 0, callbacks: user, rootDirectory: directory)
        let list = trainer.callbackList(for: module)
        XCTAssertEqual(list.map { ($0 as? OrderProbe)?.label ?? String(describing: type(of: $0)) },
                       ["component", "first", "second", "module", "ProgressBar", "HTMLReportWriter", "ModelCheckpoint"])
        XCTAssertTrue(list.first === parts.encoder.provided)
        XCTAssertTrue(list.last === checkpoint, "the given checkpoint, moved last; no second one added")
        let quiet = Trainer(maxEpochs: 1, callbacks: [], rootDirectory: directory, enableProgressBar: false,
                            enableCheckpointing: false, enableLogging: false)
        XCTAssertEqual(quiet.callbackList(for: module).map { ($0 as? OrderProbe)?.label ?? "?" }, ["component", "module"])
    }
}

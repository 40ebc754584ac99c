import SSLMethods
import SSLNN
import SSLTensor
import SSLTestSupport
import SSLTraining
import XCTest

/// Online probes and offline evaluation on small problems with known answers.
final class ProbeTests: XCTestCase {
    private var directory = ""
    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("ssl-probe-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    /// A linearly separable problem: 4 classes around ±3 on two of 8 dimensions, unit noise.
    private func separableBatches(count: Int, size: Int, seed: UInt64) -> [Batch] {
        var generator = RandomGenerator(seed: seed)
        return (0..<count).map { _ in
            var values: [Float] = [], labels: [Int] = []
            for _ in 0..<size {
                let label = generator.nextInt(below: 4)
                for dimension in 0..<8 {
                    var centre: Float = 0
                    if dimension == 0 { centre = label % 2 == 0 ? 3 : -3 }
                    if dimension == 1 { centre = label / 2 == 0 ? 3 : -3 }
                    values.append(centre + generator.nextNormal())
                }
                labels.append(label)
            }
            var batch = Batch()
            batch["embedding"] = Tensor(shape: [size, 8], scalars: values)
            batch[integers: "label"] = IntTensor(labels)
            return batch
        }
    }

    /// A module whose forward passes the embedding through and trains a dummy parameter.
    struct Parts { let dummy = Linear(1, 1) }
    private func passThrough() -> SSLModule<Parts> {
        SSLModule(Parts()) { m, batch, stage in
            var out = batch
            if stage == .fit { out["loss"] = m.dummy(Tensor.ones([1, 1])).pow(2).sum() }
            return out
        }
    }

    func testOnlineProbeReachesNinetyFivePercentOnASeparableProblemWithItsOwnOptimizer() throws {
        let probe = OnlineProbe(featureCount: 8, classCount: 4, learningRate: 0.05, topK: [1, 2])
        let module = passThrough()
        let trainer = Trainer(maxEpochs: 3, numSanityValSteps: 0, callbacks: [probe], rootDirectory: directory,
                              enableProgressBar: false, enableCheckpointing: false)
        try trainer.fit(module, train: BatchList(separableBatches(count: 20, size: 32, seed: 1)),
                        validation: BatchList(separableBatches(count: 5, size: 32, seed: 2)))
        let top1 = try XCTUnwrap(trainer.callbackMetrics["val/linear_probe_top1"])
        XCTAssertGreaterThanOrEqual(top1, 0.95)
        XCTAssertGreaterThanOrEqual(trainer.callbackMetrics["val/linear_probe_top2"] ?? 0, top1)
        XCTAssertNotNil(trainer.callbackMetrics["train/linear_probe_loss"])
        let mainOptimizer = module.optimizers[0].optimizer.namedParameters.map(\.tensor)
        XCTAssertFalse(mainOptimizer.contains { tensor in probe.classifier.parameters().contains { $0 === tensor } },
                       "probe parameters never enter the main optimizer")
        // Its state goes into checkpoints and comes back.
        let state = probe.stateDict()
        XCTAssertNotNil(state.tensors["model.weight"])
        let restored = OnlineProbe(featureCount: 8, classCount: 4, seed: 9)
        try restored.loadStateDict(state)
        XCTAssertEqual((restored.classifier as? Linear)?.weight.scalars, (probe.classifier as? Linear)?.weight.scalars)
    }

    func testOnlineKNNAndRankMeLogDuringValidation() throws {
        let knn = OnlineKNN(queueLength: 200, classCount: 4, k: 5)
        let rankMe = RankMe()
        let trainer = Trainer(maxEpochs: 1, numSanityValSteps: 0, callbacks: [knn, rankMe], rootDirectory: directory,
                              enableProgressBar: false, enableCheckpointing: false)
        try trainer.fit(passThrough(), train: BatchList(separableBatches(count: 10, size: 32, seed: 3)),
                        validation: BatchList(separableBatches(count: 3, size: 32, seed: 4)))
        XCTAssertEqual(knn.queueCount, 200, "the queue keeps the most recent 200 embeddings")
        XCTAssertGreaterThanOrEqual(trainer.callbackMetrics["val/knn_acc"] ?? 0, 0.95)
        let rank = try XCTUnwrap(trainer.callbackMetrics["val/rankme"])
        XCTAssertGreaterThan(rank, 1)
        XCTAssertLessThanOrEqual(rank, 8)
        let state = knn.stateDict()
        XCTAssertEqual(state.tensors["bank"]?.shape, [200, 8])
    }

    /// RankMe logs the paper's uncentred value and the centred effective rank, each over the
    /// same validation embeddings; shifting every embedding by a constant moves the first only.
    func testRankMeLogsTheCenteredEffectiveRankNextToRankMe() throws {
        func fit(shift: Float) throws -> (rankMe: Float, effective: Float, callback: RankMe) {
            let rankMe = RankMe()
            let trainer = Trainer(maxEpochs: 1, numSanityValSteps: 0, callbacks: [rankMe], rootDirectory: directory,
                                  enableProgressBar: false, enableCheckpointing: false)
            let validation = separableBatches(count: 3, size: 32, seed: 4).map { batch -> Batch in
                var shifted = batch
                shifted["embedding"] = batch["embedding"] + shift
                return shifted
            }
            try trainer.fit(passThrough(), train: BatchList(separableBatches(count: 2, size: 32, seed: 3)),
                            validation: BatchList(validation))
            return (try XCTUnwrap(trainer.callbackMetrics["val/rankme"]),
                    try XCTUnwrap(trainer.callbackMetrics["val/effective_rank"]), rankMe)
        }
        let plain = try fit(shift: 0), shifted = try fit(shift: 10)
        let embeddings = Tensor.concat(separableBatches(count: 3, size: 32, seed: 4).map { $0["embedding"] }, axis: 0)
        assertClose([plain.effective], [effectiveRank(embeddings, centered: true)], rtol: 1e-5)
        assertClose([plain.rankMe], [effectiveRank(embeddings)], rtol: 1e-5)
        XCTAssertEqual(plain.callback.lastCenteredValue, plain.effective)
        assertClose([shifted.effective], [plain.effective], rtol: 1e-3)
        XCTAssertLessThan(shifted.rankMe, plain.rankMe - 1, "the uncentred RankMe counts the common offset")
    }

    /// Damaged OnlineKNN state (before: a SIGSEGV writing at position 99 999 999, traps for −1,
    /// 20 000, short label arrays and a label of 1e30, a precondition for a label ≥ classCount)
    /// is an error naming the callback.
    func testDamagedOnlineKNNStateThrowsInsteadOfCrashing() throws {
        let knn = OnlineKNN(queueLength: 8, classCount: 3)
        let bank = Tensor.ones([8, 4]), labels = Tensor([Float](repeating: 1, count: 8))
        let good = CallbackState(tensors: ["bank": bank, "labels": labels], values: ["filled": "8", "position": "3"])
        XCTAssertNoThrow(try knn.loadStateDict(good))
        func damaged(_ change: (inout CallbackState) -> Void) -> CallbackState {
            var state = good
            change(&state)
            return state
        }
        let cases: [(String, CallbackState)] = [
            ("position 99 999 999", damaged { $0.values["position"] = "99999999" }),
            ("position -1", damaged { $0.values["position"] = "-1" }),
            ("position 20 000", damaged { $0.values["position"] = "20000" }),
            ("filled 9", damaged { $0.values["filled"] = "9" }),
            ("filled missing", damaged { $0.values["filled"] = nil }),
            ("short labels", damaged { $0.tensors["labels"] = Tensor([1, 1]) }),
            ("label 1e30", damaged { $0.tensors["labels"] = Tensor([Float](repeating: 1e30, count: 8)) }),
            ("label = classCount", damaged { $0.tensors["labels"] = Tensor([Float](repeating: 3, count: 8)) }),
            ("label 0.5", damaged { $0.tensors["labels"] = Tensor([Float](repeating: 0.5, count: 8)) }),
            ("bank of another length", damaged { $0.tensors["bank"] = Tensor.ones([5, 4]) }),
            ("bank of rank 1", damaged { $0.tensors["bank"] = Tensor.ones([8]) }),
            ("NaN in the bank", damaged { $0.tensors["bank"] = Tensor([Float](repeating: .nan, count: 32)).reshape([8, 4]) }),
        ]
        for (name, state) in cases {
            XCTAssertThrowsError(try knn.loadStateDict(state), name) { error in
                XCTAssertTrue("\(error)".contains("OnlineKNN"), "\(name): \(error)")
            }
        }
    }

    func testOfflineKNNAndLinearProbeOnFrozenFeatures() {
        let train = separableBatches(count: 1, size: 400, seed: 5)[0], test = separableBatches(count: 1, size: 200, seed: 6)[0]
        let trainFeatures = OfflineEvaluation.Features(features: train["embedding"], labels: train[integers: "label"].scalars)
        let testFeatures = OfflineEvaluation.Features(features: test["embedding"], labels: test[integers: "label"].scalars)
        XCTAssertGreaterThanOrEqual(OfflineEvaluation.knnAccuracy(train: trainFeatures, test: testFeatures), 0.95)
        XCTAssertGreaterThanOrEqual(OfflineEvaluation.linearProbeAccuracy(train: trainFeatures, test: testFeatures), 0.95)
        // Random labels cannot be learned beyond chance on held-out data.
        var generator = RandomGenerator(seed: 8)
        let shuffled = OfflineEvaluation.Features(features: train["embedding"], labels: (0..<400).map { _ in generator.nextInt(below: 4) })
        XCTAssertLessThan(OfflineEvaluation.knnAccuracy(train: shuffled, test: testFeatures), 0.5)
    }

    func testFeatureExtractionRunsInEvaluationModeWithoutGradientsAndRestoresTheMode() throws {
        let encoder = MLP([8, 6, 3], batchNorm: true)
        encoder.train()
        let batches = BatchList(separableBatches(count: 3, size: 10, seed: 7).map { batch in
            var renamed = batch
            renamed["image"] = batch["embedding"]
            return renamed
        })
        let meanBefore = (encoder.layers[1] as? BatchNorm1d)?.runningMean?.scalars
        let features = try OfflineEvaluation.extractFeatures(encoder, from: batches)
        XCTAssertEqual(features.features.shape, [30, 3])
        XCTAssertEqual(features.labels.count, 30)
        XCTAssertFalse(features.features.requiresGrad)
        XCTAssertEqual((encoder.layers[1] as? BatchNorm1d)?.runningMean?.scalars, meanBefore, "evaluation mode: statistics untouched")
        XCTAssertTrue(encoder.namedModules().allSatisfy { $0.module.isTraining }, "the mode is restored")
    }
}

import Foundation
import SSLData
import SSLDistributed
import SSLMethods
import SSLNN
import SSLTensor
import SSLTraining
import XCTest

/// The online monitors in a data-parallel fit: the kNN queue and the probes receive the
/// embeddings of every rank, validation is split over the ranks, and what they log is what one
/// process logs on the same data; the probes stay identical on every rank.
final class DataParallelMonitorTests: XCTestCase {
    /// Two epochs of SimCLR on noise (12 images a step, 2 views: 24 training rows a step into a
    /// 40-row kNN queue, so it wraps mid-batch and its order matters), validating on 25 images
    /// in batches of 10 (parts of 5/5, 5/5, 2/3 on 2 ranks, 3/3/4, 3/3/4, 1/2/2 on 3), with a
    /// linear probe, an MLP probe with BatchNorm and RankMe on the first 12 validation
    /// embeddings (batch 0 and part of batch 1, so the gather's order matters too).
    ///
    /// The MLP probe is compared with one process on its training loss and on every tensor but
    /// the bias before its BatchNorm and the running mean that follows it: that bias has a zero
    /// gradient in exact arithmetic, so AdamW turns its rounding noise (1e-9, different with
    /// another batch partition) into steps of ±learning rate, in one process as on N ranks;
    /// BatchNorm cancels it in training, the running mean in evaluation only approximately, so
    /// `val/mlp_probe_top1` is left out of the comparison. On the ranks it is bit for bit the same.
    func testKNNProbesAndRankMeOnRanksMatchOneProcess() throws {
        let reference = try ComputeContext.$current.withValue(ComputeContext(threadCount: 1)) {
            try MonitorScenario.run(communicator: SingleProcessCommunicator())
        }
        XCTAssertEqual(reference.validationRows, 10 + 2 * 25, "one process evaluates a sanity batch of 10, then every validation image in 2 epochs")
        for name in MonitorScenario.comparedMetrics {
            let values = reference.metrics[name] ?? []
            XCTAssertEqual(values.count, 2, "\(name) logged once per epoch: \(reference.metrics)")
        }
        let knn = reference.metrics["val/knn_acc"] ?? []
        XCTAssertTrue(knn.allSatisfy { $0 > 0 && $0 < 1 }, "a kNN accuracy strictly between 0 and 1, so a different queue shows: \(knn)")
        for worldSize in [2, 3] {
            let outcomes = try LocalGroupCommunicator.run(worldSize: worldSize) { c in try MonitorScenario.run(communicator: c) }
            XCTAssertEqual(outcomes.reduce(0) { $0 + $1.validationRows }, reference.validationRows,
                           "\(worldSize) ranks: the validation images are split over the ranks, each evaluated once")
            for (rank, outcome) in outcomes.enumerated() {
                for name in MonitorScenario.comparedMetrics {
                    let values = outcome.metrics[name] ?? [], expected = reference.metrics[name] ?? []
                    XCTAssertEqual(values.count, expected.count, "\(worldSize) ranks, rank \(rank): \(name)")
                    for (value, target) in zip(values, expected) {
                        XCTAssertEqual(value, target, accuracy: 1e-4 * Swift.max(1, abs(target)),
                                       "\(worldSize) ranks, rank \(rank): \(name) \(values) vs one process \(expected)")
                    }
                }
                XCTAssertEqual(outcome.probeWeights, outcomes[0].probeWeights, "\(worldSize) ranks: rank \(rank)'s probes are rank 0's, bit for bit")
                XCTAssertEqual(outcome.knnLabels, outcomes[0].knnLabels, "\(worldSize) ranks: rank \(rank)'s kNN queue is rank 0's")
                XCTAssertEqual(outcome.knnLabels, reference.knnLabels, "\(worldSize) ranks: the kNN queue holds one process's rows in its order")
                XCTAssertLessThan(DataParallelScenario.relativeDifference(outcome.knnBank, reference.knnBank), 1e-4,
                                  "\(worldSize) ranks, rank \(rank): kNN queue")
                XCTAssertLessThan(DataParallelScenario.relativeDifference(outcome.comparableProbeWeights, reference.comparableProbeWeights), 1e-4,
                                  "\(worldSize) ranks, rank \(rank): probe weights against one process")
            }
        }
    }

    func testEvaluationShardsSplitEveryBatchIntoNearEqualParts() throws {
        let dataset = InMemoryImageDataset(name: "ramp", channels: 1, height: 1, width: 1, pixels: (0..<25).map { UInt8($0) },
                                           labels: Array(repeating: 0, count: 25), classCount: 1)
        let loader = DataLoader(dataset, batchSize: 10, shuffle: false, dropLast: false, workers: 0)
        let parts = try (0..<3).map { rank in
            try loader.evaluationShard(rank, of: 3).batches(epoch: 0, startingAt: 0).map { $0[integers: "sample_idx"].scalars }
        }
        XCTAssertEqual(parts.map { $0.map(\.count) }, [[3, 3, 1], [3, 3, 2], [4, 4, 2]])
        for batch in 0..<3 {
            XCTAssertEqual(parts.flatMap { $0[batch] }, loader.batch(epoch: 0, index: batch)[integers: "sample_idx"].scalars)
        }
        XCTAssertThrowsError(try loader.evaluationShard(0, of: 6)) { error in
            XCTAssertTrue("\(error)".contains("a batch of 5 images cannot be split over 6 ranks"), "\(error)")
        }
    }

    func testAllGatherRowsTakesDifferentCountsInRankOrder() {
        let results = LocalGroupCommunicator.run(worldSize: 3) { c -> ([Float], [Int], [Int], [Int]) in
            let rows = c.rank  // 0, 1 and 2 rows of 2 values
            let tensor = Tensor(shape: [rows, 2], scalars: (0..<2 * rows).map { Float(10 * c.rank + $0) })
            let gathered = c.allGatherRows(tensor)
            let integers = c.allGatherRows((0..<rows).map { 100 * c.rank + $0 }, columns: 1)
            return (gathered.scalars, gathered.shape, integers.values, integers.counts)
        }
        for (values, shape, integers, counts) in results {
            XCTAssertEqual(shape, [3, 2])
            XCTAssertEqual(values, [10, 11, 20, 21, 22, 23])
            XCTAssertEqual(integers, [100, 200, 201])
            XCTAssertEqual(counts, [0, 1, 2])
        }
    }
}

/// The monitors' scenario (see the test).
enum MonitorScenario {
    static let comparedMetrics = ["val/knn_acc", "val/linear_probe_top1", "val/rankme", "val/effective_rank",
                                  "train/linear_probe_loss", "train/mlp_probe_loss"]

    /// A run that writes checkpoints (a step checkpoint every step), may stop after a step (as
    /// a killed job would have its last checkpoint there) or resume from the last checkpoint.
    struct Checkpointing {
        var directory: String
        var stopAfterStep: Int?
        var resume = false
        /// Rank 0 kills its process (SIGKILL) at this step, before that step's checkpoint: the
        /// job dies as a killed one does, its last checkpoint the step before (under mpirun).
        var killAtStep: Int?
    }

    final class KillAtStep: Callback {
        let step: Int
        init(step: Int) { self.step = step }
        func onTrainBatchEnd(_ trainer: Trainer, _ module: TrainableModule, outputs: Batch, batch: Batch, batchIndex: Int) {
            if trainer.globalStep == step { kill(getpid(), SIGKILL) }
        }
    }

    final class StopAfterStep: Callback {
        let step: Int
        init(step: Int) { self.step = step }
        func onTrainBatchEnd(_ trainer: Trainer, _ module: TrainableModule, outputs: Batch, batch: Batch, batchIndex: Int) {
            if trainer.globalStep == step { trainer.shouldStop = true }
        }
    }

    struct Outcome {
        var metrics: [String: [Float]]
        /// Every tensor of the module's state, in key order.
        var moduleWeights: [Float]
        /// Every probe tensor.
        var probeWeights: [Float]
        /// The probe tensors that follow the data (see the test's notes).
        var comparableProbeWeights: [Float]
        var knnBank: [Float]
        var knnLabels: [Float]
        var validationRows: Int
        /// Training batches this fit ran (fewer when resumed).
        var trainingBatches: Int
    }

    final class ValidationRowCounter: Callback {
        var rows = 0
        var trainingBatches = 0
        func onTrainBatchEnd(_ trainer: Trainer, _ module: TrainableModule, outputs: Batch, batch: Batch, batchIndex: Int) {
            trainingBatches += 1
        }
        func onValidationBatchEnd(_ trainer: Trainer, _ module: TrainableModule, outputs: Batch, batch: Batch, batchIndex: Int) {
            rows += outputs["embedding"].shape[0]
        }
    }

    static func noise(count: Int, side: Int, seed: UInt64) -> InMemoryImageDataset {
        var generator = RandomGenerator(seed: seed)
        let pixels = (0..<count * side * side).map { _ in UInt8(truncatingIfNeeded: Int(generator.nextUniform() * 256)) }
        let labels = (0..<count).map { _ in Int(generator.nextUniform() * 3) % 3 }
        return InMemoryImageDataset(name: "noise", channels: 1, height: side, width: side, pixels: pixels, labels: labels, classCount: 3)
    }

    static func run(communicator: any Communicator, epochs: Int = 2, checkpointing: Checkpointing? = nil) throws -> Outcome {
        let side = 8
        let augment = Compose([RandomResizedCrop(size: side, scale: 0.5...1), RandomHorizontalFlip()])
        let train = DataLoader(noise(count: 48, side: side, seed: 11), batchSize: 12, views: MultiViewTransform([augment, augment]),
                               seed: 5, workers: 0)
        let validation = DataLoader(noise(count: 25, side: side, seed: 12), batchSize: 10, shuffle: false, dropLast: false, workers: 0)
        struct Parts {
            let backbone: ConvNet
            let projector: MLP
            let loss: NTXentLoss
        }
        let parts = ParameterInitialization.withSeed(1 + UInt64(communicator.rank)) {
            Parts(backbone: ConvNet(channels: [4, 8]), projector: MLP([8, 16, 8], batchNorm: true),
                  loss: NTXentLoss(temperature: 0.5, communicator: communicator))
        }
        SyncBatchNorm.convert(parts.backbone, communicator: communicator)
        SyncBatchNorm.convert(parts.projector, communicator: communicator)
        let module = SSLModule(parts, optimizer: .sgd(learningRate: 0.05, momentum: 0.9)) { m, batch, stage in
            var out = batch
            out["embedding"] = m.backbone(batch["image"])
            if stage == .fit {
                let views = foldViews(m.projector(out["embedding"]), sampleIndex: batch[integers: "sample_idx"])
                out["loss"] = m.loss(views[0], views[1])
            }
            return out
        }
        let linear = OnlineProbe(name: "linear_probe", featureCount: 8, classCount: 3, learningRate: 0.05)
        let mlp = OnlineProbe(name: "mlp_probe", featureCount: 8, classCount: 3, hiddenSizes: [16], learningRate: 0.05, seed: 1)
        let knn = OnlineKNN(queueLength: 40, classCount: 3, k: 5)
        let counter = ValidationRowCounter()
        var callbacks: [Callback] = [linear, mlp, knn, RankMe(maxSamples: 12), counter]
        if checkpointing != nil { callbacks.append(ModelCheckpoint(lastEveryNTrainSteps: 1)) }
        if let step = checkpointing?.killAtStep, communicator.isRoot { callbacks.append(KillAtStep(step: step)) }
        if let step = checkpointing?.stopAfterStep, communicator.rank == communicator.worldSize - 1 {
            callbacks.append(StopAfterStep(step: step))  // one rank asks; every rank stops at the same step
        }
        let trainer = Trainer(maxEpochs: epochs, numSanityValSteps: 1, seed: 3, logEveryNSteps: 1, callbacks: callbacks,
                              rootDirectory: checkpointing?.directory ?? NSTemporaryDirectory() + "ssl-dp-monitors-\(UUID().uuidString)",
                              name: "monitors", enableProgressBar: false, enableCheckpointing: checkpointing != nil,
                              enableLogging: checkpointing != nil, strategy: .dataParallel(communicator, bucketBytes: 4096))
        try trainer.fit(module, train: train, validation: validation, resumeFrom: checkpointing?.resume == true ? .last : nil)
        var metrics: [String: [Float]] = [:]
        for record in trainer.metricsHistory {
            for name in comparedMetrics { if let value = record.values[name] { metrics[name, default: []].append(value) } }
        }
        let probeWeights = [linear, mlp].flatMap { probe in
            probe.classifier.stateDict().entries.flatMap(\.tensor.scalars)
        }
        let comparableWeights = linear.classifier.stateDict().entries.flatMap(\.tensor.scalars)
            + mlp.classifier.stateDict().entries.filter { !["0.bias", "1.running_mean"].contains($0.name) }.flatMap(\.tensor.scalars)
        let knnState = knn.stateDict()
        let state = module.stateDict()
        return Outcome(metrics: metrics, moduleWeights: state.keys.sorted().flatMap { state[$0]?.scalars ?? [] }, probeWeights: probeWeights, comparableProbeWeights: comparableWeights, knnBank: knnState.tensors["bank"]?.scalars ?? [],
                       knnLabels: knnState.tensors["labels"]?.scalars ?? [], validationRows: counter.rows,
                       trainingBatches: counter.trainingBatches)
    }
}

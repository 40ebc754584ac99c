import Foundation
import SSLData
import SSLDistributed
import SSLMethods
import SSLNN
import SSLTensor
import SSLTraining

/// The equivalence scenario of data-parallel training: SimCLR or BYOL on a small ConvNet, a
/// global batch of `batchSize` images for `steps` steps, run on one communicator's ranks with
/// SyncBatchNorm and (SimCLR) negatives gathered from every rank. Run with
/// `SingleProcessCommunicator` it is the one-process reference with the whole batch. Ranks other
/// than 0 start from different weights, so the run also checks the initial broadcast.
///
/// The check is sensitive: N ranks sum in a different order than one process (smaller GEMMs,
/// SyncBatchNorm's composed statistics against the fused kernel), and training on noise
/// amplifies those 1e-7 differences step by step. At learning rate 0.05 both methods stay
/// within 3e-6 after 20 steps on 2 and 3 ranks; at 0.02 BYOL's 2-rank run drifted to 8e-4 by
/// step 20 while agreeing to 1e-6 over its first steps (amplified rounding, not a wrong
/// gradient: a missing SyncBatchNorm or local-only negatives differ from the first step).
enum DataParallelScenario {
    enum Method: String { case simclr, byol }

    struct Outcome {
        /// The global loss of each step (the ranks' mean).
        var losses: [Float]
        /// Every tensor of the module's state (teacher included), in key order.
        var weights: [Float]
    }

    final class LossRecorder: Callback {
        var losses: [Float] = []
        func onTrainBatchEnd(_ trainer: Trainer, _ module: TrainableModule, outputs: Batch, batch: Batch, batchIndex: Int) throws {
            if let loss = trainer.progressBarMetrics["train/loss"] { losses.append(loss) }
        }
    }

    static func run(_ method: Method, communicator: any Communicator, batchSize: Int = 12, steps: Int = 20,
                    imageSide: Int = 8, overlap: Bool = true, bucketBytes: Int = 4096,
                    learningRate: Float = 0.05) throws -> Outcome {
        let count = batchSize * steps
        var generator = RandomGenerator(seed: 99)
        let pixels = (0..<count * imageSide * imageSide).map { _ in UInt8(truncatingIfNeeded: Int(generator.nextUniform() * 256)) }
        let dataset = InMemoryImageDataset(name: "noise", channels: 1, height: imageSide, width: imageSide, pixels: pixels,
                                           labels: (0..<count).map { $0 % 3 }, classCount: 3)
        let augment = Compose([RandomResizedCrop(size: imageSide, scale: 0.5...1), RandomHorizontalFlip()])
        let loader = DataLoader(dataset, batchSize: batchSize, views: MultiViewTransform([augment, augment]), seed: 5, workers: 0)
        let module = try makeModule(method, communicator: communicator, seed: 1 + UInt64(communicator.rank), learningRate: learningRate)
        let recorder = LossRecorder()
        let trainer = Trainer(maxEpochs: 1, numSanityValSteps: 0, seed: 3, logEveryNSteps: 1, callbacks: [recorder],
                              rootDirectory: NSTemporaryDirectory() + "ssl-dp-\(UUID().uuidString)",
                              enableProgressBar: false, enableCheckpointing: false, enableLogging: false,
                              strategy: .dataParallel(communicator, bucketBytes: bucketBytes, overlapsWithBackward: overlap))
        try trainer.fit(module, train: loader)
        let state = module.stateDict()
        let weights = state.keys.sorted().flatMap { key in state[key]?.scalars ?? [] }
        return Outcome(losses: recorder.losses, weights: weights)
    }

    static func makeModule(_ method: Method, communicator: any Communicator, seed: UInt64, learningRate: Float) throws -> TrainableModule {
        switch method {
        case .simclr:
            struct Parts {
                let backbone: ConvNet
                let projector: MLP
                let loss: NTXentLoss
            }
            let parts = ParameterInitialization.withSeed(seed) {
                Parts(backbone: ConvNet(channels: [4, 8]), projector: MLP([8, 16, 8], batchNorm: true),
                      loss: NTXentLoss(temperature: 0.5, communicator: communicator))
            }
            SyncBatchNorm.convert(parts.backbone, communicator: communicator)
            SyncBatchNorm.convert(parts.projector, communicator: communicator)
            return SSLModule(parts, optimizer: .sgd(learningRate: learningRate, momentum: 0.9, weightDecay: 1e-4)) { m, batch, stage in
                var out = batch
                let views = foldViews(m.projector(m.backbone(batch["image"])), sampleIndex: batch[integers: "sample_idx"])
                out["loss"] = m.loss(views[0], views[1])
                return out
            }
        case .byol:
            struct Parts {
                let backbone: TeacherStudentModule<ConvNet>
                let projector: TeacherStudentModule<MLP>
                let predictor: MLP
                let loss = BYOLLoss()
            }
            let parts = try ParameterInitialization.withSeed(seed) {
                try Parts(backbone: TeacherStudentModule(student: ConvNet(channels: [4, 8]), baseEMACoefficient: 0.9, schedule: .perStep),
                      projector: TeacherStudentModule(student: MLP([8, 16, 8], batchNorm: true), baseEMACoefficient: 0.9, schedule: .perStep),
                      predictor: MLP([8, 16, 8], batchNorm: true))
            }
            for part in [parts.backbone, parts.projector, parts.predictor] as [Module] { SyncBatchNorm.convert(part, communicator: communicator) }
            return SSLModule(parts, optimizer: .sgd(learningRate: learningRate, momentum: 0.9, weightDecay: 1e-4)) { m, batch, stage in
                var out = batch
                let index = batch[integers: "sample_idx"]
                let predictions = foldViews(m.predictor(m.projector.forwardStudent(m.backbone.forwardStudent(batch["image"]))), sampleIndex: index)
                let targets = foldViews(m.projector.forwardTeacher(m.backbone.forwardTeacher(batch["image"])), sampleIndex: index)
                out["loss"] = m.loss(predictions: (predictions[0], predictions[1]), targets: (targets[0], targets[1]))
                return out
            }
        }
    }

    /// ‖a − b‖ / ‖b‖.
    static func relativeDifference(_ a: [Float], _ b: [Float]) -> Float {
        precondition(a.count == b.count, "relativeDifference: \(a.count) vs \(b.count) values")
        var difference: Double = 0, norm: Double = 0
        for (x, y) in zip(a, b) {
            difference += Double(x - y) * Double(x - y)
            norm += Double(y) * Double(y)
        }
        return Float((difference / Swift.max(norm, 1e-30)).squareRoot())
    }
}

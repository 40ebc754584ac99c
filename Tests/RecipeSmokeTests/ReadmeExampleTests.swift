import Foundation
import SelfSupervised
import XCTest

/// The README's custom-forward example, line for line, on a small slice of the built-in data
/// (the README reads Fashion-MNIST), so the front-door example keeps compiling and running.
final class ReadmeExampleTests: XCTestCase {
    func testTheReadmeCustomForwardExampleTrains() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ssl-readme-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }

        struct Parts {
            let backbone = ConvNet(channels: [32, 64, 128], inputChannels: 1)
            let projector = MLP([128, 512, 128], batchNorm: true)
            let loss = NTXentLoss(temperature: 0.5)
        }
        let module = SSLModule(Parts()) { m, batch, stage in
            var out = batch
            out["embedding"] = m.backbone(batch["image"])
            if stage == .fit {
                let views = foldViews(m.projector(out["embedding"]), sampleIndex: batch[integers: "sample_idx"])
                out["loss"] = m.loss(views[0], views[1])
            }
            return out
        }
        let augment = Compose([RandomResizedCrop(size: 28, scale: 0.3...1), RandomHorizontalFlip(), Normalize(mean: [0.286], std: [0.353])])
        let train = DataLoader(BuiltinShapes.load(split: .train, count: 32), batchSize: 8, views: MultiViewTransform(augment, count: 2))
        let test = DataLoader(BuiltinShapes.load(split: .test, count: 16), batchSize: 8,
                              views: MultiViewTransform([Normalize(mean: [0.286], std: [0.353])]), shuffle: false, dropLast: false)
        let trainer = Trainer(maxEpochs: 1, limitTrainBatches: 2,
                              callbacks: [OnlineProbe(featureCount: 128, classCount: 10), OnlineKNN(classCount: 10)],
                              rootDirectory: directory, enableProgressBar: false)
        try trainer.fit(module, train: train, validation: test)
        XCTAssertEqual(trainer.globalStep, 2)
        XCTAssertNotNil(trainer.callbackMetrics["val/knn_acc"])
        XCTAssertNotNil(trainer.callbackMetrics["val/linear_probe_top1"])
    }
}

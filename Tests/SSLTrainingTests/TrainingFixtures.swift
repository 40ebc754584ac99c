import Foundation
import SSLNN
import SSLOptim
import SSLTensor
import SSLTestSupport
import SSLTraining

/// A tiny regression model without BatchNorm: encoder → head, mean squared error to "y".
struct TinyParts {
    let encoder: Linear
    let head: Linear
    init(seed: UInt64 = 1) {
        (encoder, head) = ParameterInitialization.withSeed(seed) { (Linear(4, 3), Linear(3, 2)) }
    }
}

func makeTinyModule(seed: UInt64 = 1, optimizer: OptimizerSpec? = .adamW(learningRate: 0.01),
                    logValidation: Bool = true) -> SSLModule<TinyParts> {
    SSLModule(TinyParts(seed: seed), optimizer: optimizer) { m, batch, stage in
        var out = batch
        let prediction = m.head(m.encoder(batch["x"]).relu())
        out["embedding"] = prediction
        let difference = prediction - batch["y"]
        let loss = (difference * difference).mean()
        if stage == .fit { out["loss"] = loss }
        if stage == .validate && logValidation { m.log("val/loss", loss) }
        return out
    }
}

/// `count` deterministic batches of `size` rows.
func makeBatches(count: Int, size: Int = 6, seed: UInt64 = 3) -> [Batch] {
    (0..<count).map { index in
        var batch = Batch()
        batch["x"] = testTensor([size, 4], seed: seed &+ UInt64(index) &* 2)
        batch["y"] = testTensor([size, 2], seed: seed &+ UInt64(index) &* 2 &+ 1)
        batch[integers: "sample_idx"] = IntTensor((0..<size).map { index * size + $0 })
        return batch
    }
}

/// A fresh temporary directory, removed by `cleanup`.
func makeTemporaryDirectory() throws -> String {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("ssl-training-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url.path
}

/// The bytes of every parameter and buffer, for exact comparisons.
func weightBytes(_ module: TrainableModule) -> [String: [UInt32]] {
    Dictionary(uniqueKeysWithValues: module.stateDict().entries.map { ($0.name, $0.tensor.scalars.map(\.bitPattern)) })
}

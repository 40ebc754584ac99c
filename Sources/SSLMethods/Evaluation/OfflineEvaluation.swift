import SSLNN
import SSLOptim
import SSLTensor
import SSLTraining

/// The numbers a recipe reports for a trained encoder: features extracted in evaluation mode
/// without gradients, then a weighted kNN and a linear probe on them (after quadra's and
/// solo-learn's evaluation of embeddings).
///
/// ```swift
/// let train = try OfflineEvaluation.extractFeatures(encoder, from: trainLoader)
/// let test = try OfflineEvaluation.extractFeatures(encoder, from: testLoader)
/// let knn = OfflineEvaluation.knnAccuracy(train: train, test: test)
/// let linear = OfflineEvaluation.linearProbeAccuracy(train: train, test: test)
/// ```
public enum OfflineEvaluation {
    /// Features and labels of a whole split.
    public struct Features: Sendable {
        public let features: Tensor
        public let labels: [Int]
        public init(features: Tensor, labels: [Int]) {
            precondition(features.rank == 2 && features.shape[0] == labels.count,
                         "Features: \(features.shape) features for \(labels.count) labels")
            self.features = features
            self.labels = labels
        }
        public var classCount: Int { (labels.max() ?? -1) + 1 }
    }

    /// Runs `encoder` over every batch of `data` (epoch 0, in order) in evaluation mode and
    /// without gradients, restoring the encoder's mode afterwards. Multi-view batches use the
    /// first view of each sample. Throws when a batch cannot be made (a streamed image file
    /// damaged since its folder was loaded).
    public static func extractFeatures(_ encoder: Module, from data: BatchSource, inputKey: String = "image",
                                       labelKey: String = "label") throws -> Features {
        let modes = encoder.namedModules().map { ($0.module, $0.module.isTraining) }
        encoder.eval()
        defer { restore(modes) }
        var chunks: [Tensor] = []
        var labels: [Int] = []
        let iterator = data.throwingBatches(epoch: 0, startingAt: 0)
        while let batch = try iterator.next() {
            var images = batch[inputKey]
            var batchLabels = batch[integers: labelKey].scalars
            if let indices = batch.integersIfPresent("sample_idx"), Set(indices.scalars).count < indices.count {
                // Several views per sample: keep each sample's first row.
                var seen = Set<Int>(), keep: [Int] = []
                for (row, index) in indices.scalars.enumerated() where seen.insert(index).inserted { keep.append(row) }
                images = images.indexSelect(axis: 0, indices: keep)
                batchLabels = keep.map { batchLabels[$0] }
            }
            let features = noGrad { encoder(images) }
            chunks.append(features.rank > 2 ? features.flatten() : features)
            labels += batchLabels
        }
        precondition(!chunks.isEmpty, "extractFeatures: the data source yielded no batches")
        return Features(features: Tensor.concat(chunks, axis: 0), labels: labels)
    }

    private static func restore(_ modes: [(Module, Bool)]) {
        for (module, mode) in modes { module.setTrainingMode(mode) }
    }

    /// Weighted-kNN accuracy of `test` against `train` as the bank (k 20, temperature 0.07).
    public static func knnAccuracy(train: Features, test: Features, k: Int = 20, temperature: Float = 0.07) -> Float {
        let classCount = Swift.max(train.classCount, test.classCount)
        let predictions = WeightedKNN(k: k, temperature: temperature)
            .classify(queries: test.features, bank: train.features, bankLabels: train.labels, classCount: classCount)
        let correct = zip(predictions, test.labels).filter { $0 == $1 }.count
        return Float(correct) / Float(Swift.max(test.labels.count, 1))
    }

    /// Accuracy of a logistic-regression probe on frozen features: standardised by the train
    /// split's mean and standard deviation, trained full-batch with Adam until the loss changes
    /// by less than `tolerance` (relative) or `maxIterations` pass.
    public static func linearProbeAccuracy(train: Features, test: Features, learningRate: Float = 0.05,
                                           weightDecay: Float = 1e-5, maxIterations: Int = 500,
                                           tolerance: Float = 1e-6) -> Float {
        let classCount = Swift.max(train.classCount, test.classCount)
        let dimensions = train.features.shape[1]
        let mean = train.features.mean(axes: [0], keepDims: true)
        let std = (train.features.variance(axes: [0], correction: 0, keepDims: true) + 1e-6).sqrt()
        let x = noGrad { (train.features - mean) / std }
        let testX = noGrad { (test.features - mean) / std }
        let targets = IntTensor(train.labels)
        let weight = Tensor.zeros([dimensions, classCount]).requiringGrad()
        let bias = Tensor.zeros([classCount]).requiringGrad()
        let optimizer = Adam([("weight", weight), ("bias", bias)], learningRate: learningRate, weightDecay: weightDecay)
        var previous = Float.infinity
        for _ in 0..<maxIterations {
            optimizer.zeroGrad()
            let loss = (x.matmul(weight) + bias).crossEntropy(targets: targets)
            let value = loss.item()
            loss.backward()
            optimizer.step()
            if Swift.abs(previous - value) <= tolerance * Swift.max(Swift.abs(value), 1e-12) { break }
            previous = value
        }
        let predictions = noGrad { (testX.matmul(weight) + bias).argmax(axis: 1) }.scalars
        let correct = zip(predictions, test.labels).filter { $0 == $1 }.count
        return Float(correct) / Float(Swift.max(test.labels.count, 1))
    }
}

/// A random-access collection of samples: a count and the sample at an index.
///
/// Datasets are read from the loader's worker threads at the same time, so they must be
/// `Sendable` and `sample(at:)` must not depend on call order. `InMemoryImageDataset` is the
/// usual one; the readers (`FashionMNIST`, `MNIST`, `CIFAR10`, `CIFAR100`) and `BuiltinShapes`
/// produce it. A dataset whose samples can fail to be read (`StreamingImageDataset`, which
/// decodes image files as they are asked for) implements `loadSample(at:)`, which the loader
/// calls: a failure there ends the loader's iteration with the error.
///
/// ```swift
/// struct Gradients: Dataset {
///     var count: Int { 100 }
///     func sample(at index: Int) -> Sample {
///         let pixels = (0..<64).map { Float($0 % 8) / 7 * Float(index) / 99 }
///         return Sample(image: Image(channels: 1, height: 8, width: 8, pixels: pixels), label: index % 2, index: index)
///     }
/// }
/// ```
public protocol Dataset: Sendable {
    /// The number of samples.
    var count: Int { get }
    /// The sample at `index` (in `0..<count`), whose `index` field is `index`.
    func sample(at index: Int) -> Sample
    /// The sample at `index`, or the error that kept it from being read (an image file damaged
    /// since it was listed). `DataLoader` reads samples this way. The default returns
    /// `sample(at:)`, for datasets that cannot fail.
    func loadSample(at index: Int) throws -> Sample
}

extension Dataset {
    public func loadSample(at index: Int) throws -> Sample { sample(at: index) }
}

/// Which part of a dataset to load.
///
/// ```swift
/// let test = try FashionMNIST.load(split: .test)
/// ```
public enum DatasetSplit: String, Sendable, CaseIterable {
    case train
    case test
}

/// A random-access collection of samples: a count and the sample at an index.
///
/// Datasets are read from the loader's worker threads at the same time, so they must be
/// `Sendable` and `sample(at:)` must not depend on call order. `InMemoryImageDataset` is the
/// usual one; the readers (`FashionMNIST`, `MNIST`, `CIFAR10`, `CIFAR100`) and `BuiltinShapes`
/// produce it.
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

import SSLTensor

/// Labelled images held in memory as bytes (one `UInt8` per pixel, CHW per image), converted to
/// floats in [0, 1] (÷ 255) only when a sample is read. Fashion-MNIST's 60 000 × 28 × 28 training
/// set takes 47 MB this way.
///
/// ```swift
/// let data = InMemoryImageDataset(name: "toy", channels: 1, height: 2, width: 2,
///                                 pixels: [0, 255, 128, 64, 1, 2, 3, 4], labels: [0, 1], classCount: 2)
/// let first = data.sample(at: 0)               // image 1×2×2, label 0, index 0
/// let small = data.subset([1])                 // one image
/// ```
public struct InMemoryImageDataset: ImageDataset {
    /// A name for messages and logs (`"fashion-mnist-train"`).
    public let name: String
    /// Channels per image.
    public let channels: Int
    /// Rows per image.
    public let height: Int
    /// Columns per image.
    public let width: Int
    /// The number of classes; every label is in `0..<classCount`.
    public let classCount: Int
    /// All pixels: image after image, each CHW.
    public let pixels: [UInt8]
    /// The label of each image.
    public let labels: [Int]
    /// Further integer labels per image (CIFAR-100's `"coarse_label"`), collated under their
    /// names.
    public let auxiliaryLabels: [String: [Int]]

    /// A dataset over the given bytes and labels.
    public init(name: String, channels: Int, height: Int, width: Int, pixels: [UInt8], labels: [Int],
                classCount: Int, auxiliaryLabels: [String: [Int]] = [:]) {
        precondition(channels > 0 && height > 0 && width > 0,
                     "InMemoryImageDataset(\(name)): image size \(channels)×\(height)×\(width) must be positive")
        precondition(pixels.count == labels.count * channels * height * width,
                     "InMemoryImageDataset(\(name)): \(labels.count) labels of \(channels)×\(height)×\(width) images need \(labels.count * channels * height * width) pixels, got \(pixels.count)")
        precondition(classCount > 0, "InMemoryImageDataset(\(name)): classCount must be positive, got \(classCount)")
        if let bad = labels.firstIndex(where: { $0 < 0 || $0 >= classCount }) {
            preconditionFailure("InMemoryImageDataset(\(name)): label \(labels[bad]) of image \(bad) is outside 0..<\(classCount)")
        }
        for (key, values) in auxiliaryLabels {
            precondition(values.count == labels.count,
                         "InMemoryImageDataset(\(name)): auxiliary labels \"\(key)\" has \(values.count) entries for \(labels.count) images")
        }
        self.name = name
        self.channels = channels
        self.height = height
        self.width = width
        self.pixels = pixels
        self.labels = labels
        self.classCount = classCount
        self.auxiliaryLabels = auxiliaryLabels
    }

    /// The number of images.
    public var count: Int { labels.count }

    /// The number of bytes of one image.
    public var imageSize: Int { channels * height * width }

    /// The image at `index` as floats in [0, 1].
    public func image(at index: Int) -> Image {
        precondition(index >= 0 && index < count, "InMemoryImageDataset(\(name)).image(at:): index \(index) is outside 0..<\(count)")
        let size = imageSize
        return pixels.withUnsafeBufferPointer { buffer in
            Image(channels: channels, height: height, width: width,
                  bytes: UnsafeBufferPointer(rebasing: buffer[(index * size)..<((index + 1) * size)]))
        }
    }

    /// The bytes of image `index` (CHW).
    public func imageBytes(at index: Int) -> [UInt8] {
        precondition(index >= 0 && index < count, "InMemoryImageDataset(\(name)).imageBytes(at:): index \(index) is outside 0..<\(count)")
        return Array(pixels[(index * imageSize)..<((index + 1) * imageSize)])
    }

    public func sample(at index: Int) -> Sample {
        var extras: [String: SampleValue] = [:]
        for (key, values) in auxiliaryLabels { extras[key] = .integer(values[index]) }
        return Sample(image: image(at: index), label: labels[index], index: index, extras: extras)
    }

    /// The images at `indices` (repeats allowed), in that order.
    public func subset(_ indices: [Int]) -> InMemoryImageDataset {
        let size = imageSize
        var selected = [UInt8]()
        selected.reserveCapacity(indices.count * size)
        for index in indices {
            precondition(index >= 0 && index < count, "InMemoryImageDataset(\(name)).subset: index \(index) is outside 0..<\(count)")
            selected.append(contentsOf: pixels[(index * size)..<((index + 1) * size)])
        }
        return InMemoryImageDataset(
            name: name, channels: channels, height: height, width: width, pixels: selected,
            labels: indices.map { labels[$0] }, classCount: classCount,
            auxiliaryLabels: auxiliaryLabels.mapValues { values in indices.map { values[$0] } })
    }

    /// The first `length` images (all of them when there are fewer).
    public func prefix(_ length: Int) -> InMemoryImageDataset {
        subset(Array(0..<Swift.min(Swift.max(length, 0), count)))
    }

    /// The images at `indices` (all when nil) as one float tensor `[N, C, H, W]` in [0, 1], for
    /// evaluation without augmentation.
    public func imageTensor(indices: [Int]? = nil) -> Tensor {
        let chosen = indices ?? Array(0..<count)
        let size = imageSize
        let result = Tensor.zeros([chosen.count, channels, height, width])
        result.withUnsafeMutableElements { output in
            pixels.withUnsafeBufferPointer { input in
                for (row, index) in chosen.enumerated() {
                    precondition(index >= 0 && index < count,
                                 "InMemoryImageDataset(\(name)).imageTensor: index \(index) is outside 0..<\(count)")
                    let source = index &* size, target = row &* size
                    for i in 0..<size { output[target &+ i] = Float(input[source &+ i]) / 255 }
                }
            }
        }
        return result
    }
}

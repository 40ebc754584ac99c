import SSLTensor

/// N augmentation pipelines, one per view: each image of a batch yields N views, the v-th made
/// by the v-th pipeline. The loader collates them view-major (all view-0 images, then all
/// view-1, …) and `foldViews` splits them back, aligned by sample.
///
/// Each view draws from its own stream, `RandomGenerator(seed: seed, stream: [epoch, sample
/// index, view])`, so the views are independent and do not depend on which thread makes them.
///
/// ```swift
/// let simclr = Compose([RandomResizedCrop(size: 28), RandomHorizontalFlip(),
///                       RandomApply([ColorJitter(brightness: 0.4, contrast: 0.4)], p: 0.8)])
/// let views = MultiViewTransform([simclr, simclr])        // two views per image
/// let asymmetric = MultiViewTransform([withBlur, withSolarize])
/// ```
public struct MultiViewTransform: Sendable {
    /// One pipeline per view.
    public let transforms: [any ImageTransform]

    public init(_ transforms: [any ImageTransform]) {
        precondition(!transforms.isEmpty, "MultiViewTransform: at least one view transform is needed")
        self.transforms = transforms
    }

    /// `count` views made by the same pipeline.
    public init(_ transform: any ImageTransform, count: Int) {
        precondition(count > 0, "MultiViewTransform: count must be positive, got \(count)")
        self.init(Array(repeating: transform, count: count))
    }

    /// The number of views per image.
    public var viewCount: Int { transforms.count }

    /// The generator of one view of one sample in one epoch.
    public static func generator(seed: UInt64, epoch: Int, sampleIndex: Int, view: Int) -> RandomGenerator {
        RandomGenerator(seed: seed, stream: [UInt64(truncatingIfNeeded: epoch), UInt64(truncatingIfNeeded: sampleIndex),
                                             UInt64(truncatingIfNeeded: view)])
    }

    /// The views of `image` for a sample, in view order.
    public func views(of image: Image, seed: UInt64, epoch: Int, sampleIndex: Int) -> [Image] {
        transforms.enumerated().map { view, transform in
            var generator = Self.generator(seed: seed, epoch: epoch, sampleIndex: sampleIndex, view: view)
            return transform(image, generator: &generator)
        }
    }
}

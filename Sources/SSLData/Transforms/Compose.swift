import SSLTensor

/// Transforms applied one after the other (torchvision's `Compose`); an empty list leaves the
/// image as it is.
///
/// ```swift
/// let pipeline = Compose([RandomResizedCrop(size: 28), RandomHorizontalFlip()])
/// ```
public struct Compose: ImageTransform {
    /// The steps, in order.
    public let transforms: [any ImageTransform]

    public init(_ transforms: [any ImageTransform]) { self.transforms = transforms }

    public func apply(_ image: inout Image, generator: inout RandomGenerator) {
        for transform in transforms { transform.apply(&image, generator: &generator) }
    }
}

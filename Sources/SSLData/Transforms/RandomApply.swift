import SSLTensor

/// Applies its transforms (in order) with probability `p`, else leaves the image unchanged
/// (torchvision's `RandomApply`). One uniform draw decides, before the transforms draw theirs.
///
/// ```swift
/// let jitter = RandomApply([ColorJitter(brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.1)], p: 0.8)
/// ```
public struct RandomApply: ImageTransform {
    /// The steps applied together.
    public let transforms: [any ImageTransform]
    /// The probability of applying them.
    public let p: Float

    public init(_ transforms: [any ImageTransform], p: Float = 0.5) {
        precondition(p >= 0 && p <= 1, "RandomApply: p must be in [0, 1], got \(p)")
        self.transforms = transforms
        self.p = p
    }

    public func apply(_ image: inout Image, generator: inout RandomGenerator) {
        guard generator.nextUniform() < p else { return }
        for transform in transforms { transform.apply(&image, generator: &generator) }
    }
}

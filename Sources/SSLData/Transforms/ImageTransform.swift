import SSLTensor

/// One step of an augmentation pipeline: rewrites an image in place, drawing any randomness
/// from the generator it is given (never from elsewhere), so that the loader can make every
/// draw a function of (seed, epoch, sample index, view).
///
/// Transforms are immutable values shared by the loader's worker threads.
///
/// ```swift
/// struct Invert: ImageTransform {
///     func apply(_ image: inout Image, generator: inout RandomGenerator) {
///         for i in image.pixels.indices { image.pixels[i] = 1 - image.pixels[i] }
///     }
/// }
/// var generator = RandomGenerator(seed: 0)
/// let inverted = Invert()(image, generator: &generator)
/// ```
public protocol ImageTransform: Sendable {
    /// Transforms `image` in place.
    func apply(_ image: inout Image, generator: inout RandomGenerator)
}

extension ImageTransform {
    /// The transformed copy of `image`.
    public func callAsFunction(_ image: Image, generator: inout RandomGenerator) -> Image {
        var result = image
        apply(&result, generator: &generator)
        return result
    }
}

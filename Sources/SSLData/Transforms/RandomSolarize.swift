import SSLTensor

/// With probability `p`, inverts every pixel at or above `threshold` (x ↦ 1 − x), as
/// torchvision's `RandomSolarize` does for float images in [0, 1].
///
/// ```swift
/// let solarize = RandomSolarize(threshold: 0.5, p: 0.2)
/// ```
public struct RandomSolarize: ImageTransform {
    /// Pixels at or above this value are inverted.
    public let threshold: Float
    /// The probability of solarizing.
    public let p: Float

    public init(threshold: Float = 0.5, p: Float = 0.5) {
        precondition(p >= 0 && p <= 1, "RandomSolarize: p must be in [0, 1], got \(p)")
        self.threshold = threshold
        self.p = p
    }

    public func apply(_ image: inout Image, generator: inout RandomGenerator) {
        guard generator.nextUniform() < p else { return }
        let threshold = self.threshold
        image.pixels.withUnsafeMutableBufferPointer { pixels in
            for i in 0..<pixels.count {
                let value = pixels[i]
                pixels[i] = value >= threshold ? 1 - value : value
            }
        }
    }
}

import SSLTensor

/// Mirrors the image left–right with probability `p` (torchvision's `RandomHorizontalFlip`).
///
/// ```swift
/// let flip = RandomHorizontalFlip(p: 0.5)
/// ```
public struct RandomHorizontalFlip: ImageTransform {
    /// The probability of flipping.
    public let p: Float

    public init(p: Float = 0.5) {
        precondition(p >= 0 && p <= 1, "RandomHorizontalFlip: p must be in [0, 1], got \(p)")
        self.p = p
    }

    public func apply(_ image: inout Image, generator: inout RandomGenerator) {
        guard generator.nextUniform() < p else { return }
        Self.flip(&image)
    }

    /// Mirrors `image` left–right.
    public static func flip(_ image: inout Image) {
        let width = image.width, rows = image.channels &* image.height
        image.pixels.withUnsafeMutableBufferPointer { pixels in
            for row in 0..<rows {
                var left = row &* width, right = left &+ width &- 1
                while left < right {
                    pixels.swapAt(left, right)
                    left &+= 1
                    right &-= 1
                }
            }
        }
    }
}

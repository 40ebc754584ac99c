import SSLTensor

/// With probability `p`, replaces every channel of an RGB image by its luminance
/// 0.2989 R + 0.587 G + 0.114 B (torchvision's `RandomGrayscale`; the image keeps its 3
/// channels). A one-channel image is already gray and is left as it is (the draw still happens).
///
/// ```swift
/// let gray = RandomGrayscale(p: 0.2)
/// ```
public struct RandomGrayscale: ImageTransform {
    /// The probability of converting.
    public let p: Float

    public init(p: Float = 0.1) {
        precondition(p >= 0 && p <= 1, "RandomGrayscale: p must be in [0, 1], got \(p)")
        self.p = p
    }

    public func apply(_ image: inout Image, generator: inout RandomGenerator) {
        guard generator.nextUniform() < p, image.channels == 3 else { return }
        let plane = image.planeSize
        image.pixels.withUnsafeMutableBufferPointer { pixels in
            for i in 0..<plane {
                let gray = ColorJitter.luminance(pixels[i], pixels[plane &+ i], pixels[2 &* plane &+ i])
                pixels[i] = gray
                pixels[plane &+ i] = gray
                pixels[2 &* plane &+ i] = gray
            }
        }
    }
}

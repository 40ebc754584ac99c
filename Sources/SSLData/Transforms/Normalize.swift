import SSLTensor

/// Standardises each channel: x ↦ (x − mean[c]) / std[c] (torchvision's `Normalize`). Give one
/// value per channel, or a single value for all channels. Draws nothing.
///
/// ```swift
/// let normalize = Normalize(mean: [0.2860], std: [0.3530])          // Fashion-MNIST
/// let rgb = Normalize(mean: [0.4914, 0.4822, 0.4465], std: [0.2470, 0.2435, 0.2616])
/// ```
public struct Normalize: ImageTransform {
    /// The mean subtracted from each channel.
    public let mean: [Float]
    /// The standard deviation each channel is divided by.
    public let std: [Float]

    public init(mean: [Float], std: [Float]) {
        precondition(!mean.isEmpty && mean.count == std.count,
                     "Normalize: mean has \(mean.count) values and std \(std.count); give one per channel (the same number, at least 1)")
        precondition(std.allSatisfy { $0 > 0 }, "Normalize: every std must be positive, got \(std)")
        self.mean = mean
        self.std = std
    }

    public func apply(_ image: inout Image, generator: inout RandomGenerator) {
        precondition(mean.count == 1 || mean.count == image.channels,
                     "Normalize: \(mean.count) means and stds for an image with \(image.channels) channels (\(image.shape))")
        let plane = image.planeSize
        let channels = image.channels
        image.pixels.withUnsafeMutableBufferPointer { pixels in
            for channel in 0..<channels {
                let m = mean.count == 1 ? mean[0] : mean[channel]
                let s = std.count == 1 ? std[0] : std[channel]
                let start = channel &* plane
                for i in start..<(start &+ plane) { pixels[i] = (pixels[i] - m) / s }
            }
        }
    }
}

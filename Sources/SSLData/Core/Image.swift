import SSLTensor

/// One image inside the data pipeline: `channels × height × width` Float pixels, channel-major
/// (CHW), with values in [0, 1] until `Normalize` shifts them.
///
/// Images are small values: transforms take them `inout` and rewrite the pixels in place (or
/// replace the image when the size changes, as a crop does). They become tensors only when the
/// loader collates a batch; `tensor()` converts one on its own.
///
/// ```swift
/// var image = Image(channels: 1, height: 2, width: 2, pixels: [0, 0.25, 0.5, 1])
/// image[0, 1, 0] = 0.75
/// let x = image.tensor()            // shape [1, 2, 2]
/// ```
public struct Image: Sendable, Equatable {
    /// The number of channels (1 for grayscale, 3 for RGB).
    public let channels: Int
    /// The number of rows.
    public let height: Int
    /// The number of columns.
    public let width: Int
    /// The pixels, channel after channel, each channel row-major.
    public var pixels: [Float]

    /// An image with the given pixels (CHW order).
    public init(channels: Int, height: Int, width: Int, pixels: [Float]) {
        precondition(channels > 0 && height > 0 && width > 0,
                     "Image: channels, height and width must be positive, got \(channels)×\(height)×\(width)")
        precondition(pixels.count == channels * height * width,
                     "Image: \(channels)×\(height)×\(width) needs \(channels * height * width) pixels but \(pixels.count) were given")
        self.channels = channels
        self.height = height
        self.width = width
        self.pixels = pixels
    }

    /// A black image.
    public init(channels: Int, height: Int, width: Int) {
        precondition(channels > 0 && height > 0 && width > 0,
                     "Image: channels, height and width must be positive, got \(channels)×\(height)×\(width)")
        self.init(channels: channels, height: height, width: width,
                  pixels: [Float](repeating: 0, count: channels * height * width))
    }

    /// An image from 8-bit pixels (CHW), each divided by 255 as torchvision's `ToTensor` does.
    public init(channels: Int, height: Int, width: Int, bytes: UnsafeBufferPointer<UInt8>) {
        let count = channels * height * width
        precondition(bytes.count == count,
                     "Image(bytes:): \(channels)×\(height)×\(width) needs \(count) bytes but \(bytes.count) were given")
        let pixels = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            for i in 0..<count { buffer[i] = Float(bytes[i]) / 255 }
            initialized = count
        }
        self.init(channels: channels, height: height, width: width, pixels: pixels)
    }

    /// An image from a tensor of shape `[C, H, W]` or `[H, W]` (one channel).
    public init(_ tensor: Tensor) {
        switch tensor.rank {
        case 3:
            self.init(channels: tensor.shape[0], height: tensor.shape[1], width: tensor.shape[2], pixels: tensor.scalars)
        case 2:
            self.init(channels: 1, height: tensor.shape[0], width: tensor.shape[1], pixels: tensor.scalars)
        default:
            preconditionFailure("Image(tensor): expected shape [C, H, W] or [H, W], got \(tensor.shape)")
        }
    }

    /// The number of pixels in one channel.
    @inlinable public var planeSize: Int { height * width }

    /// The shape as `[channels, height, width]`.
    public var shape: [Int] { [channels, height, width] }

    /// The pixel at (channel, row, column).
    public subscript(channel: Int, row: Int, column: Int) -> Float {
        get {
            precondition(channel >= 0 && channel < channels && row >= 0 && row < height && column >= 0 && column < width,
                         "Image subscript: (\(channel), \(row), \(column)) is outside \(channels)×\(height)×\(width)")
            return pixels[(channel * height + row) * width + column]
        }
        set {
            precondition(channel >= 0 && channel < channels && row >= 0 && row < height && column >= 0 && column < width,
                         "Image subscript: (\(channel), \(row), \(column)) is outside \(channels)×\(height)×\(width)")
            pixels[(channel * height + row) * width + column] = newValue
        }
    }

    /// The image as a float tensor of shape `[C, H, W]`.
    public func tensor() -> Tensor {
        Tensor(shape: shape, scalars: pixels)
    }
}

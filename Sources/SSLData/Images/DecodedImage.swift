/// A decoded picture at its own size: `height` rows of `width` pixels of `channels` bytes
/// (interleaved, HWC: RGB for 3 channels, grey for 1), as `ImageDecoder` returns it.
///
/// `resizedCenterCrop(size:)` turns it into what the datasets store: the shorter side resized
/// to `size`, the centre `size × size` square, channel-major bytes (CHW).
///
/// ```swift
/// let picture = try ImageDecoder.decode(contentsOf: "cat.jpg", channels: 3)
/// print(picture.width, picture.height)         // 500 375
/// let square = picture.resizedCenterCrop(size: 96)   // 3 × 96 × 96 bytes, CHW
/// ```
public struct DecodedImage: Sendable, Equatable {
    /// Columns.
    public let width: Int
    /// Rows.
    public let height: Int
    /// Bytes per pixel: 1 (grey) or 3 (RGB).
    public let channels: Int
    /// The pixels, row after row, each pixel's channels together (HWC).
    public var pixels: [UInt8]

    /// A picture over the given interleaved pixels.
    public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) {
        precondition(width > 0 && height > 0 && channels > 0,
                     "DecodedImage: width, height and channels must be positive, got \(width)×\(height)×\(channels)")
        precondition(pixels.count == width * height * channels,
                     "DecodedImage: \(width)×\(height)×\(channels) needs \(width * height * channels) bytes, got \(pixels.count)")
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = pixels
    }

    /// The byte of `channel` at column `x`, row `y`.
    public subscript(x x: Int, y y: Int, channel channel: Int) -> UInt8 {
        precondition(x >= 0 && x < width && y >= 0 && y < height && channel >= 0 && channel < channels,
                     "DecodedImage subscript: (\(x), \(y), \(channel)) is outside \(width)×\(height)×\(channels)")
        return pixels[(y * width + x) * channels + channel]
    }

    /// The picture as channel-major bytes (CHW), at its own size.
    public func planes() -> [UInt8] {
        let planeSize = width * height
        var result = [UInt8](repeating: 0, count: pixels.count)
        for index in 0..<planeSize {
            for channel in 0..<channels { result[channel * planeSize + index] = pixels[index * channels + channel] }
        }
        return result
    }

    /// The shorter side resized to `size` (area-averaging when shrinking, bilinear when
    /// enlarging; the longer side keeps the aspect ratio, rounded down as torchvision's
    /// `Resize`), then the centre `size × size` square (torchvision's `CenterCrop`), as
    /// channel-major bytes (CHW).
    public func resizedCenterCrop(size: Int) -> [UInt8] {
        precondition(size > 0, "DecodedImage.resizedCenterCrop: size must be positive, got \(size)")
        var scratch = CenterCropResize.Scratch()
        return [UInt8](unsafeUninitializedCapacity: channels * size * size) { output, initialized in
            pixels.withUnsafeBufferPointer { source in
                guard let sourceBase = source.baseAddress, let outputBase = output.baseAddress else { return }
                CenterCropResize.resize(source: sourceBase, width: width, height: height, channels: channels,
                                        size: size, into: outputBase, scratch: &scratch)
            }
            initialized = channels * size * size
        }
    }

    /// The picture turned upright as EXIF `orientation` asks (a rotation and/or a mirror).
    public func oriented(_ orientation: ExifOrientation) -> DecodedImage {
        guard orientation != .normal else { return self }
        let swapped = orientation.swapsSides
        let resultWidth = swapped ? height : width, resultHeight = swapped ? width : height
        let result = pixels.withUnsafeBufferPointer { source in
            [UInt8](unsafeUninitializedCapacity: pixels.count) { output, initialized in
                guard let sourceBase = source.baseAddress, let outputBase = output.baseAddress else { return }
                orientation.apply(source: sourceBase, width: width, height: height, channels: channels, into: outputBase)
                initialized = pixels.count
            }
        }
        return DecodedImage(width: resultWidth, height: resultHeight, channels: channels, pixels: result)
    }
}

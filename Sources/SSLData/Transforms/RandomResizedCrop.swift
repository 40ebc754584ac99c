import SSLTensor

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Crops a random region and resizes it to a fixed size with bilinear interpolation
/// (torchvision's `RandomResizedCrop`, [Szegedy et al. 2015](https://arxiv.org/abs/1409.4842)).
///
/// The region's area is a fraction of the image drawn uniformly from `scale`, its aspect ratio
/// (width / height) log-uniformly from `ratio`; widths and heights are rounded half-to-even like
/// Python's `round`. Up to 10 draws are tried for a region that fits; otherwise the largest
/// centred crop whose ratio is clamped into `ratio` is used. Resizing follows PyTorch's
/// bilinear interpolation with `align_corners=False` (no antialiasing when shrinking).
///
/// ```swift
/// let crop = RandomResizedCrop(size: 28, scale: 0.08...1)
/// var generator = RandomGenerator(seed: 1)
/// let view = crop(image, generator: &generator)     // 28 × 28, whatever the input size
/// ```
public struct RandomResizedCrop: ImageTransform {
    /// A crop rectangle in pixels.
    ///
    /// ```swift
    /// let centre = RandomResizedCrop.Region(top: 4, left: 4, height: 20, width: 20)
    /// let zoomed = RandomResizedCrop.resizedCrop(image, region: centre, height: 28, width: 28)
    /// ```
    public struct Region: Equatable, Sendable {
        public var top: Int
        public var left: Int
        public var height: Int
        public var width: Int

        public init(top: Int, left: Int, height: Int, width: Int) {
            self.top = top
            self.left = left
            self.height = height
            self.width = width
        }
    }

    /// The output height.
    public let height: Int
    /// The output width.
    public let width: Int
    /// The range of the crop's area as a fraction of the image's.
    public let scale: ClosedRange<Float>
    /// The range of the crop's aspect ratio (width / height).
    public let ratio: ClosedRange<Float>

    /// A square output of `size` × `size`.
    public init(size: Int, scale: ClosedRange<Float> = 0.08...1, ratio: ClosedRange<Float> = Float(3) / 4...Float(4) / 3) {
        self.init(height: size, width: size, scale: scale, ratio: ratio)
    }

    public init(height: Int, width: Int, scale: ClosedRange<Float> = 0.08...1,
                ratio: ClosedRange<Float> = Float(3) / 4...Float(4) / 3) {
        precondition(height > 0 && width > 0, "RandomResizedCrop: output size must be positive, got \(height)×\(width)")
        precondition(scale.lowerBound > 0 && scale.upperBound <= 1,
                     "RandomResizedCrop: scale must lie in (0, 1], got \(scale)")
        precondition(ratio.lowerBound > 0, "RandomResizedCrop: ratio must be positive, got \(ratio)")
        self.height = height
        self.width = width
        self.scale = scale
        self.ratio = ratio
    }

    /// Draws a crop region for an image of `imageHeight` × `imageWidth` (torchvision's
    /// `get_params`).
    public func region(imageHeight: Int, imageWidth: Int, generator: inout RandomGenerator) -> Region {
        let area = Float(imageHeight * imageWidth)
        let logLow = logf(ratio.lowerBound), logHigh = logf(ratio.upperBound)
        for _ in 0..<10 {
            let targetArea = area * uniform(scale, &generator)
            let logRatio = logLow + (logHigh - logLow) * generator.nextUniform()
            let aspect = expf(logRatio)
            let w = Int((targetArea * aspect).squareRoot().rounded(.toNearestOrEven))
            let h = Int((targetArea / aspect).squareRoot().rounded(.toNearestOrEven))
            if w > 0 && w <= imageWidth && h > 0 && h <= imageHeight {
                let top = generator.nextInt(below: imageHeight - h + 1)
                let left = generator.nextInt(below: imageWidth - w + 1)
                return Region(top: top, left: left, height: h, width: w)
            }
        }
        let inputRatio = Float(imageWidth) / Float(imageHeight)
        var w = imageWidth, h = imageHeight
        if inputRatio < ratio.lowerBound {
            h = Int((Float(w) / ratio.lowerBound).rounded(.toNearestOrEven))
        } else if inputRatio > ratio.upperBound {
            w = Int((Float(h) * ratio.upperBound).rounded(.toNearestOrEven))
        }
        h = Swift.max(1, Swift.min(h, imageHeight))
        w = Swift.max(1, Swift.min(w, imageWidth))
        return Region(top: (imageHeight - h) / 2, left: (imageWidth - w) / 2, height: h, width: w)
    }

    public func apply(_ image: inout Image, generator: inout RandomGenerator) {
        let crop = region(imageHeight: image.height, imageWidth: image.width, generator: &generator)
        image = Self.resizedCrop(image, region: crop, height: height, width: width)
    }

    /// The `region` of `image` resized to `height` × `width` by bilinear interpolation with
    /// PyTorch's `align_corners=False` convention: output pixel i samples the input at
    /// (i + 0.5) · in/out − 0.5, clamped at 0, and the last row/column repeats at the edge.
    public static func resizedCrop(_ image: Image, region: Region, height: Int, width: Int) -> Image {
        precondition(region.top >= 0 && region.left >= 0 && region.height > 0 && region.width > 0
                        && region.top + region.height <= image.height && region.left + region.width <= image.width,
                     "RandomResizedCrop.resizedCrop: region \(region) does not fit in the \(image.height)×\(image.width) image")
        precondition(height > 0 && width > 0, "RandomResizedCrop.resizedCrop: output size must be positive, got \(height)×\(width)")
        let channels = image.channels
        let inputWidth = image.width, inputPlane = image.planeSize, outputPlane = height * width
        let pixels = [Float](unsafeUninitializedCapacity: channels * outputPlane) { output, initialized in
            withUnsafeTemporaryAllocation(of: Int.self, capacity: 2 * (height + width)) { indices in
                withUnsafeTemporaryAllocation(of: Float.self, capacity: height + width) { weights in
                    // Rows: indices[0..<2h] (first, second), weights[0..<h]; columns after them.
                    Self.interpolationTable(inputSize: region.height, outputSize: height, origin: region.top,
                                            indices: indices.baseAddress, weights: weights.baseAddress)
                    Self.interpolationTable(inputSize: region.width, outputSize: width, origin: region.left,
                                            indices: indices.baseAddress.map { $0 + 2 * height },
                                            weights: weights.baseAddress.map { $0 + height })
                    image.pixels.withUnsafeBufferPointer { input in
                        for channel in 0..<channels {
                            let source = channel &* inputPlane, target = channel &* outputPlane
                            for y in 0..<height {
                                let row0 = source &+ indices[2 &* y] &* inputWidth
                                let row1 = source &+ indices[2 &* y &+ 1] &* inputWidth
                                let wy: Float = weights[y]
                                let wy0: Float = 1 - wy
                                for x in 0..<width {
                                    let c0 = indices[2 &* (height &+ x)], c1 = indices[2 &* (height &+ x) &+ 1]
                                    let wx: Float = weights[height &+ x]
                                    let wx0: Float = 1 - wx
                                    let top: Float = wx0 * input[row0 &+ c0] + wx * input[row0 &+ c1]
                                    let bottom: Float = wx0 * input[row1 &+ c0] + wx * input[row1 &+ c1]
                                    output[target &+ y &* width &+ x] = wy0 * top + wy * bottom
                                }
                            }
                        }
                    }
                }
            }
            initialized = channels * outputPlane
        }
        return Image(channels: channels, height: height, width: width, pixels: pixels)
    }

    /// For each output position: the two input positions (absolute, from `origin`) and the
    /// weight of the second, as PyTorch's `upsample_bilinear2d` computes them.
    private static func interpolationTable(inputSize: Int, outputSize: Int, origin: Int,
                                           indices: UnsafeMutablePointer<Int>?, weights: UnsafeMutablePointer<Float>?) {
        guard let indices, let weights else { return }
        let scale = Float(inputSize) / Float(outputSize)
        for i in 0..<outputSize {
            let real = Swift.max(scale * (Float(i) + 0.5) - 0.5, 0)
            let first = Swift.min(Int(real), inputSize - 1)
            let step = first < inputSize - 1 ? 1 : 0
            indices[2 * i] = origin + first
            indices[2 * i + 1] = origin + first + step
            weights[i] = real - Float(first)
        }
    }

    private func uniform(_ range: ClosedRange<Float>, _ generator: inout RandomGenerator) -> Float {
        range.lowerBound + (range.upperBound - range.lowerBound) * generator.nextUniform()
    }
}

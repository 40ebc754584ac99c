import SSLTensor

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// With probability `p`, blurs with a Gaussian whose sigma is drawn uniformly from `sigma`
/// (torchvision's `GaussianBlur`, with SimCLR's `p`; torchvision itself has no `p`, which
/// equals p = 1 here).
///
/// The kernel is separable: `kernelSize` taps at offsets −(k−1)/2 … (k−1)/2 weighted by
/// exp(−x²/2σ²) and normalised to sum 1, applied along rows then columns with reflect padding
/// (the edge pixel is not repeated: index −1 reads index 1).
///
/// ```swift
/// let blur = GaussianBlur(kernelSize: 3, sigma: 0.1...2.0, p: 0.5)
/// ```
public struct GaussianBlur: ImageTransform {
    /// The number of taps (odd).
    public let kernelSize: Int
    /// The range sigma is drawn from.
    public let sigma: ClosedRange<Float>
    /// The probability of blurring.
    public let p: Float

    public init(kernelSize: Int, sigma: ClosedRange<Float> = 0.1...2.0, p: Float = 1) {
        precondition(kernelSize > 0 && kernelSize % 2 == 1, "GaussianBlur: kernelSize must be odd and positive, got \(kernelSize)")
        precondition(sigma.lowerBound > 0, "GaussianBlur: sigma must be positive, got \(sigma)")
        precondition(p >= 0 && p <= 1, "GaussianBlur: p must be in [0, 1], got \(p)")
        self.kernelSize = kernelSize
        self.sigma = sigma
        self.p = p
    }

    public func apply(_ image: inout Image, generator: inout RandomGenerator) {
        if p < 1 {
            guard generator.nextUniform() < p else { return }
        }
        let drawn = sigma.lowerBound + (sigma.upperBound - sigma.lowerBound) * generator.nextUniform()
        Self.blur(&image, kernelSize: kernelSize, sigma: drawn)
    }

    /// The normalised 1-D kernel for `sigma` (torchvision's `_get_gaussian_kernel1d`).
    public static func kernel(size: Int, sigma: Float) -> [Float] {
        var weights = [Float](repeating: 0, count: size)
        weights.withUnsafeMutableBufferPointer { fillKernel($0, sigma: sigma) }
        return weights
    }

    private static func fillKernel(_ weights: UnsafeMutableBufferPointer<Float>, sigma: Float) {
        let half = Float(weights.count - 1) / 2
        var total: Float = 0
        for i in 0..<weights.count {
            let x: Float = (Float(i) - half) / sigma
            let value = expf(-0.5 * x * x)
            weights[i] = value
            total += value
        }
        for i in 0..<weights.count { weights[i] /= total }
    }

    /// The index `i` (possibly outside `0..<size`) reflected into range without repeating the
    /// edge, as PyTorch's reflect padding does (repeatedly, for kernels wider than the image).
    @inline(__always)
    static func reflect(_ i: Int, _ size: Int) -> Int {
        if size == 1 { return 0 }
        let period = 2 &* (size &- 1)
        var j = i % period
        if j < 0 { j &+= period }
        return j < size ? j : period &- j
    }

    /// Blurs `image` in place with the separable kernel for `sigma`.
    public static func blur(_ image: inout Image, kernelSize: Int, sigma: Float) {
        let height = image.height, width = image.width, channels = image.channels
        let radius = kernelSize / 2
        // Columns whose taps all fall inside the row; the others reflect.
        let interiorStart = Swift.min(radius, width), interiorEnd = Swift.max(interiorStart, width &- radius)
        withUnsafeTemporaryAllocation(of: Float.self, capacity: kernelSize + height * width) { buffer in
            guard let base = buffer.baseAddress else { return }
            let weights = UnsafeMutableBufferPointer(start: base, count: kernelSize)
            let scratch = UnsafeMutableBufferPointer(start: base + kernelSize, count: height * width)
            fillKernel(weights, sigma: sigma)
            image.pixels.withUnsafeMutableBufferPointer { pixels in
                for channel in 0..<channels {
                    let plane = channel &* height &* width
                    // Along each row into scratch: the interior as a sum of shifted rows
                    // (vectorisable), the few border columns through reflection.
                    for y in 0..<height {
                        let row = plane &+ y &* width, out = y &* width
                        for x in 0..<width { scratch[out &+ x] = 0 }
                        for k in 0..<kernelSize {
                            let weight = weights[k], shift = k &- radius
                            for x in interiorStart..<interiorEnd {
                                scratch[out &+ x] += weight * pixels[row &+ x &+ shift]
                            }
                        }
                        for x in 0..<width where x < interiorStart || x >= interiorEnd {
                            var sum: Float = 0
                            for k in 0..<kernelSize { sum += weights[k] * pixels[row &+ reflect(x &+ k &- radius, width)] }
                            scratch[out &+ x] = sum
                        }
                    }
                    // Along each column back into the image: whole rows at a time, reflecting
                    // the row index.
                    for y in 0..<height {
                        let out = plane &+ y &* width
                        for x in 0..<width { pixels[out &+ x] = 0 }
                        for k in 0..<kernelSize {
                            let weight = weights[k], source = reflect(y &+ k &- radius, height) &* width
                            for x in 0..<width { pixels[out &+ x] += weight * scratch[source &+ x] }
                        }
                    }
                }
            }
        }
    }
}

import SSLTensor

/// Random brightness, contrast, saturation and hue changes, applied in a random order
/// (torchvision's `ColorJitter`).
///
/// Each strength `s` gives a factor drawn uniformly from [max(0, 1 − s), 1 + s] (hue: a shift
/// drawn from [−hue, hue], at most 0.5, in turns of the colour wheel); a strength of 0 disables
/// that adjustment. The draws happen in torchvision's order: the permutation of the four
/// adjustments, then the brightness, contrast, saturation and hue factors of those enabled.
/// - brightness: x ↦ clamp(f·x)
/// - contrast: x ↦ clamp(f·x + (1 − f)·m), m the mean of the grayscale image
/// - saturation: x ↦ clamp(f·x + (1 − f)·gray(x)) (RGB only)
/// - hue: rotate the hue in HSV space (RGB only)
///
/// Gray is 0.2989 R + 0.587 G + 0.114 B; clamping is to [0, 1]. For one-channel images
/// saturation and hue are no-ops, as in torchvision.
///
/// ```swift
/// let jitter = ColorJitter(brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.1)
/// ```
public struct ColorJitter: ImageTransform {
    /// The strengths as given.
    public let brightness: Float
    public let contrast: Float
    public let saturation: Float
    public let hue: Float

    public init(brightness: Float = 0, contrast: Float = 0, saturation: Float = 0, hue: Float = 0) {
        precondition(brightness >= 0 && contrast >= 0 && saturation >= 0,
                     "ColorJitter: brightness, contrast and saturation must be non-negative, got \(brightness), \(contrast), \(saturation)")
        precondition(hue >= 0 && hue <= 0.5, "ColorJitter: hue must be in [0, 0.5], got \(hue)")
        self.brightness = brightness
        self.contrast = contrast
        self.saturation = saturation
        self.hue = hue
    }

    public func apply(_ image: inout Image, generator: inout RandomGenerator) {
        // torchvision draws a permutation of all four adjustments, then each enabled factor.
        var order = (0, 1, 2, 3)
        withUnsafeMutableBytes(of: &order) { raw in
            let slots = raw.bindMemory(to: Int.self)
            for i in stride(from: 3, to: 0, by: -1) { slots.swapAt(i, generator.nextInt(below: i + 1)) }
        }
        let b = brightness > 0 ? factor(brightness, &generator) : nil
        let c = contrast > 0 ? factor(contrast, &generator) : nil
        let s = saturation > 0 ? factor(saturation, &generator) : nil
        let h = hue > 0 ? -hue + 2 * hue * generator.nextUniform() : nil
        func run(_ step: Int) {
            switch step {
            case 0: if let b { Self.adjustBrightness(&image, factor: b) }
            case 1: if let c { Self.adjustContrast(&image, factor: c) }
            case 2: if let s { Self.adjustSaturation(&image, factor: s) }
            default: if let h { Self.adjustHue(&image, shift: h) }
            }
        }
        run(order.0)
        run(order.1)
        run(order.2)
        run(order.3)
    }

    private func factor(_ strength: Float, _ generator: inout RandomGenerator) -> Float {
        let low = Swift.max(0, 1 - strength), high = 1 + strength
        return low + (high - low) * generator.nextUniform()
    }

    // MARK: - The adjustments (torchvision's functional forms)

    /// The luminance torchvision's `rgb_to_grayscale` uses.
    @inline(__always)
    static func luminance(_ r: Float, _ g: Float, _ b: Float) -> Float {
        let red: Float = 0.2989 * r
        let green: Float = 0.587 * g
        let blue: Float = 0.114 * b
        return red + green + blue
    }

    @inline(__always)
    private static func clamp01(_ x: Float) -> Float { Swift.min(Swift.max(x, 0), 1) }

    /// x ↦ clamp(f·x).
    public static func adjustBrightness(_ image: inout Image, factor: Float) {
        image.pixels.withUnsafeMutableBufferPointer { pixels in
            for i in 0..<pixels.count { pixels[i] = clamp01(factor * pixels[i]) }
        }
    }

    /// x ↦ clamp(f·x + (1 − f)·m), m the mean of the grayscale image.
    public static func adjustContrast(_ image: inout Image, factor: Float) {
        let plane = image.planeSize
        let channels = image.channels
        image.pixels.withUnsafeMutableBufferPointer { pixels in
            var total: Float = 0
            if channels == 3 {
                for i in 0..<plane { total += luminance(pixels[i], pixels[plane &+ i], pixels[2 &* plane &+ i]) }
            } else {
                for i in 0..<plane { total += pixels[i] }
            }
            let offset: Float = (1 - factor) * (total / Float(plane))
            for i in 0..<pixels.count { pixels[i] = clamp01(factor * pixels[i] + offset) }
        }
    }

    /// x ↦ clamp(f·x + (1 − f)·gray(x)) for RGB images; one-channel images are unchanged.
    public static func adjustSaturation(_ image: inout Image, factor: Float) {
        guard image.channels == 3 else { return }
        let plane = image.planeSize
        image.pixels.withUnsafeMutableBufferPointer { pixels in
            for i in 0..<plane {
                let gray: Float = (1 - factor) * luminance(pixels[i], pixels[plane &+ i], pixels[2 &* plane &+ i])
                pixels[i] = clamp01(factor * pixels[i] + gray)
                pixels[plane &+ i] = clamp01(factor * pixels[plane &+ i] + gray)
                pixels[2 &* plane &+ i] = clamp01(factor * pixels[2 &* plane &+ i] + gray)
            }
        }
    }

    /// Rotates the hue by `shift` turns (in [−0.5, 0.5]) through HSV, as torchvision's
    /// `adjust_hue` (`_rgb2hsv` / `_hsv2rgb`); one-channel images are unchanged.
    public static func adjustHue(_ image: inout Image, shift: Float) {
        guard image.channels == 3 else { return }
        let plane = image.planeSize
        image.pixels.withUnsafeMutableBufferPointer { pixels in
            for i in 0..<plane {
                let r = pixels[i], g = pixels[plane &+ i], b = pixels[2 &* plane &+ i]
                let (h, s, v) = rgbToHSV(r, g, b)
                // Python's (h + shift) % 1.0 for h in [0, 1), shift in [−0.5, 0.5].
                let turned: Float = h + shift
                let shifted: Float = turned < 0 ? turned + 1 : (turned >= 1 ? turned - 1 : turned)
                let (r2, g2, b2) = hsvToRGB(shifted, s, v)
                pixels[i] = r2
                pixels[plane &+ i] = g2
                pixels[2 &* plane &+ i] = b2
            }
        }
    }

    /// torchvision's `_rgb2hsv` for one pixel: hue in [0, 1), saturation, value.
    @inline(__always)
    static func rgbToHSV(_ r: Float, _ g: Float, _ b: Float) -> (Float, Float, Float) {
        let maxc = Swift.max(r, Swift.max(g, b)), minc = Swift.min(r, Swift.min(g, b))
        let equal = maxc == minc
        let chroma = maxc - minc
        let s = chroma / (equal ? 1 : maxc)
        let inverse: Float = 1 / (equal ? 1 : chroma)
        let rc: Float = (maxc - r) * inverse, gc: Float = (maxc - g) * inverse, bc: Float = (maxc - b) * inverse
        let fromRed: Float = bc - gc, fromGreen: Float = 2 + rc - bc, fromBlue: Float = 4 + gc - rc
        let h: Float = maxc == r ? fromRed : (maxc == g ? fromGreen : fromBlue)
        // fmod(h / 6 + 1, 1) of a value in (0, 2).
        let wrapped: Float = h / 6 + 1
        return (wrapped >= 1 ? wrapped - 1 : wrapped, s, maxc)
    }

    /// torchvision's `_hsv2rgb` for one pixel, in its branch-free form: channel n ∈ {5, 3, 1}
    /// (R, G, B) is v − v·s·clamp(min(k, 4 − k), 0, 1) with k = (n + 6h) mod 6, which picks the
    /// same v, p, q or t as the six-sector table (p, q, t clamped to [0, 1] as there).
    @inline(__always)
    static func hsvToRGB(_ h: Float, _ s: Float, _ v: Float) -> (Float, Float, Float) {
        let scaled: Float = h * 6
        @inline(__always) func channel(_ n: Float) -> Float {
            var k: Float = n + scaled
            k = k >= 6 ? k - 6 : k
            let ramp = Swift.min(Swift.max(Swift.min(k, 4 - k), 0), 1)
            let drop: Float = s * ramp
            return ramp > 0 ? clamp01(v * (1 - drop)) : v
        }
        return (channel(5), channel(3), channel(1))
    }
}

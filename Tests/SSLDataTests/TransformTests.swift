import SSLData
import SSLTensor
import SSLTestSupport
import XCTest

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The augmentations: exact results for flip, solarize and normalise; crop parameters within
/// their ranges and bilinear resizing as PyTorch's; jitter, grayscale and blur formulas.
final class TransformTests: XCTestCase {
    private func ramp(channels: Int, height: Int, width: Int, scale: Float = 1) -> Image {
        let count = channels * height * width
        return Image(channels: channels, height: height, width: width,
                     pixels: (0..<count).map { Float($0) / Float(count) * scale })
    }

    /// torchvision's grayscale weights.
    private func luminance(_ r: Float, _ g: Float, _ b: Float) -> Float {
        let red: Float = 0.2989 * r
        let green: Float = 0.587 * g
        let blue: Float = 0.114 * b
        return red + green + blue
    }

    // MARK: - Exact transforms

    func testHorizontalFlipIsExact() {
        let image = Image(channels: 2, height: 2, width: 3, pixels: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])
        var generator = RandomGenerator(seed: 0)
        XCTAssertEqual(RandomHorizontalFlip(p: 1)(image, generator: &generator).pixels, [3, 2, 1, 6, 5, 4, 9, 8, 7, 12, 11, 10])
        XCTAssertEqual(RandomHorizontalFlip(p: 0)(image, generator: &generator).pixels, image.pixels)
        var flips = 0
        for _ in 0..<1_000 where RandomHorizontalFlip(p: 0.5)(image, generator: &generator) != image { flips += 1 }
        XCTAssertTrue((400...600).contains(flips), "p = 0.5 flips about half the time, got \(flips)/1000")
    }

    func testSolarizeIsExact() {
        let image = Image(channels: 1, height: 1, width: 6, pixels: [0, 0.25, 0.4999, 0.5, 0.75, 1])
        var generator = RandomGenerator(seed: 0)
        XCTAssertEqual(RandomSolarize(threshold: 0.5, p: 1)(image, generator: &generator).pixels, [0, 0.25, 0.4999, 0.5, 0.25, 0])
        XCTAssertEqual(RandomSolarize(threshold: 0.5, p: 0)(image, generator: &generator).pixels, image.pixels)
    }

    func testNormalizeIsExactPerChannel() {
        let image = Image(channels: 2, height: 1, width: 3, pixels: [0, 0.5, 1, 0.2, 0.4, 0.6])
        var generator = RandomGenerator(seed: 0)
        let normalized = Normalize(mean: [0.5, 0.25], std: [0.5, 0.125])(image, generator: &generator)
        let expected: [Float] = [(0 - 0.5) / 0.5, (0.5 - 0.5) / 0.5, (1 - 0.5) / 0.5,
                                 (0.2 - 0.25) / 0.125, (0.4 - 0.25) / 0.125, (0.6 - 0.25) / 0.125]
        XCTAssertEqual(normalized.pixels, expected)
        XCTAssertEqual(normalized.pixels[0], -1)
        let shared = Normalize(mean: [0.5], std: [0.25])(image, generator: &generator)
        XCTAssertEqual(shared.pixels, image.pixels.map { ($0 - 0.5) / 0.25 })
    }

    // MARK: - RandomResizedCrop

    func testCropScaleAndRatioStayWithinTheirRanges() {
        let cases: [(ClosedRange<Float>, ClosedRange<Float>)] = [(0.08...1, Float(3) / 4...Float(4) / 3), (0.3...0.5, 0.5...2), (0.5...0.7, 1...1)]
        var generator = RandomGenerator(seed: 11)
        for (scale, ratio) in cases {
            let crop = RandomResizedCrop(size: 28, scale: scale, ratio: ratio)
            var fallbacks = 0
            for _ in 0..<2_000 {
                let region = crop.region(imageHeight: 600, imageWidth: 800, generator: &generator)
                XCTAssertTrue(region.top >= 0 && region.left >= 0 && region.top + region.height <= 600
                                && region.left + region.width <= 800, "\(region) inside the image")
                let area = Float(region.height * region.width) / Float(600 * 800)
                let aspect = Float(region.width) / Float(region.height)
                if region.height == 600 || region.width == 800 { fallbacks += 1 }
                // Rounding width and height to whole pixels moves area and ratio by < 1% here.
                XCTAssertTrue(area >= scale.lowerBound * 0.99 && area <= scale.upperBound * 1.01 || region.height == 600,
                              "area fraction \(area) outside \(scale)")
                XCTAssertTrue(aspect >= ratio.lowerBound * 0.99 && aspect <= ratio.upperBound * 1.01,
                              "aspect ratio \(aspect) outside \(ratio)")
            }
            XCTAssertLessThan(fallbacks, 2_000, "most draws are random crops for \(scale), \(ratio)")
        }
        // Small images: the region still fits and the output has the requested size.
        let small = ramp(channels: 1, height: 28, width: 28)
        let crop = RandomResizedCrop(size: 20)
        for _ in 0..<500 {
            let region = crop.region(imageHeight: 28, imageWidth: 28, generator: &generator)
            XCTAssertTrue(region.height >= 1 && region.width >= 1 && region.top + region.height <= 28 && region.left + region.width <= 28)
        }
        XCTAssertEqual(crop(small, generator: &generator).shape, [1, 20, 20])
    }

    func testCropFallsBackToTheCentreCropClampedToTheRatioRange() {
        // No draw can give an aspect ratio of 2–3 covering ≥ 99% of a square image.
        let crop = RandomResizedCrop(size: 8, scale: 0.99...1, ratio: 2...3)
        var generator = RandomGenerator(seed: 3)
        let region = crop.region(imageHeight: 100, imageWidth: 100, generator: &generator)
        XCTAssertEqual(region, RandomResizedCrop.Region(top: 25, left: 0, height: 50, width: 100))
    }

    func testBilinearResizeMatchesPyTorchWithoutAlignCorners() {
        // torch.nn.functional.interpolate(x, size=…, mode="bilinear", align_corners=False)
        let two = Image(channels: 1, height: 2, width: 2, pixels: [0, 1, 2, 3])
        let up = RandomResizedCrop.resizedCrop(two, region: .init(top: 0, left: 0, height: 2, width: 2), height: 4, width: 4)
        XCTAssertEqual(up.pixels, [0, 0.25, 0.75, 1, 0.5, 0.75, 1.25, 1.5, 1.5, 1.75, 2.25, 2.5, 2, 2.25, 2.75, 3])
        let four = Image(channels: 1, height: 4, width: 4, pixels: (0..<16).map(Float.init))
        let down = RandomResizedCrop.resizedCrop(four, region: .init(top: 0, left: 0, height: 4, width: 4), height: 2, width: 2)
        XCTAssertEqual(down.pixels, [2.5, 4.5, 10.5, 12.5])
        let window = RandomResizedCrop.resizedCrop(four, region: .init(top: 1, left: 2, height: 2, width: 2), height: 2, width: 2)
        XCTAssertEqual(window.pixels, [6, 7, 10, 11])
        // 3 → 5 along x (scale 0.6), 2 channels, rectangular output.
        let row = Image(channels: 2, height: 1, width: 3, pixels: [0, 3, 6, 1, 1, 1])
        let wide = RandomResizedCrop.resizedCrop(row, region: .init(top: 0, left: 0, height: 1, width: 3), height: 1, width: 5)
        assertClose(wide.pixels, [0, 1.2, 3, 4.8, 6, 1, 1, 1, 1, 1], atol: 1e-5)
    }

    // MARK: - Colour

    func testBrightnessScalesEveryPixelByOneFactorInRange() {
        let image = ramp(channels: 1, height: 4, width: 4, scale: 0.5)
        var generator = RandomGenerator(seed: 5)
        var factors: [Float] = []
        for _ in 0..<200 {
            let out = ColorJitter(brightness: 0.4)(image, generator: &generator)
            let factor = out.pixels[15] / image.pixels[15]
            factors.append(factor)
            XCTAssertTrue(factor >= 0.6 && factor <= 1.4, "factor \(factor)")
            assertClose(out.pixels, image.pixels.map { $0 * factor }, atol: 1e-6)
        }
        XCTAssertLessThan(factors.min() ?? 1, 0.7)
        XCTAssertGreaterThan(factors.max() ?? 1, 1.3)
    }

    func testContrastBlendsWithTheGrayscaleMean() {
        let pixels: [Float] = (0..<12).map { 0.3 + 0.025 * Float($0) }
        let rgb = Image(channels: 3, height: 2, width: 2, pixels: pixels)
        let gray = (0..<4).map { luminance(pixels[$0], pixels[4 + $0], pixels[8 + $0]) }
        let mean = gray.reduce(0, +) / 4
        var generator = RandomGenerator(seed: 8)
        for _ in 0..<50 {
            let out = ColorJitter(contrast: 0.4)(rgb, generator: &generator)
            let factor = (out.pixels[0] - mean) / (pixels[0] - mean)
            XCTAssertTrue(factor >= 0.6 - 1e-4 && factor <= 1.4 + 1e-4, "factor \(factor)")
            assertClose(out.pixels, pixels.map { factor * $0 + (1 - factor) * mean }, atol: 1e-5)
        }
        // One channel: the mean is the image's own mean.
        let single = Image(channels: 1, height: 1, width: 4, pixels: [0.2, 0.4, 0.6, 0.8])
        var copy = single
        ColorJitter.adjustContrast(&copy, factor: 0.5)
        assertClose(copy.pixels, [0.35, 0.45, 0.55, 0.65], atol: 1e-6)
        ColorJitter.adjustContrast(&copy, factor: 4)
        assertClose(copy.pixels, [0, 0.3, 0.7, 1], atol: 1e-6)  // clamped to [0, 1]
    }

    func testSaturationAndHueFollowTorchvisionAndSkipGrayscale() {
        let single = ramp(channels: 1, height: 3, width: 3)
        var generator = RandomGenerator(seed: 1)
        XCTAssertEqual(ColorJitter(saturation: 0.9, hue: 0.5)(single, generator: &generator), single)

        var red = Image(channels: 3, height: 1, width: 1, pixels: [1, 0, 0])
        ColorJitter.adjustHue(&red, shift: 1.0 / 3)
        assertClose(red.pixels, [0, 1, 0], atol: 1e-6)
        ColorJitter.adjustHue(&red, shift: -1.0 / 3)
        assertClose(red.pixels, [1, 0, 0], atol: 1e-6)

        let colours = Image(channels: 3, height: 1, width: 4, pixels: [0.9, 0.1, 0.4, 0.3, 0.2, 0.8, 0.5, 0.2, 0.3, 0.6, 0.2, 0.7])
        var unchanged = colours
        ColorJitter.adjustHue(&unchanged, shift: 0)
        assertClose(unchanged.pixels, colours.pixels, atol: 1e-6)
        var desaturated = colours
        ColorJitter.adjustSaturation(&desaturated, factor: 0)
        for i in 0..<4 {
            let gray = luminance(colours.pixels[i], colours.pixels[4 + i], colours.pixels[8 + i])
            assertClose([desaturated.pixels[i], desaturated.pixels[4 + i], desaturated.pixels[8 + i]], [gray, gray, gray], atol: 1e-6)
        }
        // A hue shift keeps value (max) and saturation.
        var shifted = colours
        ColorJitter.adjustHue(&shifted, shift: 0.27)
        for i in 0..<4 {
            let before = [colours.pixels[i], colours.pixels[4 + i], colours.pixels[8 + i]]
            let after = [shifted.pixels[i], shifted.pixels[4 + i], shifted.pixels[8 + i]]
            XCTAssertEqual(after.max() ?? 0, before.max() ?? 0, accuracy: 1e-5)
            XCTAssertEqual(after.min() ?? 0, before.min() ?? 0, accuracy: 1e-5)
        }
    }

    /// torchvision's `adjust_hue` transcribed step by step (`_rgb2hsv`, `(h + shift) % 1`,
    /// `_hsv2rgb` with its six-sector table), in double precision.
    private func torchvisionHue(_ r: Double, _ g: Double, _ b: Double, shift: Double) -> [Double] {
        let maxc = max(r, g, b), minc = min(r, g, b)
        let eqc = maxc == minc
        let cr = maxc - minc
        let s = cr / (eqc ? 1 : maxc)
        let crDivisor = eqc ? 1 : cr
        let rc = (maxc - r) / crDivisor, gc = (maxc - g) / crDivisor, bc = (maxc - b) / crDivisor
        let hr = maxc == r ? bc - gc : 0
        let hg = (maxc == g && maxc != r) ? 2 + rc - bc : 0
        let hb = (maxc != g && maxc != r) ? 4 + gc - rc : 0
        var h = fmod((hr + hg + hb) / 6 + 1, 1)
        h = (h + shift) - ((h + shift) / 1).rounded(.down)
        let v = maxc
        let i = (h * 6).rounded(.down)
        let f = h * 6 - i
        let p = min(max(v * (1 - s), 0), 1)
        let q = min(max(v * (1 - s * f), 0), 1)
        let t = min(max(v * (1 - s * (1 - f)), 0), 1)
        let sector = Int(i) % 6
        let red = [v, q, p, p, t, v][sector], green = [t, v, v, q, p, p][sector], blue = [p, p, t, v, v, q][sector]
        return [red, green, blue]
    }

    func testHueMatchesTorchvisionsSixSectorFormula() {
        var generator = RandomGenerator(seed: 21)
        for _ in 0..<2_000 {
            var rgb = (0..<3).map { _ in generator.nextUniform() }
            if generator.nextUniform() < 0.2 { rgb[1] = rgb[0] }  // ties between channels
            if generator.nextUniform() < 0.1 { rgb[2] = rgb[0]; rgb[1] = rgb[0] }  // gray
            let shift = -0.5 + generator.nextUniform()
            var image = Image(channels: 3, height: 1, width: 1, pixels: rgb)
            ColorJitter.adjustHue(&image, shift: shift)
            let expected = torchvisionHue(Double(rgb[0]), Double(rgb[1]), Double(rgb[2]), shift: Double(shift)).map { Float($0) }
            assertClose(image.pixels, expected, rtol: 0, atol: 2e-6, "rgb \(rgb) shift \(shift)")
        }
    }

    func testRandomGrayscaleReplacesChannelsByTheLuminance() {
        let colours = Image(channels: 3, height: 1, width: 2, pixels: [0.9, 0.1, 0.4, 0.3, 0.2, 0.8])
        var generator = RandomGenerator(seed: 0)
        let gray = RandomGrayscale(p: 1)(colours, generator: &generator)
        let expected = (0..<2).map { luminance(colours.pixels[$0], colours.pixels[2 + $0], colours.pixels[4 + $0]) }
        assertClose(gray.pixels, expected + expected + expected, atol: 1e-6)
        XCTAssertEqual(RandomGrayscale(p: 0)(colours, generator: &generator), colours)
    }

    // MARK: - Blur

    func testGaussianBlurKernelAndReflectPadding() {
        let kernel = GaussianBlur.kernel(size: 3, sigma: 1)
        let e = Float(exp(-0.5))
        assertClose(kernel, [e / (1 + 2 * e), 1 / (1 + 2 * e), e / (1 + 2 * e)], atol: 1e-7)
        // A constant image stays constant.
        var constant = Image(channels: 2, height: 5, width: 6, pixels: Array(repeating: 0.7, count: 60))
        GaussianBlur.blur(&constant, kernelSize: 5, sigma: 1.3)
        assertClose(constant.pixels, Array(repeating: 0.7, count: 60), atol: 1e-6)
        // An impulse next to the edge: reflect padding reads index −1 as index 1.
        var impulse = Image(channels: 1, height: 1, width: 5, pixels: [0, 1, 0, 0, 0])
        GaussianBlur.blur(&impulse, kernelSize: 3, sigma: 1)
        assertClose(impulse.pixels, [2 * kernel[0], kernel[1], kernel[2], 0, 0], atol: 1e-6)
        // Separable: a centred impulse spreads as the outer product of the kernel.
        var centre = Image(channels: 1, height: 5, width: 5)
        centre[0, 2, 2] = 1
        GaussianBlur.blur(&centre, kernelSize: 3, sigma: 0.8)
        let k = GaussianBlur.kernel(size: 3, sigma: 0.8)
        XCTAssertEqual(centre[0, 1, 3], k[0] * k[2], accuracy: 1e-7)
        XCTAssertEqual(centre[0, 2, 2], k[1] * k[1], accuracy: 1e-7)
        XCTAssertEqual(centre[0, 0, 0], 0)
        // p = 0 never blurs.
        var generator = RandomGenerator(seed: 0)
        let sharp = ramp(channels: 1, height: 4, width: 4)
        XCTAssertEqual(GaussianBlur(kernelSize: 3, p: 0)(sharp, generator: &generator), sharp)
    }

    // MARK: - Composition and views

    func testRandomApplyAndComposeRunTheirStepsInOrder() {
        let image = Image(channels: 1, height: 1, width: 3, pixels: [0.1, 0.6, 0.9])
        var generator = RandomGenerator(seed: 0)
        let flipThenSolarize = Compose([RandomHorizontalFlip(p: 1), RandomSolarize(threshold: 0.5, p: 1)])
        assertClose(flipThenSolarize(image, generator: &generator).pixels, [0.1, 0.4, 0.1], atol: 1e-6)
        XCTAssertEqual(RandomApply([flipThenSolarize], p: 0)(image, generator: &generator), image)
        assertClose(RandomApply([flipThenSolarize], p: 1)(image, generator: &generator).pixels, [0.1, 0.4, 0.1], atol: 1e-6)
        XCTAssertEqual(Compose([])(image, generator: &generator), image)
    }

    func testMultiViewTransformDrawsEachViewFromItsOwnStream() {
        let image = ramp(channels: 1, height: 12, width: 12)
        let augment = Compose([RandomResizedCrop(size: 8), RandomHorizontalFlip()])
        let views = MultiViewTransform(augment, count: 3)
        let first = views.views(of: image, seed: 1, epoch: 0, sampleIndex: 4)
        XCTAssertEqual(first.count, 3)
        XCTAssertEqual(first.map(\.shape), [[1, 8, 8], [1, 8, 8], [1, 8, 8]])
        XCTAssertNotEqual(first[0], first[1])
        XCTAssertEqual(views.views(of: image, seed: 1, epoch: 0, sampleIndex: 4), first, "reproducible")
        XCTAssertNotEqual(views.views(of: image, seed: 1, epoch: 1, sampleIndex: 4), first, "a new epoch draws anew")
        XCTAssertNotEqual(views.views(of: image, seed: 2, epoch: 0, sampleIndex: 4), first, "the seed matters")
        var generator = MultiViewTransform.generator(seed: 1, epoch: 0, sampleIndex: 4, view: 2)
        XCTAssertEqual(augment(image, generator: &generator), first[2])
    }

    func testImageConvertsToAndFromTensors() {
        let image = Image(channels: 2, height: 2, width: 2, pixels: [1, 2, 3, 4, 5, 6, 7, 8])
        let tensor = image.tensor()
        XCTAssertEqual(tensor.shape, [2, 2, 2])
        XCTAssertEqual(tensor[1, 0, 1], 6)
        XCTAssertEqual(Image(tensor), image)
        let bytes: [UInt8] = [0, 51, 255, 128]
        let fromBytes = bytes.withUnsafeBufferPointer { Image(channels: 1, height: 2, width: 2, bytes: $0) }
        XCTAssertEqual(fromBytes.pixels, [0, 0.2, 1, Float(128) / 255])
    }
}

@testable import SSLTensor
import SSLTestSupport
import XCTest

/// Winograd F(2×2, 3×3) (`WinogradConvolution`) against the direct convolution summed in double
/// precision: the forward product, the input gradient (a stride-1 3×3 convolution of the output
/// gradient, so Winograd computes it too) and the weight gradient, on every kernel family and several thread
/// counts, over shapes that reach every path: odd output sizes (tiles clipped at the bottom
/// and right), tiles running across images, groups of four tiles that do and do not lie in one
/// tile row, several depth panels, output channels that are not a multiple of the tile
/// height, several blocks per worker, and paddings 0, 1 and 2.
///
/// The bound: every output y = Σ_k w_k·x_k (k over the C·9 terms) must satisfy
/// |ŷ − y| ≤ 2⁻²⁰ · Σ_k |w_k·x_k| (16 units of float rounding, u = 2⁻²⁴, times the sum's
/// magnitude; the direct products meet it too), and likewise every input-gradient entry
/// (Σ g·w). A weight-gradient entry (Σ g·x over the batch's positions) is a sum over tiles of
/// 16 products that each mix a tile's whole 2×2 output gradient and 4×4 input window, so its
/// scale is Σ_tiles Σ|g| · Σ|x| over those (the same for the 9 entries of one (o, c)): a tap
/// that sees mostly padding is small while its rounding error is not. F(2×2, 3×3)'s transforms use only 0, ±1 and
/// ±½, so its error is a small multiple of the direct product's: on these shapes the worst
/// ratios were 4.1 u (output), 3.4 u (input gradient) and 0.7 u (weight gradient, on its tile
/// scale) against the direct path's 3.3 u, 2.4 u and 0.4 u (the test prints both), while a
/// wrong transform coefficient gives ratios of 10⁻² to 1.
final class WinogradConvolutionTests: XCTestCase {
    private struct Case {
        let batch, channels, height, width, outChannels, padding: Int
        var outputHeight: Int { height + 2 * padding - 2 }
        var outputWidth: Int { width + 2 * padding - 2 }
    }

    static let bound = 1.0 / 1_048_576

    private let cases: [Case] = [
        // 7×5 outputs: the last tile row and column are clipped; 20 tiles over 3 images cross images.
        Case(batch: 3, channels: 3, height: 7, width: 5, outChannels: 13, padding: 1),
        // 18 wide: 9 tiles per row, so groups of four both lie in one row (the vector path) and do not.
        Case(batch: 2, channels: 4, height: 4, width: 18, outChannels: 5, padding: 1),
        // 260 channels: two depth panels; one image of 2×2 outputs (a single clipped group).
        Case(batch: 1, channels: 260, height: 2, width: 2, outChannels: 3, padding: 1),
        // No padding (6×6 → 4×4), and padding 2 (4×4 → 6×6).
        Case(batch: 2, channels: 2, height: 6, width: 6, outChannels: 33, padding: 0),
        Case(batch: 2, channels: 5, height: 4, width: 4, outChannels: 4, padding: 2),
        // 9 input channels: the input gradient runs as a Winograd convolution too (5×9 → clipped tiles).
        Case(batch: 2, channels: 9, height: 5, width: 9, outChannels: 6, padding: 1),
        // 8 images of 8×8: 128 tiles, several blocks per worker with 3 workers.
        Case(batch: 8, channels: 2, height: 8, width: 8, outChannels: 2, padding: 1),
        // 260 channels over 7 images of 16 tiles: forward blocks of 48 tiles (three images), so a
        // worker's ring of four padded images wraps round and pads new images over old ones.
        Case(batch: 7, channels: 260, height: 8, width: 8, outChannels: 3, padding: 1),
    ]

    /// The largest |ŷ − y| / Σ|w·x| over `values` against `reference` (values, magnitudes).
    private func worstRatio(_ values: [Float], _ reference: [Double], _ magnitudes: [Double]) -> Double {
        var worst = 0.0
        for i in values.indices {
            let error = abs(Double(values[i]) - reference[i])
            worst = max(worst, magnitudes[i] == 0 ? (error == 0 ? 0 : .infinity) : error / magnitudes[i])
        }
        return worst
    }

    /// Runs the case with `algorithm`; returns the worst ratios of the output, the input
    /// gradient and the weight gradient (on the scale of `tile`×`tile` tiles: 2 for F(2×2, 3×3),
    /// 4 for F(4×4, 3×3)).
    private func check(_ s: Case, algorithm: ConvolutionAlgorithm, kernel: GEMMMicroKernel, threads: Int, tile: Int = 2,
                       file: StaticString = #filePath, line: UInt = #line) -> (Double, Double, Double) {
        let seed = UInt64(s.channels * 100 + s.outChannels)
        let xShape = [s.batch, s.channels, s.height, s.width], wShape = [s.outChannels, s.channels, 3, 3]
        let yShape = [s.batch, s.outChannels, s.outputHeight, s.outputWidth]
        let x = testTensor(xShape, seed: seed).scalars, w = testTensor(wShape, seed: seed + 1).scalars
        let g = testTensor(yShape, seed: seed + 2).scalars
        var y = [Double](repeating: 0, count: yShape.reduce(1, *)), yMagnitude = y
        var dx = [Double](repeating: 0, count: x.count), dxMagnitude = dx
        var dw = [Double](repeating: 0, count: w.count), dwMagnitude = dw
        // The weight gradient's scale: per (o, c), Σ over tiles of Σ|g| (tile × tile) · Σ|x| (its window).
        for n in 0..<s.batch {
            for ty in 0..<((s.outputHeight + tile - 1) / tile) {
                for tx in 0..<((s.outputWidth + tile - 1) / tile) {
                    for o in 0..<s.outChannels {
                        var gradientSum = 0.0
                        for oy in (tile * ty)..<min(s.outputHeight, tile * ty + tile) {
                            for ox in (tile * tx)..<min(s.outputWidth, tile * tx + tile) {
                                gradientSum += abs(Double(g[((n * s.outChannels + o) * s.outputHeight + oy) * s.outputWidth + ox]))
                            }
                        }
                        for c in 0..<s.channels {
                            var windowSum = 0.0
                            for iy in (tile * ty - s.padding)..<(tile * ty - s.padding + tile + 2) where iy >= 0 && iy < s.height {
                                for ix in (tile * tx - s.padding)..<(tile * tx - s.padding + tile + 2)
                                where ix >= 0 && ix < s.width {
                                    windowSum += abs(Double(x[((n * s.channels + c) * s.height + iy) * s.width + ix]))
                                }
                            }
                            for tap in 0..<9 { dwMagnitude[(o * s.channels + c) * 9 + tap] += gradientSum * windowSum }
                        }
                    }
                }
            }
        }
        for n in 0..<s.batch {
            for o in 0..<s.outChannels {
                for oy in 0..<s.outputHeight {
                    for ox in 0..<s.outputWidth {
                        let yi = ((n * s.outChannels + o) * s.outputHeight + oy) * s.outputWidth + ox
                        for c in 0..<s.channels {
                            for ky in 0..<3 {
                                let iy = oy - s.padding + ky
                                if iy < 0 || iy >= s.height { continue }
                                for kx in 0..<3 {
                                    let ix = ox - s.padding + kx
                                    if ix < 0 || ix >= s.width { continue }
                                    let xi = ((n * s.channels + c) * s.height + iy) * s.width + ix
                                    let wi = ((o * s.channels + c) * 3 + ky) * 3 + kx
                                    let forward = Double(w[wi]) * Double(x[xi]), backward = Double(w[wi]) * Double(g[yi])
                                    y[yi] += forward
                                    yMagnitude[yi] += abs(forward)
                                    dx[xi] += backward
                                    dxMagnitude[xi] += abs(backward)
                                    dw[wi] += Double(g[yi]) * Double(x[xi])
                                }
                            }
                        }
                    }
                }
            }
        }
        let context = ComputeContext(threadCount: threads, gemmKernel: kernel)
        return ComputeContext.$current.withValue(context) {
            ConvolutionAlgorithm.$current.withValue(algorithm) {
                let input = Tensor(shape: xShape, scalars: x).requiringGrad()
                let weight = Tensor(shape: wShape, scalars: w).requiringGrad()
                let output = input.conv2d(weight: weight, padding: s.padding)
                XCTAssertEqual(output.shape, yShape, file: file, line: line)
                output.backward(gradient: Tensor(shape: yShape, scalars: g))
                return (worstRatio(output.scalars, y, yMagnitude), worstRatio(input.grad?.scalars ?? [], dx, dxMagnitude),
                        worstRatio(weight.grad?.scalars ?? [], dw, dwMagnitude))
            }
        }
    }

    func testWinogradMatchesTheDirectConvolutionInDoubleWithinTheStatedBound() {
        var worstWinograd = (0.0, 0.0, 0.0), worstDirect = (0.0, 0.0, 0.0)
        for kernel in GEMMMicroKernel.allCases where kernel.isSupported {
            for threads in [1, 3] {
                for s in cases {
                    let (output, gradient, weightGradient) = check(s, algorithm: .winograd, kernel: kernel, threads: threads)
                    XCTAssertLessThanOrEqual(output, Self.bound, "output of \(s), kernel \(kernel), \(threads) threads")
                    // The input gradient is a Winograd product only when it runs as a convolution (≥ 8 channels).
                    XCTAssertLessThanOrEqual(gradient, Self.bound, "input gradient of \(s), kernel \(kernel), \(threads) threads")
                    XCTAssertLessThanOrEqual(weightGradient, Self.bound,
                                             "weight gradient of \(s), kernel \(kernel), \(threads) threads")
                    worstWinograd = (max(worstWinograd.0, output), max(worstWinograd.1, gradient),
                                     max(worstWinograd.2, weightGradient))
                }
            }
        }
        for s in cases {
            let (output, gradient, weightGradient) = check(s, algorithm: .direct, kernel: .best, threads: 1)
            worstDirect = (max(worstDirect.0, output), max(worstDirect.1, gradient), max(worstDirect.2, weightGradient))
        }
        print("Winograd F(2×2, 3×3), worst error / scale (output, input gradient, weight gradient): \(worstWinograd); "
              + "direct: \(worstDirect); bound \(Self.bound)")
    }

    /// Shapes reaching every path of F(4×4, 3×3) (`.winograd4x4` takes it for all).
    private let largeTileCases: [Case] = [
        // 7×7 outputs: the last tile row and column keep three of four; 12 tiles across 3 images.
        Case(batch: 3, channels: 3, height: 7, width: 7, outChannels: 13, padding: 1),
        // 4×16: four whole tiles in a row; 11 input channels, so the input gradient (4×16 too) runs as F(4×4).
        Case(batch: 2, channels: 11, height: 4, width: 16, outChannels: 5, padding: 1),
        // 260 channels: two depth panels; one image, one tile.
        Case(batch: 1, channels: 260, height: 4, width: 4, outChannels: 3, padding: 1),
        // No padding (6×6 → 4×4), and padding 2 (5×5 → 7×7).
        Case(batch: 2, channels: 2, height: 6, width: 6, outChannels: 33, padding: 0),
        Case(batch: 2, channels: 5, height: 5, width: 5, outChannels: 4, padding: 2),
        // 3×8 outputs from 9 channels; the input gradient (3×8) as F(4×4) as well.
        Case(batch: 2, channels: 9, height: 3, width: 8, outChannels: 10, padding: 1),
        // 8 images of 8×8: 32 tiles, several blocks per worker with 3 workers.
        Case(batch: 8, channels: 2, height: 8, width: 8, outChannels: 2, padding: 1),
        // Sides 2 and 1 modulo 4 (6×5, and 10×9 for the input gradient's 9 channels): the windows
        // would reach past the padded images, so they are copied with zeros up to the windows' reach.
        Case(batch: 3, channels: 9, height: 6, width: 5, outChannels: 7, padding: 1),
        Case(batch: 2, channels: 12, height: 10, width: 9, outChannels: 9, padding: 1),
        Case(batch: 2, channels: 3, height: 14, width: 14, outChannels: 5, padding: 1),
        // 112 tiles of 412 + 4 channels: the weight gradient's blocks hold 32 tiles, so with 3 threads
        // two workers sum two blocks each and the third none, and the reduction adds three accumulators.
        Case(batch: 7, channels: 412, height: 16, width: 16, outChannels: 4, padding: 1),
    ]

    /// F(4×4, 3×3)'s bound: |ŷ − y| ≤ 2⁻¹⁶ · Σ_k |w_k·x_k| (256 units of float rounding u = 2⁻²⁴
    /// times the sum's magnitude). Its transforms multiply by up to 8 and divide by 24, so its
    /// error is a larger multiple of the direct product's than F(2×2)'s: on these shapes the
    /// worst ratios were 95 u (output) and 145 u (input gradient, the 412-channel case), printed
    /// by the test, against 3.3 u and 2.4 u for the direct product — still below 10⁻⁵ of the
    /// sum's magnitude. The
    /// weight gradient, on its 4×4 tiles' scale (Σ_tiles Σ|g| over the tile · Σ|x| over its 6×6
    /// window, as F(2×2)'s above), is held to F(2×2)'s `bound` (16 u): its worst was 1.4 u, while
    /// one coefficient of Gᵀ off by 1% (1/11.9 for 1/12) gives 3 500 u.
    static let largeTileBound = 1.0 / 65_536

    func testLargeTilesMatchTheDirectConvolutionInDoubleWithinTheirBound() {
        var worst = (0.0, 0.0, 0.0)
        for kernel in GEMMMicroKernel.allCases where kernel.isSupported {
            for threads in [1, 3] {
                for s in largeTileCases {
                    let (output, gradient, weightGradient) = check(s, algorithm: .winograd4x4, kernel: kernel,
                                                                   threads: threads, tile: 4)
                    XCTAssertLessThanOrEqual(output, Self.largeTileBound, "output of \(s), kernel \(kernel), \(threads) threads")
                    XCTAssertLessThanOrEqual(gradient, Self.largeTileBound,
                                             "input gradient of \(s), kernel \(kernel), \(threads) threads")
                    XCTAssertLessThanOrEqual(weightGradient, Self.bound,
                                             "weight gradient of \(s), kernel \(kernel), \(threads) threads")
                    worst = (max(worst.0, output), max(worst.1, gradient), max(worst.2, weightGradient))
                }
            }
        }
        print("Winograd F(4×4, 3×3), worst error / scale (output, input gradient, weight gradient): \(worst); "
              + "bound \(Self.largeTileBound) (weight gradient \(Self.bound)); u = \(1.0 / 16_777_216)")
    }

    /// A 4×4 tile's window that reaches two rows past the padded image would mix what lies there
    /// (the next plane or image) into outputs that are written, up to rounding — and a NaN there
    /// into all of them. Image 1 is all NaN: image 0's outputs must match the direct product,
    /// with the images padded further (sides 2 and 1 modulo 4) and not (sides 3 and 0,
    /// whose one row and column past the image feed only outputs that are not written).
    func testLargeTilesReadNothingPastTheImages() {
        for (height, width) in [(6, 5), (5, 7), (7, 6), (7, 7), (8, 7)] {
            let x = testTensor([1, 1, height, width], seed: 90).scalars
            let w = testTensor([2, 1, 3, 3], seed: 91)
            let input = Tensor(shape: [2, 1, height, width], scalars: x + [Float](repeating: .nan, count: x.count))
            let winograd = ConvolutionAlgorithm.$current.withValue(.winograd4x4) { input.conv2d(weight: w, padding: 1) }
            let direct = ConvolutionAlgorithm.$current.withValue(.direct) { input.conv2d(weight: w, padding: 1) }
            let firstImage = 2 * height * width
            let got = Array(winograd.scalars[..<firstImage]), expected = Array(direct.scalars[..<firstImage])
            XCTAssertTrue(got.allSatisfy { $0.isFinite }, "\(height)×\(width): \(got)")
            for (a, b) in zip(got, expected) { XCTAssertEqual(a, b, accuracy: 1e-5, "\(height)×\(width)") }
        }
    }

    func testTheAutomaticChoiceTakesLargeTilesWhereTheyCutTheProductsByAQuarter() {
        func takes(_ side: Int, _ other: Int, _ algorithm: ConvolutionAlgorithm = .automatic) -> Bool {
            WinogradConvolution.takesLargeTiles(
                ConvolutionGeometry(channels: 16, height: side, width: other, kernelHeight: 3, kernelWidth: 3,
                                    stride: 1, padding: 1), algorithm: algorithm)
        }
        XCTAssertEqual([takes(28, 28), takes(7, 7), takes(32, 8), takes(4, 3), takes(14, 14), takes(28, 14),
                        takes(5, 8), takes(6, 6), takes(10, 10), takes(2, 2)],
                       [true, true, true, true, true, true, false, false, false, false])
        XCTAssertEqual([takes(28, 28, .winograd), takes(28, 28, .direct), takes(6, 6, .winograd4x4)], [false, false, true])
    }

    func testTheAutomaticChoiceTakesWinogradOnlyForWideThreeByThreeStrideOneLayers() {
        func applies(_ channels: Int, _ outChannels: Int, kernel: Int = 3, stride: Int = 1, batch: Int = 8,
                     _ algorithm: ConvolutionAlgorithm = .automatic) -> Bool {
            WinogradConvolution.applies(
                ConvolutionGeometry(channels: channels, height: 14, width: 14, kernelHeight: kernel, kernelWidth: kernel,
                                    stride: stride, padding: kernel / 2), outChannels: outChannels, batch: batch,
                algorithm: algorithm)
        }
        XCTAssertTrue(applies(64, 64))
        XCTAssertTrue(applies(32, 32))
        XCTAssertFalse(applies(64, 64, batch: 5))  // 245 tiles: too few for the weight transform to pay
        XCTAssertFalse(applies(1, 32))        // the 9-deep first layer
        XCTAssertFalse(applies(64, 64, stride: 2))
        XCTAssertFalse(applies(64, 64, kernel: 5))
        XCTAssertFalse(applies(64, 64, kernel: 1))
        XCTAssertFalse(applies(64, 64, .direct))
        XCTAssertTrue(applies(1, 32, .winograd))
        // The weight gradient: F(2×2) from 128 channels with AVX-512, 64 with AVX2 (or when Winograd is forced);
        // F(4×4) from 32 where the forward takes it and there are 256 of its tiles per thread.
        func appliesToWeightGradient(_ channels: Int, _ outChannels: Int, _ algorithm: ConvolutionAlgorithm = .automatic,
                                     side: Int = 14, batch: Int = 8, kernel: GEMMMicroKernel = .avx512,
                                     threads: Int = 2) -> Bool {
            WinogradConvolution.appliesToWeightGradient(
                ConvolutionGeometry(channels: channels, height: side, width: side, kernelHeight: 3, kernelWidth: 3,
                                    stride: 1, padding: 1), outChannels: outChannels, batch: batch, algorithm: algorithm,
                kernel: kernel, threads: threads)
        }
        XCTAssertEqual([appliesToWeightGradient(128, 128), appliesToWeightGradient(64, 64),
                        appliesToWeightGradient(64, 64, kernel: .avx2), appliesToWeightGradient(32, 32, kernel: .avx2),
                        appliesToWeightGradient(64, 64, .winograd), appliesToWeightGradient(128, 128, .direct)],
                       [true, false, true, false, true, false])
        XCTAssertEqual([appliesToWeightGradient(32, 32, side: 28, batch: 512),
                        appliesToWeightGradient(32, 32, side: 28, batch: 8),  // 392 tiles of 4×4: F(2×2) rules
                        appliesToWeightGradient(16, 16, side: 28, batch: 512),
                        appliesToWeightGradient(32, 32, side: 10, batch: 512)],  // 10×10: no F(4×4)
                       [true, false, false, false])
        func large(_ side: Int, batch: Int, threads: Int = 2, _ algorithm: ConvolutionAlgorithm = .automatic) -> Bool {
            WinogradConvolution.weightGradientTakesLargeTiles(
                ConvolutionGeometry(channels: 512, height: side, width: side, kernelHeight: 3, kernelWidth: 3,
                                    stride: 1, padding: 1), batch: batch, algorithm: algorithm, threads: threads)
        }
        XCTAssertEqual([large(4, batch: 512), large(4, batch: 256), large(4, batch: 512, threads: 4),
                        large(8, batch: 128), large(6, batch: 512), large(4, batch: 1, .winograd4x4),
                        large(28, batch: 512, .winograd)],
                       [true, false, false, true, false, true, false])
    }
}

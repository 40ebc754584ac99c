@testable import SSLTensor
import SSLTestSupport
import XCTest

/// conv2d's three products (output, input gradient, weight gradient) against the definition,
/// summed in double precision, on shapes that exercise every path of the batched kernels:
/// tiles running across image boundaries, several depth panels, partial tiles, the transposed
/// and the scatter input-gradient paths, 1×1 and non-square kernels, more threads than images,
/// and the stride-1 forward that reads the images in place (`forwardInPlace`). The direct
/// products only: `WinogradConvolutionTests` checks the 3×3 stride-1 products Winograd takes.
final class ConvolutionTests: XCTestCase {
    private struct Case {
        let batch, channels, height, width, outChannels, kernelHeight, kernelWidth, stride, padding: Int
        var outputHeight: Int { (height + 2 * padding - kernelHeight) / stride + 1 }
        var outputWidth: Int { (width + 2 * padding - kernelWidth) / stride + 1 }
    }

    /// Calls `body(n, o, c, oy, ox, iy, ix, ky, kx)` for every in-image product term of the convolution.
    private func forEachTerm(_ s: Case, _ body: (Int, Int, Int, Int, Int, Int, Int, Int, Int) -> Void) {
        for n in 0..<s.batch {
            for o in 0..<s.outChannels {
                for oy in 0..<s.outputHeight {
                    for ox in 0..<s.outputWidth {
                        for c in 0..<s.channels {
                            for ky in 0..<s.kernelHeight {
                                let iy = oy * s.stride - s.padding + ky
                                if iy < 0 || iy >= s.height { continue }
                                for kx in 0..<s.kernelWidth {
                                    let ix = ox * s.stride - s.padding + kx
                                    if ix < 0 || ix >= s.width { continue }
                                    body(n, o, c, oy, ox, iy, ix, ky, kx)
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    private func check(_ s: Case, kernel: GEMMMicroKernel, threads: Int, file: StaticString = #filePath, line: UInt = #line) {
        let seed = UInt64(s.channels * 1000 + s.outChannels * 10 + s.stride)
        let xShape = [s.batch, s.channels, s.height, s.width]
        let wShape = [s.outChannels, s.channels, s.kernelHeight, s.kernelWidth]
        let yShape = [s.batch, s.outChannels, s.outputHeight, s.outputWidth]
        let xValues = testTensor(xShape, seed: seed).scalars
        let wValues = testTensor(wShape, seed: seed + 1).scalars
        let gValues = testTensor(yShape, seed: seed + 2).scalars
        func xIndex(_ n: Int, _ c: Int, _ iy: Int, _ ix: Int) -> Int { ((n * s.channels + c) * s.height + iy) * s.width + ix }
        func wIndex(_ o: Int, _ c: Int, _ ky: Int, _ kx: Int) -> Int {
            ((o * s.channels + c) * s.kernelHeight + ky) * s.kernelWidth + kx
        }
        func yIndex(_ n: Int, _ o: Int, _ oy: Int, _ ox: Int) -> Int {
            ((n * s.outChannels + o) * s.outputHeight + oy) * s.outputWidth + ox
        }
        var y = [Double](repeating: 0, count: yShape.reduce(1, *))
        var dx = [Double](repeating: 0, count: xValues.count)
        var dw = [Double](repeating: 0, count: wValues.count)
        forEachTerm(s) { n, o, c, oy, ox, iy, ix, ky, kx in
            let xi = xIndex(n, c, iy, ix), wi = wIndex(o, c, ky, kx), yi = yIndex(n, o, oy, ox)
            y[yi] += Double(xValues[xi]) * Double(wValues[wi])
            dx[xi] += Double(gValues[yi]) * Double(wValues[wi])
            dw[wi] += Double(gValues[yi]) * Double(xValues[xi])
        }

        let context = ComputeContext(threadCount: threads, gemmKernel: kernel)
        // The direct products (WinogradConvolutionTests checks the Winograd ones).
        ConvolutionAlgorithm.$current.withValue(.direct) { ComputeContext.$current.withValue(context) {
            let x = Tensor(shape: xShape, scalars: xValues).requiringGrad()
            let w = Tensor(shape: wShape, scalars: wValues).requiringGrad()
            let output = x.conv2d(weight: w, stride: s.stride, padding: s.padding)
            XCTAssertEqual(output.shape, yShape, file: file, line: line)
            output.backward(gradient: Tensor(shape: yShape, scalars: gValues))
            let label = "\(s) kernel \(kernel) threads \(threads)"
            let depth = Float(s.channels * s.kernelHeight * s.kernelWidth)
            assertClose(output.scalars, y.map { Float($0) }, rtol: 1e-4, atol: depth.squareRoot() * 2e-6,
                        "output \(label)", file: file, line: line)
            assertClose(x.grad?.scalars ?? [], dx.map { Float($0) }, rtol: 1e-4, atol: 1e-4,
                        "input gradient \(label)", file: file, line: line)
            assertClose(w.grad?.scalars ?? [], dw.map { Float($0) }, rtol: 1e-4, atol: 1e-4,
                        "weight gradient \(label)", file: file, line: line)
        } }
    }

    private let cases: [Case] = [
        // 63 positions per image: tiles cross image boundaries; 5 channels take the scatter path.
        Case(batch: 3, channels: 5, height: 9, width: 7, outChannels: 13, kernelHeight: 3, kernelWidth: 3, stride: 1, padding: 1),
        // Transposed input-gradient path; 16 positions per image.
        Case(batch: 2, channels: 9, height: 4, width: 4, outChannels: 14, kernelHeight: 3, kernelWidth: 3, stride: 1, padding: 1),
        // 270-deep columns: two forward panels.
        Case(batch: 3, channels: 30, height: 6, width: 5, outChannels: 7, kernelHeight: 3, kernelWidth: 3, stride: 1, padding: 1),
        Case(batch: 2, channels: 4, height: 9, width: 9, outChannels: 6, kernelHeight: 3, kernelWidth: 3, stride: 2, padding: 1),
        // Non-square kernel, stride 3, no padding.
        Case(batch: 1, channels: 3, height: 7, width: 6, outChannels: 5, kernelHeight: 2, kernelWidth: 3, stride: 3, padding: 0),
        // 1×1 with stride 2.
        Case(batch: 4, channels: 6, height: 5, width: 5, outChannels: 8, kernelHeight: 1, kernelWidth: 1, stride: 2, padding: 0),
        // 5×5 with padding 2, transposed path.
        Case(batch: 2, channels: 10, height: 5, width: 5, outChannels: 3, kernelHeight: 5, kernelWidth: 5, stride: 1, padding: 2),
        // 300 output channels: the scatter path's depth runs over two panels.
        Case(batch: 1, channels: 2, height: 3, width: 3, outChannels: 300, kernelHeight: 3, kernelWidth: 3, stride: 2, padding: 1),
        // 432 output positions: the weight gradient's depth is split between workers and panels.
        Case(batch: 3, channels: 9, height: 12, width: 12, outChannels: 16, kernelHeight: 3, kernelWidth: 3, stride: 1, padding: 1),
        // Strided and padded: the padded images split into phases. Stride 3 over a padded 12×13
        // leaves a partial last phase row and column; a 5×5 kernel reads two rows of a phase.
        Case(batch: 2, channels: 7, height: 10, width: 11, outChannels: 9, kernelHeight: 3, kernelWidth: 3, stride: 3, padding: 1),
        Case(batch: 2, channels: 6, height: 9, width: 8, outChannels: 10, kernelHeight: 5, kernelWidth: 5, stride: 2, padding: 2),
        // 20 output positions per image, 72 deep: packed slivers of split phases across images.
        Case(batch: 3, channels: 8, height: 8, width: 10, outChannels: 20, kernelHeight: 3, kernelWidth: 3, stride: 2, padding: 1),
    ]

    /// Shapes whose forward product reads the images in place (checked below, per kernel).
    private let inPlaceCases: [Case] = [
        // 60 output channels: two weight slivers, the second partial; the last tile of the last
        // image reads past its end (the padded copy with room).
        Case(batch: 3, channels: 8, height: 10, width: 30, outChannels: 60, kernelHeight: 3, kernelWidth: 3, stride: 1, padding: 1),
        // 270-deep columns: two panels. The input gradient (30 channels from 32) is read in place too.
        Case(batch: 2, channels: 30, height: 6, width: 30, outChannels: 32, kernelHeight: 3, kernelWidth: 3, stride: 1, padding: 1),
        // 1×1 without padding: the padded width is the width, nothing is thrown away.
        Case(batch: 3, channels: 64, height: 4, width: 12, outChannels: 32, kernelHeight: 1, kernelWidth: 1, stride: 1, padding: 0),
        // 5×5 with padding 2, on one image (fewer units of work than threads).
        Case(batch: 1, channels: 10, height: 6, width: 28, outChannels: 30, kernelHeight: 5, kernelWidth: 5, stride: 1, padding: 2),
        // Stride 2 over phases of a padded 13×32 (an odd height: the last phase row is zeros).
        Case(batch: 2, channels: 8, height: 11, width: 30, outChannels: 32, kernelHeight: 3, kernelWidth: 3, stride: 2, padding: 1),
    ]

    func testEveryProductMatchesTheDefinitionForEveryKernelAndThreadCount() {
        for kernel in GEMMMicroKernel.allCases where kernel.isSupported {
            for threads in [1, 2, 3] {
                for s in cases { check(s, kernel: kernel, threads: threads) }
            }
        }
    }

    func testTheInPlaceForwardMatchesTheDefinitionForEveryKernelAndThreadCount() {
        for kernel in GEMMMicroKernel.allCases where kernel.isSupported {
            for s in inPlaceCases {
                let geometry = ConvolutionGeometry(channels: s.channels, height: s.height, width: s.width,
                                                   kernelHeight: s.kernelHeight, kernelWidth: s.kernelWidth,
                                                   stride: s.stride, padding: s.padding)
                XCTAssertTrue(BatchedConvolution.readsImagesInPlace(geometry, outChannels: s.outChannels, kernel: kernel),
                              "\(s) with kernel \(kernel) should take the in-place forward")
            }
            // 5 threads over the first case's 6 units (AVX-512): the last worker gets none.
            for threads in [1, 2, 3, 5] {
                for s in inPlaceCases { check(s, kernel: kernel, threads: threads) }
            }
        }
        // The ConvNet's 7×7 stage and its 9-deep first convolution stay on the packed path; the
        // rest of its 28×28 and 14×14 stages read in place, and so do its two stride-2 layers
        // (from 28×28 and 14×14); a stride without padding is not split, so never in place.
        func inPlace(_ size: Int, _ channels: Int, _ outChannels: Int, stride: Int = 1, padding: Int = 1,
                     kernel: GEMMMicroKernel = .avx512) -> Bool {
            BatchedConvolution.readsImagesInPlace(
                ConvolutionGeometry(channels: channels, height: size, width: size, kernelHeight: 3, kernelWidth: 3,
                                    stride: stride, padding: padding), outChannels: outChannels, kernel: kernel)
        }
        XCTAssertEqual([inPlace(28, 32, 32), inPlace(14, 64, 64), inPlace(7, 128, 128), inPlace(28, 1, 32)],
                       [true, true, false, false])
        XCTAssertEqual([inPlace(28, 32, 64, stride: 2), inPlace(14, 64, 128, stride: 2, kernel: .avx2),
                        inPlace(28, 32, 64, stride: 2, padding: 0)], [true, true, false])
    }
}

import SSLTensor
import SSLTestSupport
import XCTest

/// The GEMM driver and every micro-kernel this CPU supports against a naive triple loop.
final class GEMMTests: XCTestCase {
    /// C = alpha·op(A)·op(B) + beta·C0 in double precision.
    private func naive(
        m: Int, n: Int, k: Int, a: [Float], transposeA: Bool, b: [Float], transposeB: Bool,
        alpha: Float, beta: Float, c0: [Float]
    ) -> [Float] {
        var c = [Float](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                var total: Double = 0
                for p in 0..<k {
                    let av = transposeA ? a[p * m + i] : a[i * k + p]
                    let bv = transposeB ? b[j * k + p] : b[p * n + j]
                    total += Double(av) * Double(bv)
                }
                let old = beta == 0 ? 0 : Double(beta) * Double(c0[i * n + j])
                c[i * n + j] = Float(Double(alpha) * total + old)
            }
        }
        return c
    }

    private func check(
        m: Int, n: Int, k: Int, transposeA: Bool, transposeB: Bool, alpha: Float = 1, beta: Float = 0,
        kernel: GEMMMicroKernel, threads: Int, file: StaticString = #filePath, line: UInt = #line
    ) {
        let a = testTensor([m * k], seed: UInt64(m * 31 + k)).scalars
        let b = testTensor([k * n], seed: UInt64(n * 17 + k)).scalars
        // With beta == 0 the old C must not be read: fill it with NaN to prove it.
        let c0 = beta == 0 ? [Float](repeating: .nan, count: m * n) : testTensor([m * n], seed: 5).scalars
        let expected = naive(m: m, n: n, k: k, a: a, transposeA: transposeA, b: b, transposeB: transposeB,
                             alpha: alpha, beta: beta, c0: c0)
        var c = c0
        let context = ComputeContext(threadCount: threads, gemmKernel: kernel)
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    gemm(m: m, n: n, k: k, alpha: alpha,
                         a: .rowMajor(pa.baseAddress!, columns: transposeA ? m : k, transposed: transposeA),
                         b: .rowMajor(pb.baseAddress!, columns: transposeB ? k : n, transposed: transposeB),
                         beta: beta, c: pc.baseAddress!, ldc: n, threads: threads, context: context)
                }
            }
        }
        let tolerance = Float(k).squareRoot() * 2e-6
        assertClose(c, expected, rtol: 1e-4, atol: tolerance,
                    "\(kernel) \(m)x\(k)x\(n) \(transposeA ? "T" : "N")\(transposeB ? "T" : "N") threads \(threads)",
                    file: file, line: line)
    }

    private var kernels: [GEMMMicroKernel] { GEMMMicroKernel.allCases.filter(\.isSupported) }

    func testAwkwardShapesInEveryTransposeCombinationAndKernel() {
        let shapes = [(1, 1, 1), (7, 13, 5), (1000, 3, 1001), (13, 300, 37), (33, 257, 65)]
        for kernel in kernels {
            for (m, k, n) in shapes {
                for transposeA in [false, true] {
                    for transposeB in [false, true] {
                        check(m: m, n: n, k: k, transposeA: transposeA, transposeB: transposeB,
                              kernel: kernel, threads: 2)
                    }
                }
            }
        }
    }

    func testAlphaBetaAndSingleThread() {
        for kernel in kernels {
            check(m: 37, n: 70, k: 300, transposeA: false, transposeB: false, alpha: 0.5, beta: 2,
                  kernel: kernel, threads: 1)
            check(m: 64, n: 200, k: 600, transposeA: true, transposeB: false, alpha: -1, beta: 1,
                  kernel: kernel, threads: 2)
        }
    }

    func testPanelBoundariesAndLargeProductsUseBothWorkers() {
        // Depth beyond one panel (KC = 256), rows beyond one block (MC = 192), both splits.
        for kernel in kernels {
            check(m: 200, n: 90, k: 520, transposeA: false, transposeB: true, kernel: kernel, threads: 2)
            check(m: 20, n: 300, k: 300, transposeA: false, transposeB: false, kernel: kernel, threads: 2)
            // Wide enough to split by columns but taller still: split by rows, each worker
            // packing all of B (row-major B walked by rows; last sliver 4 columns wide).
            for transposeA in [false, true] {
                for transposeB in [false, true] {
                    check(m: 301, n: 260, k: 70, transposeA: transposeA, transposeB: transposeB, kernel: kernel, threads: 2)
                }
            }
        }
    }

    func testSharedOperandAcrossBlocksPanelsAndWorkerCounts() {
        // The operand every worker reads whole is packed once, in parts by each worker: split by
        // columns (shared A) with two row blocks (MC = 192) and two panels (KC = 150), and by
        // rows (shared B, last sliver partial), on 2 and 3 workers (uneven parts).
        for kernel in kernels {
            for threads in [2, 3] {
                for transposeA in [false, true] {
                    check(m: 250, n: 260, k: 300, transposeA: transposeA, transposeB: !transposeA,
                          kernel: kernel, threads: threads)
                    check(m: 290, n: 131, k: 300, transposeA: !transposeA, transposeB: transposeA,
                          kernel: kernel, threads: threads)
                }
            }
        }
    }

    func testWorkerCountDoesNotChangeTheBits() {
        // Every C tile sees the same packed values in the same order however the work is split
        // (and whoever packed the shared operand), so 1, 2 and 3 workers agree bit for bit.
        let (m, n, k) = (250, 260, 300)
        let a = testTensor([m * k], seed: 11).scalars, b = testTensor([k * n], seed: 12).scalars
        for kernel in kernels {
            for (transposeA, transposeB) in [(false, true), (true, false), (false, false)] {
                var results: [[Float]] = []
                for threads in [1, 2, 3] {
                    var c = [Float](repeating: 0, count: m * n)
                    a.withUnsafeBufferPointer { pa in
                        b.withUnsafeBufferPointer { pb in
                            c.withUnsafeMutableBufferPointer { pc in
                                gemm(m: m, n: n, k: k,
                                     a: .rowMajor(pa.baseAddress!, columns: transposeA ? m : k, transposed: transposeA),
                                     b: .rowMajor(pb.baseAddress!, columns: transposeB ? k : n, transposed: transposeB),
                                     c: pc.baseAddress!, ldc: n, threads: threads,
                                     context: ComputeContext(threadCount: threads, gemmKernel: kernel))
                            }
                        }
                    }
                    results.append(c)
                }
                XCTAssertEqual(results[0], results[1], "\(kernel) \(transposeA) \(transposeB): 1 against 2 workers")
                XCTAssertEqual(results[0], results[2], "\(kernel) \(transposeA) \(transposeB): 1 against 3 workers")
            }
        }
    }

    func testZeroDepthScalesC() {
        var c: [Float] = [1, 2, 3, 4]
        let empty: [Float] = [0]
        empty.withUnsafeBufferPointer { p in
            c.withUnsafeMutableBufferPointer { pc in
                gemm(m: 2, n: 2, k: 0, a: .rowMajor(p.baseAddress!, columns: 0),
                     b: .rowMajor(p.baseAddress!, columns: 2), beta: 0.5, c: pc.baseAddress!, ldc: 2)
            }
        }
        XCTAssertEqual(c, [0.5, 1, 1.5, 2])
    }

    func testBestKernelIsSupported() {
        XCTAssertTrue(GEMMMicroKernel.best.isSupported)
        XCTAssertTrue(GEMMMicroKernel.portable.isSupported)
    }
}

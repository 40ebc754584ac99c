import CSSLKernels

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The register-blocked inner kernel of the GEMM, chosen by CPU feature at run time.
///
/// The kernels themselves are C (target `CSSLKernels`), compiled with per-function
/// `target("avx512f")` / `target("avx2,fma")` attributes: Swift 6.3 has no such attribute, and
/// package-wide `unsafeFlags` would make the package unusable as a versioned dependency.
public enum GEMMMicroKernel: String, Sendable, CaseIterable {
    /// 12×32 tile, 24 ZMM accumulators (AVX-512F).
    case avx512 = "avx512"
    /// 6×16 tile, 12 YMM accumulators (AVX2 + FMA).
    case avx2 = "avx2"
    /// 6×16 tile in portable C (SSE2 on x86-64, NEON on arm64).
    case portable = "portable"

    /// Rows of C per tile (MR).
    @inlinable public var tileRows: Int { self == .avx512 ? 12 : 6 }
    /// Columns of C per tile (NR).
    @inlinable public var tileColumns: Int { self == .avx512 ? 32 : 16 }
    /// The deepest packed panel (KC; depths are split evenly up to it): the B sliver (KC×NR) stays in L1.
    @inlinable var panelDepth: Int { 256 }
    /// Rows of one packed A block (MC), a multiple of MR; the block stays in L2.
    @inlinable var blockRows: Int { 192 }
    /// Columns of one packed B panel (NC).
    @inlinable var panelColumns: Int { 4096 }

    /// Whether this CPU can run the kernel.
    public var isSupported: Bool {
        let features = Int(ssl_cpu_features())
        switch self {
        case .avx512: return features & Int(SSL_CPU_AVX512F) != 0
            && features & Int(SSL_CPU_AVX2_FMA) != 0
        case .avx2: return features & Int(SSL_CPU_AVX2_FMA) != 0
        case .portable: return true
        }
    }

    /// The most tiles Winograd F(4×4, 3×3)'s transforms take at a time on a CPU that runs this
    /// family: sixteen in 512-bit vectors with AVX-512, eight in 256-bit ones with AVX2 (which
    /// implies AVX), four in portable C vectors otherwise.
    @inlinable var winogradTileGroup: Int {
        switch self {
        case .avx512: 16
        case .avx2: 8
        case .portable: 4
        }
    }

    /// The fastest kernel this CPU supports, unless `SSL_GEMM_KERNEL` names another supported
    /// one.
    public static var best: GEMMMicroKernel {
        if let name = getenv("SSL_GEMM_KERNEL").map({ String(cString: $0) }),
           let requested = GEMMMicroKernel(rawValue: name), requested.isSupported {
            return requested
        }
        return allCases.first { $0.isSupported } ?? .portable
    }

    /// The rows an edge kernel computes for the last sliver of a panel holding `rows` (< MR)
    /// real rows: 4 or 8 with AVX-512, 2 or 4 with AVX2 (exactly `rows` when it is one of
    /// those), or nil when there is none and the full-height kernel runs on the zero-padded
    /// sliver.
    @inlinable
    func edgeRows(for rows: Int) -> Int? {
        switch self {
        case .avx512: return rows <= 4 ? 4 : rows <= 8 ? 8 : nil
        case .avx2: return rows <= 2 ? 2 : rows <= 4 ? 4 : nil
        case .portable: return nil
        }
    }

    /// Runs the smallest kernel that covers the first `rows` (1…MR) rows of a packed sliver:
    /// an edge kernel when there is one (it writes `edgeRows(for: rows)` rows), else the
    /// full-height kernel (MR rows).
    @inlinable @inline(__always)
    func run(
        rows: Int, depth: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
        c: UnsafeMutablePointer<Float>, ldc: Int, alpha: Float, beta: Float
    ) {
        switch (self, rows < tileRows ? edgeRows(for: rows) : nil) {
        case (.avx512, 4): ssl_sgemm_kernel_4x32_avx512(depth, a, b, c, ldc, alpha, beta)
        case (.avx512, 8): ssl_sgemm_kernel_8x32_avx512(depth, a, b, c, ldc, alpha, beta)
        case (.avx2, 2): ssl_sgemm_kernel_2x16_avx2(depth, a, b, c, ldc, alpha, beta)
        case (.avx2, 4): ssl_sgemm_kernel_4x16_avx2(depth, a, b, c, ldc, alpha, beta)
        default: run(depth: depth, a: a, b: b, c: c, ldc: ldc, alpha: alpha, beta: beta)
        }
    }

    /// Whether `run(rows:…)` writes exactly `rows` rows (so it may write straight into C).
    @inlinable
    func writesExactly(rows: Int) -> Bool { rows == tileRows || edgeRows(for: rows) == rows }

    /// `run(depth:…)` with A read in place instead of from a packed sliver: column p of the A
    /// sliver (its MR floats) is at `a + aColumnOffsets[p]`. B is a packed sliver as usual.
    @inlinable @inline(__always)
    func runGathered(
        depth: Int, a: UnsafePointer<Float>, aColumnOffsets: UnsafePointer<Int>, b: UnsafePointer<Float>,
        c: UnsafeMutablePointer<Float>, ldc: Int, alpha: Float, beta: Float
    ) {
        switch self {
        case .avx512: ssl_sgemm_kernel_12x32_avx512_gathered(depth, a, aColumnOffsets, b, c, ldc, alpha, beta)
        case .avx2: ssl_sgemm_kernel_6x16_avx2_gathered(depth, a, aColumnOffsets, b, c, ldc, alpha, beta)
        case .portable: ssl_sgemm_kernel_6x16_generic_gathered(depth, a, aColumnOffsets, b, c, ldc, alpha, beta)
        }
    }

    /// Runs the kernel on one full tile: C = alpha·(A·B) + beta·C (C not read when beta is 0).
    @inlinable @inline(__always)
    func run(
        depth: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
        c: UnsafeMutablePointer<Float>, ldc: Int, alpha: Float, beta: Float
    ) {
        switch self {
        case .avx512: ssl_sgemm_kernel_12x32_avx512(depth, a, b, c, ldc, alpha, beta)
        case .avx2: ssl_sgemm_kernel_6x16_avx2(depth, a, b, c, ldc, alpha, beta)
        case .portable: ssl_sgemm_kernel_6x16_generic(depth, a, b, c, ldc, alpha, beta)
        }
    }
}

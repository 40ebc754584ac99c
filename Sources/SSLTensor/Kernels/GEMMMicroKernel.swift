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

    /// The fastest kernel this CPU supports, unless `SSL_GEMM_KERNEL` names another supported
    /// one.
    public static var best: GEMMMicroKernel {
        if let name = getenv("SSL_GEMM_KERNEL").map({ String(cString: $0) }),
           let requested = GEMMMicroKernel(rawValue: name), requested.isSupported {
            return requested
        }
        return allCases.first { $0.isSupported } ?? .portable
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

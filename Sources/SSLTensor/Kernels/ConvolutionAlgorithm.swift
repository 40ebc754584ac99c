#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// How `conv2d` computes its 3×3 stride-1 products (the forward pass and, through the
/// transposed convolution, the input gradient); every other convolution is always direct.
///
/// `.automatic` (the default) takes Winograd (`WinogradConvolution`) where the layer's shape
/// makes it pay, with F(4×4, 3×3) where the output's sides allow it and F(2×2, 3×3) elsewhere,
/// and the direct GEMM over gathered columns for the rest. The choice is
/// bound for a scope like `ComputeContext.current`; the environment variable
/// `SSL_CONV_ALGORITHM` (`automatic`, `direct`, `winograd`, `winograd4x4`) sets the process-wide default, for
/// testing and benchmarking.
///
/// ```swift
/// let y = ConvolutionAlgorithm.$current.withValue(.direct) {
///     x.conv2d(weight: w, padding: 1)   // never Winograd
/// }
/// ```
public enum ConvolutionAlgorithm: String, Sendable, CaseIterable {
    /// Winograd for the 3×3 stride-1 products whose shape makes it pay, direct elsewhere.
    case automatic
    /// The direct products only (one GEMM over the batch's gathered columns).
    case direct
    /// Winograd F(2×2, 3×3) for every 3×3 stride-1 product, whatever its shape (for tests and
    /// measurements).
    case winograd
    /// Winograd F(4×4, 3×3) for every 3×3 stride-1 product, whatever its shape (for tests and
    /// measurements), the weight gradient included.
    case winograd4x4

    /// The algorithm convolutions use in the current task or thread.
    @TaskLocal public static var current: ConvolutionAlgorithm = .fromEnvironment

    /// `SSL_CONV_ALGORITHM` when it names an algorithm, else `.automatic`.
    public static var fromEnvironment: ConvolutionAlgorithm {
        getenv("SSL_CONV_ALGORITHM").flatMap { ConvolutionAlgorithm(rawValue: String(cString: $0)) } ?? .automatic
    }
}

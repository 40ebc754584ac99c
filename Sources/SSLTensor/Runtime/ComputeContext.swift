import CSSLKernels

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// What the kernels run with: the buffer pool tensors allocate from, how many threads a kernel
/// may use, and the GEMM micro-kernel chosen for this CPU.
///
/// There is one process-wide default (all cores, a 2 GiB pool, the best micro-kernel this CPU
/// supports). A different context is bound for a scope, never set globally:
///
/// ```swift
/// let singleThreaded = ComputeContext(threadCount: 1)
/// ComputeContext.$current.withValue(singleThreaded) {
///     let y = x.matmul(w)   // runs on one thread
/// }
/// ```
///
/// The environment variable `SSL_GEMM_KERNEL` (`avx512`, `avx2`, `portable`) overrides the
/// micro-kernel choice of the default context, for testing and benchmarking.
public final class ComputeContext: Sendable {
    /// The pool every tensor created under this context allocates from.
    public let bufferPool: BufferPool
    /// The number of threads a kernel may use (at least 1).
    public let threadCount: Int
    /// The GEMM micro-kernel used by matrix products and convolutions.
    public let gemmKernel: GEMMMicroKernel

    /// Creates a context. `threadCount` defaults to the number of active processors.
    public init(
        threadCount: Int? = nil,
        bufferPool: BufferPool = BufferPool(),
        gemmKernel: GEMMMicroKernel = .best
    ) {
        let processors = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        self.threadCount = max(1, threadCount ?? max(1, processors))
        self.bufferPool = bufferPool
        self.gemmKernel = gemmKernel
        workerTeam = WorkerTeam(helperCount: self.threadCount - 1)
    }

    /// The helper threads of this context's parallel loops (started on first use, stopped
    /// with the context).
    let workerTeam: WorkerTeam

    deinit { workerTeam.stop() }

    /// The process-wide default context.
    public static let `default` = ComputeContext()

    /// The context kernels use in the current task or thread; bind another with
    /// `ComputeContext.$current.withValue(_:operation:)`.
    @TaskLocal public static var current: ComputeContext = .default
}

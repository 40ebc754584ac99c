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
///
/// The default thread count is `SSL_THREADS` when set, else the active processors divided by
/// the processes `mpirun` started on this host (`OMPI_COMM_WORLD_LOCAL_SIZE`), so data-parallel
/// ranks sharing a machine do not oversubscribe its cores.
public final class ComputeContext: Sendable {
    /// The pool every tensor created under this context allocates from.
    public let bufferPool: BufferPool
    /// The number of threads a kernel may use (at least 1).
    public let threadCount: Int
    /// The GEMM micro-kernel used by matrix products and convolutions.
    public let gemmKernel: GEMMMicroKernel

    /// Creates a context. `threadCount` defaults to `defaultThreadCount()`.
    public init(
        threadCount: Int? = nil,
        bufferPool: BufferPool = BufferPool(),
        gemmKernel: GEMMMicroKernel = .best
    ) {
        self.threadCount = max(1, threadCount ?? Self.defaultThreadCount())
        self.bufferPool = bufferPool
        self.gemmKernel = gemmKernel
        workerTeam = WorkerTeam(helperCount: self.threadCount - 1)
    }

    /// The helper threads of this context's parallel loops (started on first use, stopped
    /// with the context).
    let workerTeam: WorkerTeam

    deinit { workerTeam.stop() }

    /// `SSL_THREADS` when set to a positive number, else the active processors divided by the
    /// ranks on this host under `mpirun` (at least 1).
    public static func defaultThreadCount(environment: [String: String]? = nil) -> Int {
        func variable(_ name: String) -> Int? {
            if let environment { return environment[name].flatMap { Int($0) } }
            return getenv(name).flatMap { Int(String(cString: $0)) }
        }
        if let value = variable("SSL_THREADS"), value > 0 { return value }
        let processors = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        let ranksOnHost = variable("OMPI_COMM_WORLD_LOCAL_SIZE") ?? 1
        return max(1, processors / max(1, ranksOnHost))
    }

    /// The process-wide default context.
    public static let `default` = ComputeContext()

    /// The context kernels use in the current task or thread; bind another with
    /// `ComputeContext.$current.withValue(_:operation:)`.
    @TaskLocal public static var current: ComputeContext = .default
}

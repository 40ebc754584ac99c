import Dispatch

/// A pointer that may be captured by the `@Sendable` closures of `ParallelLoop`. Each worker
/// must write a disjoint region; the wrapper only silences the compiler's check.
@usableFromInline
struct SendablePointer<Pointee>: @unchecked Sendable {
    @usableFromInline let base: UnsafeMutablePointer<Pointee>
    @inlinable init(_ base: UnsafeMutablePointer<Pointee>) { self.base = base }
    @inlinable init(_ base: UnsafePointer<Pointee>) { self.base = UnsafeMutablePointer(mutating: base) }
}

/// Fork-join helpers over the current context's `WorkerTeam` (the calling thread takes part),
/// or Dispatch's worker threads when the team is busy (a nested or concurrent loop).
enum ParallelLoop {
    /// Runs `body(worker)` for `worker` in `0..<workers`, concurrently when `workers > 1`, on
    /// `context`'s team.
    static func run(workers: Int, context: ComputeContext = .current, _ body: @Sendable (Int) -> Void) {
        if workers <= 1 {
            body(0)
        } else if !context.workerTeam.run(iterations: workers, body) {
            DispatchQueue.concurrentPerform(iterations: workers, execute: body)
        }
    }

    /// Splits `0..<count` into at most `threads` contiguous chunks of at least `minimumChunk`
    /// items and runs `body` on each chunk, concurrently.
    static func forEachChunk(
        count: Int, minimumChunk: Int, threads: Int, _ body: @Sendable (Range<Int>) -> Void
    ) {
        guard count > 0 else { return }
        let chunks = max(1, min(threads, count / max(1, minimumChunk)))
        if chunks == 1 {
            body(0..<count)
            return
        }
        let perChunk = (count + chunks - 1) / chunks
        run(workers: chunks) { chunk in
            let start = chunk * perChunk
            let end = min(count, start + perChunk)
            if start < end { body(start..<end) }
        }
    }
}

/// Fork-join over index ranges for code outside the tensor core (optimizer updates, kernels
/// of other targets), on the current `ComputeContext`'s threads.
///
/// ```swift
/// Parallel.forEachChunk(count: parameterCount, minimumChunk: 1 << 15) { range in
///     for i in range { p[i] -= lr * g[i] }   // each chunk writes only its own range
/// }
/// ```
public enum Parallel {
    /// Runs `body` on contiguous chunks of `0..<count` of at least `minimumChunk` items.
    public static func forEachChunk(count: Int, minimumChunk: Int, _ body: @Sendable (Range<Int>) -> Void) {
        ParallelLoop.forEachChunk(count: count, minimumChunk: minimumChunk,
                                  threads: ComputeContext.current.threadCount, body)
    }
}

/// A pointer that `Parallel.forEachChunk` bodies may capture; each chunk must write only its
/// own range.
public struct UnsafeSendablePointer<Pointee>: @unchecked Sendable {
    public let base: UnsafeMutablePointer<Pointee>
    public init(_ base: UnsafeMutablePointer<Pointee>) { self.base = base }
    public init(_ base: UnsafePointer<Pointee>) { self.base = UnsafeMutablePointer(mutating: base) }
}

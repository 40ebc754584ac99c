import Foundation
import SSLTensor
import Synchronization

/// The worker threads of one pass over a range of batches: each worker claims the next batch
/// index, builds that batch, and files it under its index; the consumer takes batches strictly
/// in index order. At most `window` batches are claimed ahead of the consumer (built or being
/// built), which bounds memory. Because a batch depends only on its index, the output is the
/// same for any number of workers and any scheduling.
///
/// A batch that fails to build (its `produce` throws) is delivered as that error in its turn;
/// the pipeline then stops. `cancelAndJoin()` stops the workers (they finish the batch in hand)
/// and waits for them to exit; the iterator that owns the pipeline calls it from its `deinit`.
final class PrefetchPipeline: @unchecked Sendable {
    private let condition = NSCondition()
    private var nextToClaim: Int
    private var nextToDeliver: Int
    private let end: Int
    private let window: Int
    private var ready: [Int: Result<Batch, any Error>] = [:]
    private var cancelled = false
    private var running = 0
    private let produce: @Sendable (Int) throws -> Batch

    /// Starts `workers` threads over batch indices `start..<end`; `liveThreads` counts them
    /// while they run.
    init(range: Range<Int>, workers: Int, window: Int, context: ComputeContext, liveThreads: LiveThreadCounter,
         produce: @escaping @Sendable (Int) throws -> Batch) {
        precondition(workers > 0 && window > 0, "PrefetchPipeline: workers (\(workers)) and window (\(window)) must be positive")
        self.nextToClaim = range.lowerBound
        self.nextToDeliver = range.lowerBound
        self.end = range.upperBound
        self.window = window
        self.produce = produce
        guard !range.isEmpty else { return }
        running = workers
        for worker in 0..<workers {
            liveThreads.increment()
            let thread = Thread { [self] in
                ComputeContext.$current.withValue(context) { self.work(liveThreads) }
            }
            thread.name = "SSLData.DataLoader.worker\(worker)"
            thread.start()
        }
    }

    private func work(_ liveThreads: LiveThreadCounter) {
        while true {
            condition.lock()
            while !cancelled && nextToClaim < end && nextToClaim >= nextToDeliver + window { condition.wait() }
            if cancelled || nextToClaim >= end {
                liveThreads.decrement()
                running -= 1
                condition.broadcast()
                condition.unlock()
                return
            }
            let index = nextToClaim
            nextToClaim += 1
            condition.unlock()
            let batch = Result { try produce(index) }
            condition.lock()
            ready[index] = batch
            condition.broadcast()
            condition.unlock()
        }
    }

    /// The next batch in index order, waiting for it if needed; nil after the last; throws
    /// the error of a batch that failed, after which the workers stop and it returns nil.
    func next() throws -> Batch? {
        condition.lock()
        defer { condition.unlock() }
        guard nextToDeliver < end, !cancelled else { return nil }
        while ready[nextToDeliver] == nil { condition.wait() }
        let result = ready.removeValue(forKey: nextToDeliver)
        nextToDeliver += 1
        if case .failure? = result {
            cancelled = true  // nothing after a failed batch; the workers exit after the batch in hand
            ready.removeAll()
        }
        condition.broadcast()
        return try result?.get()
    }

    /// Stops the workers and waits until every one has exited.
    func cancelAndJoin() {
        condition.lock()
        cancelled = true
        ready.removeAll()
        condition.broadcast()
        while running > 0 { condition.wait() }
        condition.unlock()
    }
}

/// The iterator behind `DataLoader.throwingBatches`: owns a pipeline and stops it when dropped.
final class PrefetchIterator {
    private let pipeline: PrefetchPipeline

    init(_ pipeline: PrefetchPipeline) { self.pipeline = pipeline }

    func next() throws -> Batch? { try pipeline.next() }

    deinit { pipeline.cancelAndJoin() }
}

/// A thread-safe count of running worker threads.
final class LiveThreadCounter: Sendable {
    private let value = Atomic<Int>(0)
    func increment() { value.add(1, ordering: .sequentiallyConsistent) }
    func decrement() { value.subtract(1, ordering: .sequentiallyConsistent) }
    var count: Int { value.load(ordering: .sequentiallyConsistent) }
}

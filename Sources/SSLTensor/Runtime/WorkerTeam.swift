import Dispatch
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Persistent helper threads for the fork-join loops of one `ComputeContext`.
///
/// A training step runs hundreds of short parallel loops (GEMMs, normalisation, element-wise
/// ops, optimizer updates). Waking a sleeping Dispatch worker for each costs a system call and
/// tens of microseconds before the helper starts, during which the calling thread does the
/// work alone. The team's helpers instead spin (yielding the core to any other runnable
/// thread) for a couple of milliseconds after each loop, so the next loop starts on both
/// cores at once, and sleep on a condition variable only when no loop comes (the way
/// OpenMP runtimes keep their threads warm).
///
/// One caller owns the team at a time. A loop started while the team is busy (a nested loop,
/// or a second thread) runs on Dispatch instead, so nothing ever waits for the team.
///
/// Protocol: the owner writes the loop (`body`, `iterations`), resets the claim counter,
/// opens the entry word for the new generation and bumps `generation`. A helper that sees the
/// new generation enters by incrementing the entry word's helper count, which it can only do
/// while the word is open and carries that generation; only then does it read the loop.
/// Everyone claims iterations from `nextIteration`. When the owner runs out of iterations it
/// closes the word and waits for the helpers inside (all busy with claimed iterations) to
/// leave. A helper that wakes late finds the word closed or of a newer generation and
/// touches nothing.
final class WorkerTeam: @unchecked Sendable {
    /// Helper threads (the owner's thread takes part too).
    let helperCount: Int
    /// How long an idle helper spins before it sleeps.
    private let spinNanoseconds: UInt64

    private let generation = Atomic<Int>(0)
    /// `generation << 8 | closed << 7 | helpers inside`.
    private let entry = Atomic<Int>(0)
    private let nextIteration = Atomic<Int>(0)
    private let owned = Atomic<Bool>(false)
    private let stopping = Atomic<Bool>(false)

    // Written only by the owner (before opening the entry word); read by helpers inside.
    private var body: (@Sendable (Int) -> Void)?
    private var iterations = 0
    private var helpersStarted = false

    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let wakeUp: UnsafeMutablePointer<pthread_cond_t>
    private var sleepers = 0   // guarded by `mutex`

    private static let closedBit = 1 << 7
    private static let countMask = (1 << 7) - 1

    /// A team of `helperCount` threads (0 to 127), started on first use.
    init(helperCount: Int, spinNanoseconds: UInt64 = 2_000_000) {
        self.helperCount = max(0, min(WorkerTeam.countMask, helperCount))
        self.spinNanoseconds = spinNanoseconds
        mutex = .allocate(capacity: 1)
        wakeUp = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(wakeUp, nil)
    }

    deinit {
        // Helpers hold a reference while they run, so this runs only after `stop()` let them go
        // (or when none ever started).
        pthread_cond_destroy(wakeUp)
        pthread_mutex_destroy(mutex)
        wakeUp.deallocate()
        mutex.deallocate()
    }

    /// Runs `body(i)` for every `i` in `0..<iterations`, on the caller's thread and the helpers.
    /// Returns false without running anything when the team is busy or stopped.
    func run(iterations count: Int, _ loopBody: @Sendable (Int) -> Void) -> Bool {
        guard helperCount > 0, !stopping.load(ordering: .acquiring),
              owned.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged
        else { return false }
        defer { owned.store(false, ordering: .releasing) }
        if !helpersStarted {
            guard startHelpers() else { return false }
            helpersStarted = true
        }
        withoutActuallyEscaping(loopBody) { escapable in
            body = escapable
            iterations = count
            nextIteration.store(0, ordering: .relaxed)
            let next = generation.load(ordering: .relaxed) &+ 1
            entry.store(next << 8, ordering: .releasing)
            generation.store(next, ordering: .releasing)
            wakeSleepers()
            claimIterations()
            // Close the loop to latecomers, then wait for the helpers inside to finish theirs.
            var word = entry.load(ordering: .relaxed)
            while true {
                let (exchanged, original) = entry.compareExchange(
                    expected: word, desired: word | WorkerTeam.closedBit, ordering: .acquiringAndReleasing)
                if exchanged { break }
                word = original
            }
            while entry.load(ordering: .acquiring) & WorkerTeam.countMask != 0 { spinPause() }
            body = nil
        }
        return true
    }

    /// Lets the helpers exit (after the loop in progress, if any); later loops return false.
    func stop() {
        stopping.store(true, ordering: .releasing)
        generation.add(1, ordering: .releasing)
        pthread_mutex_lock(mutex)
        pthread_cond_broadcast(wakeUp)
        pthread_mutex_unlock(mutex)
    }

    private func claimIterations() {
        guard let body else { return }
        while true {
            let index = nextIteration.add(1, ordering: .relaxed).oldValue
            if index >= iterations { return }
            body(index)
        }
    }

    private func wakeSleepers() {
        pthread_mutex_lock(mutex)
        if sleepers > 0 { pthread_cond_broadcast(wakeUp) }
        pthread_mutex_unlock(mutex)
    }

    private func startHelpers() -> Bool {
        for _ in 0..<helperCount {
            let context = Unmanaged.passRetained(self).toOpaque()
            var thread = pthread_t()
            let status = pthread_create(&thread, nil, { argument in
                guard let argument else { return nil }
                let team = Unmanaged<WorkerTeam>.fromOpaque(argument).takeRetainedValue()
                team.helperLoop()
                return nil
            }, context)
            if status != 0 {
                Unmanaged<WorkerTeam>.fromOpaque(context).release()
                stop()
                return false
            }
            pthread_detach(thread)
        }
        return true
    }

    private func helperLoop() {
        var seen = generation.load(ordering: .acquiring)
        while true {
            seen = waitForGeneration(after: seen)
            if stopping.load(ordering: .acquiring) { return }
            guard enter(generation: seen) else { continue }
            claimIterations()
            entry.subtract(1, ordering: .releasing)
        }
    }

    /// Joins the loop of `expected` if it is still open.
    private func enter(generation expected: Int) -> Bool {
        var word = entry.load(ordering: .relaxed)
        while word >> 8 == expected && word & WorkerTeam.closedBit == 0 {
            let (exchanged, original) = entry.compareExchange(
                expected: word, desired: word &+ 1, ordering: .acquiringAndReleasing)
            if exchanged { return true }
            word = original
        }
        return false
    }

    /// Spins (yielding the core) until the generation moves past `seen`, then sleeps.
    private func waitForGeneration(after seen: Int) -> Int {
        let deadline = DispatchTime.now().uptimeNanoseconds &+ spinNanoseconds
        var spins = 0
        while true {
            let current = generation.load(ordering: .acquiring)
            if current != seen { return current }
            spins &+= 1
            if spins & 31 == 0 {
                if DispatchTime.now().uptimeNanoseconds > deadline { break }
                sched_yield()
            }
        }
        pthread_mutex_lock(mutex)
        sleepers += 1
        while generation.load(ordering: .acquiring) == seen {
            pthread_cond_wait(wakeUp, mutex)
        }
        sleepers -= 1
        pthread_mutex_unlock(mutex)
        return generation.load(ordering: .acquiring)
    }

    @inline(__always)
    private func spinPause() {
        // The helpers still inside are running claimed iterations: a short wait.
        sched_yield()
    }
}

import SSLTensor
import Synchronization

extension ImageFolder {
    /// A failed file: its index in the listing and what is wrong.
    typealias Failure = (index: Int, problem: String)

    /// Runs `work` on every file index `0..<total`, on `threads` threads (default: every core of
    /// the current `ComputeContext`), each with its own resize scratch, reporting progress.
    /// A thrown error is recorded as that file's failure; unless `skipBadFiles`, the first one
    /// stops the other threads from claiming more files. Returns the failures by index.
    static func forEachFile(total: Int, threads: Int?, skipBadFiles: Bool,
                            progress: (@Sendable (_ done: Int, _ total: Int) -> Void)?,
                            _ work: @Sendable (_ index: Int, _ scratch: inout CenterCropResize.Scratch) throws -> Void) -> [Failure] {
        let state = LoadState(total: total, progress: progress)
        let context = threads.map { ComputeContext(threadCount: $0) } ?? ComputeContext.current
        let workers = Swift.min(context.threadCount, total)
        ComputeContext.$current.withValue(context) {
            Parallel.forEachChunk(count: workers, minimumChunk: 1) { chunk in
                for _ in chunk {
                    var scratch = CenterCropResize.Scratch()
                    while let index = state.claim(stopOnFailure: !skipBadFiles) {
                        do {
                            try work(index, &scratch)
                            state.finished(index, problem: nil)
                        } catch {
                            state.finished(index, problem: (error as? DatasetError)?.problem ?? "\(error)")
                        }
                    }
                }
            }
        }
        return state.failures
    }

    /// Throws for the failures of a load: the first bad file (unless `skipBadFiles`), or the
    /// folder when every file failed. Returns the indices of the files kept.
    static func keptIndices(_ listing: Listing, failures: [Failure], skipBadFiles: Bool) throws -> [Int] {
        let files = listing.files, total = files.count
        guard skipBadFiles || failures.isEmpty else {
            let (first, problem) = failures[0]
            let others = failures.count > 1 ? " (\(failures.count - 1) other bad file\(failures.count == 2 ? "" : "s") found before the load stopped)" : ""
            throw DatasetError(path: files[first], problem: "\(problem)\(others); skipBadFiles: true (--skip-bad-files) leaves bad files out")
        }
        guard failures.count < total else {
            throw DatasetError(path: listing.directory, problem:
                "none of its \(total) image files could be decoded; the first, \(files[failures[0].index]), \(failures[0].problem)")
        }
        let bad = Set(failures.map(\.index))
        return (0..<total).filter { !bad.contains($0) }
    }
}

/// The shared bookkeeping of one load: the next file to claim, failures, progress.
private final class LoadState: Sendable {
    private let total: Int
    private let next = Atomic<Int>(0)
    private let stopped = Atomic<Bool>(false)
    private let problems = Mutex<[(index: Int, problem: String)]>([])
    /// Images done, and the count last reported to `progress` (reported under the lock).
    private let done = Mutex<(count: Int, reported: Int)>((0, 0))
    private let progress: (@Sendable (Int, Int) -> Void)?
    private let reportEvery: Int

    init(total: Int, progress: (@Sendable (Int, Int) -> Void)?) {
        self.total = total
        self.progress = progress
        reportEvery = Swift.max(1, total / 100)
    }

    /// The next file index to decode, or nil when all are claimed (or a failure stops the load).
    func claim(stopOnFailure: Bool) -> Int? {
        if stopOnFailure && stopped.load(ordering: .relaxed) { return nil }
        let index = next.wrappingAdd(1, ordering: .relaxed).oldValue
        return index < total ? index : nil
    }

    /// Records that file `index` is done (`problem` when it failed) and reports progress.
    func finished(_ index: Int, problem: String?) {
        if let problem {
            problems.withLock { $0.append((index, problem)) }
            stopped.store(true, ordering: .relaxed)
        }
        guard let progress else { return }
        done.withLock { state in
            state.count += 1
            if state.count == total || state.count - state.reported >= reportEvery {
                state.reported = state.count
                progress(state.count, total)
            }
        }
    }

    /// The failures, by file index.
    var failures: [(index: Int, problem: String)] {
        problems.withLock { $0 }.sorted { $0.index < $1.index }
    }
}

import Foundation
import SSLTensor

/// N ranks as N threads of one process, exchanging buffers through shared memory: the
/// semantics of MPI's collectives (same order, same sizes, results identical on every rank,
/// sums taken in rank order) without MPI, so ordinary `swift test` checks everything built on a
/// `Communicator` (SyncBatchNorm, gathered negatives, the data-parallel trainer).
///
/// ```swift
/// let sums = LocalGroupCommunicator.run(worldSize: 3) { communicator in
///     var value: [Float] = [Float(communicator.rank)]
///     communicator.allReduce(&value, .sum)
///     return value[0]                       // 3 on every rank
/// }
/// ```
public final class LocalGroupCommunicator: Communicator, @unchecked Sendable {
    public let rank: Int
    private let group: LocalGroup

    init(rank: Int, group: LocalGroup) {
        self.rank = rank
        self.group = group
    }

    /// The communicators of one group of `worldSize` ranks (give each to its own thread).
    public static func makeGroup(worldSize: Int) -> [LocalGroupCommunicator] {
        precondition(worldSize >= 1, "LocalGroupCommunicator: worldSize must be at least 1, got \(worldSize)")
        let group = LocalGroup(size: worldSize)
        return (0..<worldSize).map { LocalGroupCommunicator(rank: $0, group: group) }
    }

    /// Runs `body` once per rank, each on its own thread with a one-thread `ComputeContext`,
    /// and returns the results in rank order.
    public static func run<Result>(worldSize: Int, stackSize: Int = 8 << 20,
                                   _ body: @escaping @Sendable (LocalGroupCommunicator) throws -> Result) rethrows -> [Result] {
        let communicators = makeGroup(worldSize: worldSize)
        let results = ResultSlots<Result>(count: worldSize)
        let done = DispatchSemaphore(value: 0)
        for communicator in communicators {
            let thread = Thread {
                let context = ComputeContext(threadCount: 1)
                let outcome = ComputeContext.$current.withValue(context) { Swift.Result { try body(communicator) } }
                results.set(communicator.rank, outcome)
                done.signal()
            }
            thread.stackSize = stackSize
            thread.start()
        }
        for _ in communicators { done.wait() }
        return try results.values().map { try $0.get() }
    }

    public var worldSize: Int { group.size }
    public var localSize: Int { group.size }
    public var backendDescription: String { "\(group.size) threads" }

    public func allReduce(_ buffer: UnsafeMutableBufferPointer<Float>, _ operation: ReduceOperation) {
        reduce(buffer, operation, name: "allReduce")
    }

    public func allReduce(_ buffer: UnsafeMutableBufferPointer<Int>, _ operation: ReduceOperation) {
        reduce(buffer, operation, name: "allReduce")
    }

    public func allGather(_ input: UnsafeBufferPointer<Float>, into output: UnsafeMutableBufferPointer<Float>) {
        gather(input, into: output)
    }

    public func allGather(_ input: UnsafeBufferPointer<Int>, into output: UnsafeMutableBufferPointer<Int>) {
        gather(input, into: output)
    }

    public func broadcast(_ buffer: UnsafeMutableBufferPointer<Float>, root: Int) { broadcastValues(buffer, root: root) }
    public func broadcast(_ buffer: UnsafeMutableBufferPointer<Int>, root: Int) { broadcastValues(buffer, root: root) }

    public func barrier() { group.arriveAndWait() }

    public func abort(_ message: String, code: Int32) -> Never {
        fatalError("LocalGroupCommunicator rank \(rank) aborted the group: \(message)")
    }

    // MARK: - Collectives over shared memory

    /// Publishes this rank's buffer, waits for all, checks the counts agree.
    private func publish<Element>(_ pointer: UnsafePointer<Element>?, count: Int, name: String) {
        group.slots[rank] = (UnsafeRawPointer(pointer), count)
        group.arriveAndWait()
        let counts = group.slots.map(\.count)
        precondition(Set(counts).count == 1,
                     "\(name): ranks passed buffers of different sizes \(counts) (every rank must pass the same count)")
    }

    private func reduce<Element: Numeric & Comparable>(_ buffer: UnsafeMutableBufferPointer<Element>,
                                                       _ operation: ReduceOperation, name: String) {
        publish(UnsafePointer(buffer.baseAddress), count: buffer.count, name: name)
        var result = [Element](repeating: 0, count: buffer.count)
        for source in 0..<group.size {
            guard let raw = group.slots[source].pointer else { continue }
            let values = raw.assumingMemoryBound(to: Element.self)
            for index in 0..<buffer.count {
                let value = values[index]
                if source == 0 { result[index] = value; continue }
                switch operation {
                case .sum: result[index] += value
                case .max: result[index] = Swift.max(result[index], value)
                case .min: result[index] = Swift.min(result[index], value)
                }
            }
        }
        group.arriveAndWait()  // nobody still reads the inputs
        for index in 0..<buffer.count { buffer[index] = result[index] }
    }

    private func gather<Element>(_ input: UnsafeBufferPointer<Element>, into output: UnsafeMutableBufferPointer<Element>) {
        precondition(output.count == input.count * group.size,
                     "allGather: output holds \(output.count) values for \(input.count) × \(group.size) ranks")
        publish(input.baseAddress, count: input.count, name: "allGather")
        for source in 0..<group.size {
            guard let raw = group.slots[source].pointer, let target = output.baseAddress else { continue }
            (target + source * input.count).update(from: raw.assumingMemoryBound(to: Element.self), count: input.count)
        }
        group.arriveAndWait()
    }

    private func broadcastValues<Element>(_ buffer: UnsafeMutableBufferPointer<Element>, root: Int) {
        precondition(root >= 0 && root < group.size, "broadcast: root \(root) is not a rank of \(group.size)")
        publish(UnsafePointer(buffer.baseAddress), count: buffer.count, name: "broadcast")
        if rank != root, let raw = group.slots[root].pointer, let target = buffer.baseAddress {
            target.update(from: raw.assumingMemoryBound(to: Element.self), count: buffer.count)
        }
        group.arriveAndWait()
    }
}

/// The shared state of a `LocalGroupCommunicator` group: a reusable barrier and one published
/// buffer per rank (written before a barrier, read after it).
final class LocalGroup: @unchecked Sendable {
    let size: Int
    /// One slot per rank; each rank writes only its own (raw memory, so concurrent writes to
    /// different slots are not a race on an array's buffer).
    let slots: UnsafeMutableBufferPointer<(pointer: UnsafeRawPointer?, count: Int)>
    private let condition = NSCondition()
    private var arrived = 0
    private var generation = 0

    init(size: Int) {
        self.size = size
        slots = .allocate(capacity: size)
        slots.initialize(repeating: (nil, 0))
    }

    deinit { slots.deallocate() }

    func arriveAndWait() {
        condition.lock()
        defer { condition.unlock() }
        let current = generation
        arrived += 1
        if arrived == size {
            arrived = 0
            generation += 1
            condition.broadcast()
        } else {
            while generation == current { condition.wait() }
        }
    }
}

/// Per-rank results of `LocalGroupCommunicator.run`, written by the rank threads.
private final class ResultSlots<Value>: @unchecked Sendable {
    private var slots: [Swift.Result<Value, any Error>?]
    private let lock = NSLock()
    init(count: Int) { slots = Array(repeating: nil, count: count) }
    func set(_ index: Int, _ value: Swift.Result<Value, any Error>) { lock.withLock { slots[index] = value } }
    func values() -> [Swift.Result<Value, any Error>] { lock.withLock { slots.compactMap { $0 } } }
}

/// How a collective combines the values of the ranks.
public enum ReduceOperation: String, Sendable {
    case sum, max, min
}

/// A group of processes (ranks) that exchange buffers: what data-parallel training needs of
/// MPI. Every rank calls the same collectives in the same order with buffers of the same size;
/// a size that differs between ranks stops the job with a message naming the collective and the
/// sizes, never a hang or a silent truncation.
///
/// Implementations: `SingleProcessCommunicator` (world size 1, no communication at all),
/// `LocalGroupCommunicator` (N ranks as threads of one process, for tests) and, in a build with
/// `--traits MPI`, `MPICommunicator` (Open MPI). `Communicators.fromEnvironment()` picks the
/// one the process was launched for.
///
/// ```swift
/// let communicator = try Communicators.fromEnvironment()   // MPI under mpirun, else single process
/// var values: [Float] = [Float(communicator.rank)]
/// communicator.allReduce(&values, .sum)                     // 0 + 1 + … + (N − 1) on every rank
/// ```
public protocol Communicator: AnyObject, Sendable {
    /// This process's index in the group, 0..<worldSize.
    var rank: Int { get }
    /// The number of ranks.
    var worldSize: Int { get }
    /// The ranks running on this host (Open MPI's local size; threads per rank default to the
    /// host's cores divided by this).
    var localSize: Int { get }
    /// The engine, for the recipes' first line ("Open MPI 4.1", "single process", …).
    var backendDescription: String { get }

    /// Combines `buffer` element-wise over the ranks, in place; every rank gets the result.
    func allReduce(_ buffer: UnsafeMutableBufferPointer<Float>, _ operation: ReduceOperation)
    /// Integer all-reduce, in place.
    func allReduce(_ buffer: UnsafeMutableBufferPointer<Int>, _ operation: ReduceOperation)
    /// Writes every rank's `input` (all of the same count) into `output`, rank after rank
    /// (`output.count == input.count × worldSize`).
    func allGather(_ input: UnsafeBufferPointer<Float>, into output: UnsafeMutableBufferPointer<Float>)
    /// Integer all-gather.
    func allGather(_ input: UnsafeBufferPointer<Int>, into output: UnsafeMutableBufferPointer<Int>)
    /// Copies rank `root`'s buffer into every rank's buffer.
    func broadcast(_ buffer: UnsafeMutableBufferPointer<Float>, root: Int)
    /// Integer broadcast.
    func broadcast(_ buffer: UnsafeMutableBufferPointer<Int>, root: Int)
    /// Returns when every rank has called it.
    func barrier()
    /// Starts an in-place float all-reduce that may run while the caller goes on (gradient
    /// buckets during backward); the buffer must stay alive and untouched until `wait()`.
    /// Requests complete in the order they were started, and a blocking collective called
    /// later runs after them on every rank.
    func startAllReduce(_ buffer: UnsafeMutableBufferPointer<Float>, _ operation: ReduceOperation) -> CommunicationRequest
    /// Ends the whole job (every rank) after writing `message` to standard error: what a rank
    /// that failed does, so the others never wait for it forever.
    func abort(_ message: String, code: Int32) -> Never
}

/// An asynchronous collective started by `Communicator.startAllReduce`.
public protocol CommunicationRequest: AnyObject {
    /// Blocks until the collective has completed on this rank.
    func wait()
}

/// A request that completed when it was started (communicators without a background engine).
public final class CompletedRequest: CommunicationRequest {
    public init() {}
    public func wait() {}
}

extension Communicator {
    /// Whether there is more than one rank.
    public var isDistributed: Bool { worldSize > 1 }
    /// Whether this is rank 0, the one that writes logs, checkpoints and reports.
    public var isRoot: Bool { rank == 0 }

    /// Runs the all-reduce at once (the default for communicators without a background engine).
    public func startAllReduce(_ buffer: UnsafeMutableBufferPointer<Float>, _ operation: ReduceOperation) -> CommunicationRequest {
        allReduce(buffer, operation)
        return CompletedRequest()
    }

    // MARK: Arrays

    /// All-reduce of an array, in place.
    public func allReduce(_ values: inout [Float], _ operation: ReduceOperation) {
        values.withUnsafeMutableBufferPointer { allReduce($0, operation) }
    }

    /// Integer all-reduce of an array, in place.
    public func allReduce(_ values: inout [Int], _ operation: ReduceOperation) {
        values.withUnsafeMutableBufferPointer { allReduce($0, operation) }
    }

    /// The element-wise mean over the ranks, in place (sum, then divide by the world size).
    public func allReduceMean(_ values: inout [Float]) {
        allReduce(&values, .sum)
        guard worldSize > 1 else { return }
        let scale = 1 / Float(worldSize)
        for index in values.indices { values[index] *= scale }
    }

    /// Every rank's `values` (all of the same count), rank after rank.
    public func allGather(_ values: [Float]) -> [Float] {
        var output = [Float](repeating: 0, count: values.count * worldSize)
        values.withUnsafeBufferPointer { input in
            output.withUnsafeMutableBufferPointer { allGather(input, into: $0) }
        }
        return output
    }

    /// Every rank's integer `values` (all of the same count), rank after rank.
    public func allGather(_ values: [Int]) -> [Int] {
        var output = [Int](repeating: 0, count: values.count * worldSize)
        values.withUnsafeBufferPointer { input in
            output.withUnsafeMutableBufferPointer { allGather(input, into: $0) }
        }
        return output
    }

    /// Rank `root`'s array in every rank's `values` (same count on every rank).
    public func broadcast(_ values: inout [Float], root: Int = 0) {
        values.withUnsafeMutableBufferPointer { broadcast($0, root: root) }
    }

    /// Rank `root`'s integer array in every rank's `values` (same count on every rank).
    public func broadcast(_ values: inout [Int], root: Int = 0) {
        values.withUnsafeMutableBufferPointer { broadcast($0, root: root) }
    }

    /// Rank `root`'s string on every rank (any length; the others pass anything).
    public func broadcast(_ text: String, root: Int = 0) -> String {
        guard worldSize > 1 else { return text }
        let bytes = Array(text.utf8)
        var length = [bytes.count]
        broadcast(&length, root: root)
        var packed = [Int](repeating: 0, count: length[0])
        if rank == root { for (index, byte) in bytes.enumerated() { packed[index] = Int(byte) } }
        broadcast(&packed, root: root)
        return String(decoding: packed.map { UInt8(truncatingIfNeeded: $0) }, as: UTF8.self)
    }
}

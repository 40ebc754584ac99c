import Foundation

/// World size 1: every collective returns at once with the buffer as it is (no copy, no
/// communication); what a `Trainer` without a data-parallel strategy uses.
///
/// ```swift
/// let single = SingleProcessCommunicator()
/// var x: [Float] = [1, 2]
/// single.allReduce(&x, .sum)   // still [1, 2]
/// ```
public final class SingleProcessCommunicator: Communicator {
    public init() {}
    public var rank: Int { 0 }
    public var worldSize: Int { 1 }
    public var localSize: Int { 1 }
    public var backendDescription: String { "single process" }
    public func allReduce(_ buffer: UnsafeMutableBufferPointer<Float>, _ operation: ReduceOperation) {}
    public func allReduce(_ buffer: UnsafeMutableBufferPointer<Int>, _ operation: ReduceOperation) {}
    public func allGather(_ input: UnsafeBufferPointer<Float>, into output: UnsafeMutableBufferPointer<Float>) {
        precondition(output.count == input.count, "allGather: output holds \(output.count) values for \(input.count) × 1 rank")
        if let base = input.baseAddress, let target = output.baseAddress { target.update(from: base, count: input.count) }
    }
    public func allGather(_ input: UnsafeBufferPointer<Int>, into output: UnsafeMutableBufferPointer<Int>) {
        precondition(output.count == input.count, "allGather: output holds \(output.count) values for \(input.count) × 1 rank")
        if let base = input.baseAddress, let target = output.baseAddress { target.update(from: base, count: input.count) }
    }
    public func broadcast(_ buffer: UnsafeMutableBufferPointer<Float>, root: Int) {
        precondition(root == 0, "broadcast: root \(root) is not a rank of a single process")
    }
    public func broadcast(_ buffer: UnsafeMutableBufferPointer<Int>, root: Int) {
        precondition(root == 0, "broadcast: root \(root) is not a rank of a single process")
    }
    public func barrier() {}
    public func abort(_ message: String, code: Int32) -> Never {
        FileHandle.standardError.write(Data("\(message)\n".utf8))
        exit(code)
    }
}

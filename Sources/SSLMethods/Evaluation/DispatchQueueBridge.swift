import Dispatch

/// Dispatch's fork-join, named so call sites read as what they do.
enum DispatchQueueBridge {
    static func concurrentPerform(iterations: Int, execute work: @Sendable (Int) -> Void) {
        DispatchQueue.concurrentPerform(iterations: iterations, execute: work)
    }
}

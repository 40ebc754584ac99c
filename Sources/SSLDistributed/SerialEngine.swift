import Foundation

/// A thread that runs closures one after another in the order they were started: the
/// communication thread of `MPICommunicator` (so collectives keep their program order on every
/// rank while the caller overlaps work with them).
final class SerialEngine: @unchecked Sendable {
    private let condition = NSCondition()
    private var queue: [(body: () -> Void, request: EngineRequest)] = []

    init() {
        let thread = Thread { [unowned self] in self.loop() }
        thread.name = "ssl-communication"
        thread.start()
    }

    /// Queues `body`; the request's `wait()` returns when it has run.
    func start(_ body: @escaping () -> Void) -> EngineRequest {
        let request = EngineRequest()
        condition.lock()
        queue.append((body, request))
        condition.signal()
        condition.unlock()
        return request
    }

    private func loop() {
        while true {
            condition.lock()
            while queue.isEmpty { condition.wait() }
            let next = queue.removeFirst()
            condition.unlock()
            next.body()
            next.request.complete()
        }
    }
}

/// Completion of one `SerialEngine` job.
final class EngineRequest: CommunicationRequest, @unchecked Sendable {
    private let condition = NSCondition()
    private var done = false

    func complete() {
        condition.lock()
        done = true
        condition.broadcast()
        condition.unlock()
    }

    func wait() {
        condition.lock()
        while !done { condition.wait() }
        condition.unlock()
    }
}

@testable import SSLTensor
import Dispatch
import Synchronization
import XCTest

/// The context's helper threads: every iteration runs exactly once, whatever the timing (loops
/// back to back while helpers spin, after they fall asleep, nested loops, several callers at
/// once), and a stopped team hands its loops back to Dispatch.
final class WorkerTeamTests: XCTestCase {
    /// Counts how often each iteration ran.
    private final class Tally: @unchecked Sendable {
        let counts: UnsafeMutablePointer<Atomic<Int>>
        let size: Int
        init(_ size: Int) {
            self.size = size
            counts = .allocate(capacity: size)
            for i in 0..<size { (counts + i).initialize(to: Atomic(0)) }
        }
        deinit { counts.deinitialize(count: size); counts.deallocate() }
        func hit(_ i: Int) { counts[i].add(1, ordering: .relaxed) }
        var values: [Int] { (0..<size).map { counts[$0].load(ordering: .relaxed) } }
    }

    func testEveryIterationRunsOnceInLoopsBackToBackAndAfterHelpersSleep() {
        let team = WorkerTeam(helperCount: 2, spinNanoseconds: 200_000)
        defer { team.stop() }
        for round in 0..<300 {
            let iterations = 1 + round % 7
            let tally = Tally(iterations)
            XCTAssertTrue(team.run(iterations: iterations) { tally.hit($0) })
            XCTAssertEqual(tally.values, [Int](repeating: 1, count: iterations), "round \(round)")
            // Now and then let the helpers give up spinning and sleep.
            if round % 50 == 49 { usleep(2_000) }
        }
    }

    func testWorkDoneByHelpersIsVisibleToTheCaller() {
        let team = WorkerTeam(helperCount: 1)
        defer { team.stop() }
        let values = UnsafeMutablePointer<Int>.allocate(capacity: 1000)
        defer { values.deallocate() }
        let pointer = SendablePointer(values)
        for round in 0..<50 {
            XCTAssertTrue(team.run(iterations: 2) { half in
                for i in (half * 500)..<(half * 500 + 500) { pointer.base[i] = round * 1000 + i }
            })
            XCTAssertTrue((0..<1000).allSatisfy { values[$0] == round * 1000 + $0 }, "round \(round)")
        }
    }

    func testNestedAndConcurrentLoopsFallBackToDispatch() {
        let context = ComputeContext(threadCount: 2)
        let outer = Tally(4), inner = Tally(16)
        ComputeContext.$current.withValue(context) {
            ParallelLoop.run(workers: 4) { i in
                outer.hit(i)
                // The team is busy with the outer loop: this one runs on Dispatch.
                ParallelLoop.forEachChunk(count: 4, minimumChunk: 1, threads: 4) { range in
                    for j in range { inner.hit(i * 4 + j) }
                }
            }
        }
        XCTAssertEqual(outer.values, [1, 1, 1, 1])
        XCTAssertEqual(inner.values, [Int](repeating: 1, count: 16))

        // Four threads share one team: whoever finds it busy uses Dispatch.
        let shared = WorkerTeam(helperCount: 1, spinNanoseconds: 100_000)
        defer { shared.stop() }
        let tallies = (0..<4).map { _ in Tally(200 * 3) }
        DispatchQueue.concurrentPerform(iterations: 4) { caller in
            for round in 0..<200 {
                let body: @Sendable (Int) -> Void = { tallies[caller].hit(round * 3 + $0) }
                if !shared.run(iterations: 3, body) { DispatchQueue.concurrentPerform(iterations: 3, execute: body) }
            }
        }
        for tally in tallies { XCTAssertEqual(tally.values, [Int](repeating: 1, count: 600)) }
    }

    func testAStoppedTeamRunsNothingAndLoopsStillComplete() {
        let team = WorkerTeam(helperCount: 1)
        XCTAssertTrue(team.run(iterations: 2) { _ in })
        team.stop()
        XCTAssertFalse(team.run(iterations: 2) { _ in XCTFail("a stopped team must not run loops") })
        XCTAssertFalse(WorkerTeam(helperCount: 0).run(iterations: 2) { _ in XCTFail("no helpers, no team") })
        // Contexts come and go (each stops its team when released); their loops still complete.
        for _ in 0..<20 {
            let tally = Tally(3)
            ComputeContext.$current.withValue(ComputeContext(threadCount: 3)) {
                ParallelLoop.run(workers: 3) { tally.hit($0) }
            }
            XCTAssertEqual(tally.values, [1, 1, 1])
        }
    }
}

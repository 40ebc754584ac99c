import Foundation
import SSLDistributed
import SSLTensor
import XCTest

/// `--resume last` in a data-parallel fit: a run stopped mid-epoch and resumed by every rank
/// from rank 0's last checkpoint ends exactly where the uninterrupted run does.
final class DataParallelResumeTests: XCTestCase {
    /// SimCLR with the online kNN, two probes and RankMe (`MonitorScenario`), 3 epochs of 4
    /// steps on 2 thread ranks; the interrupted run stops after step 6 (the middle of epoch 1,
    /// with rank 0's step checkpoint there) and a new fit on every rank resumes from `last`. The
    /// resumed run's module (weights, BatchNorm statistics), probes and kNN queue are the
    /// uninterrupted run's bit for bit, and its last validation metrics are the same.
    func testRanksResumedFromTheLastCheckpointEndAsTheUninterruptedRun() throws {
        let root = NSTemporaryDirectory() + "ssl-dp-resume-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let uninterrupted = try LocalGroupCommunicator.run(worldSize: 2) { c in
            try MonitorScenario.run(communicator: c, epochs: 3,
                                    checkpointing: .init(directory: root + "/uninterrupted"))
        }
        let stopped = try LocalGroupCommunicator.run(worldSize: 2) { c in
            try MonitorScenario.run(communicator: c, epochs: 3,
                                    checkpointing: .init(directory: root + "/interrupted", stopAfterStep: 6))
        }
        let last = root + "/interrupted/monitors/version_0/checkpoints/last.safetensors"
        XCTAssertTrue(FileManager.default.fileExists(atPath: last), "rank 0 wrote \(last)")
        XCTAssertNotEqual(stopped[0].moduleWeights, uninterrupted[0].moduleWeights, "the interrupted run stopped early")
        let resumed = try LocalGroupCommunicator.run(worldSize: 2) { c in
            try MonitorScenario.run(communicator: c, epochs: 3,
                                    checkpointing: .init(directory: root + "/interrupted", resume: true))
        }
        XCTAssertEqual(uninterrupted.map(\.trainingBatches), [12, 12])
        XCTAssertEqual(stopped.map(\.trainingBatches), [6, 6], "every rank stopped after step 6 (one rank asked)")
        XCTAssertEqual(resumed.map(\.trainingBatches), [6, 6], "every rank resumed after step 6")
        for rank in 0..<2 {
            XCTAssertEqual(resumed[rank].moduleWeights, uninterrupted[rank].moduleWeights, "rank \(rank): module state")
            XCTAssertEqual(resumed[rank].probeWeights, uninterrupted[rank].probeWeights, "rank \(rank): probes")
            XCTAssertEqual(resumed[rank].knnBank, uninterrupted[rank].knnBank, "rank \(rank): kNN queue")
            XCTAssertEqual(resumed[rank].knnLabels, uninterrupted[rank].knnLabels, "rank \(rank): kNN labels")
            for name in MonitorScenario.comparedMetrics {
                let value = try XCTUnwrap(resumed[rank].metrics[name]?.last, "rank \(rank): \(name)")
                let target = try XCTUnwrap(uninterrupted[rank].metrics[name]?.last)
                XCTAssertEqual(value, target, accuracy: 1e-5 * Swift.max(1, abs(target)), "rank \(rank): last \(name)")
            }
        }
        XCTAssertEqual(resumed[0].moduleWeights, resumed[1].moduleWeights, "the ranks agree after resuming")
    }
}

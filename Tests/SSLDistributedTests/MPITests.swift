import Foundation
import SSLData
import SSLDistributed
import SSLNN
import SSLTensor
import SSLTraining
import XCTest

/// Tests on real processes: each skips unless the test binary was launched by `mpirun` with
/// two or more ranks (and built with `--traits MPI`), e.g.
///
///     swift build --build-tests --traits MPI
///     mpirun --oversubscribe --allow-run-as-root -np 3 .build/debug/SelfSupervisedPackageTests.xctest SSLDistributedTests.MPITests
///
/// Every rank runs the same tests in the same order (their collectives pair up); the
/// one-process reference of the equivalence test is computed on every rank.
final class MPITests: XCTestCase {
    func launchedCommunicator() throws -> any Communicator {
        guard let size = Communicators.launchedWorldSize(), size > 1 else {
            throw XCTSkip("not launched by mpirun with 2 or more ranks")
        }
        return try Communicators.fromEnvironment()
    }

    func testMPICollectivesGiveEveryRankTheSameResult() throws {
        let c = try launchedCommunicator()
        let n = Float(c.worldSize)
        XCTAssertTrue(c.backendDescription.hasPrefix("Open MPI "), c.backendDescription)
        var sum: [Float] = [Float(c.rank), 1]
        c.allReduce(&sum, .sum)
        XCTAssertEqual(sum, [n * (n - 1) / 2, n])
        var maxima: [Int] = [c.rank, -c.rank]
        c.allReduce(&maxima, .max)
        XCTAssertEqual(maxima, [c.worldSize - 1, 0])
        XCTAssertEqual(c.allGather([Float(c.rank), 0.5]), (0..<c.worldSize).flatMap { [Float($0), 0.5] })
        XCTAssertEqual(c.allGather([c.rank * 7]), (0..<c.worldSize).map { $0 * 7 })
        var broadcast: [Float] = [Float(c.rank) + 0.25]
        c.broadcast(&broadcast, root: c.worldSize - 1)
        XCTAssertEqual(broadcast, [n - 0.75])
        XCTAssertEqual(c.broadcast(c.rank == 0 ? "from rank 0" : "other"), "from rank 0")
        // Asynchronous all-reduces queue in order with a blocking collective after them.
        var first = [Float](repeating: Float(c.rank), count: 1000), second: [Float] = [1]
        first.withUnsafeMutableBufferPointer { buffer in
            let request = c.startAllReduce(buffer, .sum)
            c.allReduce(&second, .sum)
            request.wait()
        }
        XCTAssertEqual(first[999], n * (n - 1) / 2)
        XCTAssertEqual(second, [n])
        c.barrier()
        XCTAssertGreaterThanOrEqual(c.localSize, 1)
        print("collectives ranks=\(c.worldSize) rank=\(c.rank) local-size=\(c.localSize)")  // 1: one rank per host
    }

    /// The issue's equivalence: with SyncBatchNorm and gathered negatives, N ranks with B/N
    /// images each follow the loss of one process with B and end with its weights (SimCLR and
    /// BYOL on the ConvNet, 20 steps, relative difference under 1e-4).
    func testMPIRanksFollowTheSingleProcessTrajectory() throws {
        let c = try launchedCommunicator()
        let batchSize = 12  // 6 or 4 images per rank with 2 or 3 ranks
        for method in [DataParallelScenario.Method.simclr, .byol] {
            let reference = try ComputeContext.$current.withValue(ComputeContext(threadCount: 1)) {
                try DataParallelScenario.run(method, communicator: SingleProcessCommunicator(), batchSize: batchSize, steps: 20)
            }
            let outcome = try DataParallelScenario.run(method, communicator: c, batchSize: batchSize, steps: 20, bucketBytes: 25 << 20)
            let lossDifference = DataParallelScenario.relativeDifference(outcome.losses, reference.losses)
            let weightDifference = DataParallelScenario.relativeDifference(outcome.weights, reference.weights)
            XCTAssertEqual(outcome.losses.count, 20)
            XCTAssertLessThan(lossDifference, 1e-4, "\(method): rank \(c.rank) of \(c.worldSize) losses \(outcome.losses) vs \(reference.losses)")
            XCTAssertLessThan(weightDifference, 1e-4, "\(method): rank \(c.rank) of \(c.worldSize) final weights")
            // Identical on every rank (teacher included): rank 0's weights broadcast and compared.
            var rootWeights = outcome.weights
            c.broadcast(&rootWeights, root: 0)
            XCTAssertEqual(rootWeights, outcome.weights, "\(method): rank \(c.rank)'s weights are rank 0's, bit for bit")
            print("equivalence \(method) ranks=\(c.worldSize) rank=\(c.rank) loss-rel-diff=\(lossDifference) weight-rel-diff=\(weightDifference)")
            if ProcessInfo.processInfo.environment["SSL_DP_VERBOSE"] != nil, c.rank == 0 {
                print("losses    \(outcome.losses)\nreference \(reference.losses)")
            }
        }
    }

    /// The online kNN, probes and RankMe on N processes log what one process logs (see
    /// `DataParallelMonitorTests`), and the probes are the same on every rank.
    func testMPIMonitorsMatchOneProcess() throws {
        let c = try launchedCommunicator()
        let reference = try ComputeContext.$current.withValue(ComputeContext(threadCount: 1)) {
            try MonitorScenario.run(communicator: SingleProcessCommunicator())
        }
        let outcome = try MonitorScenario.run(communicator: c)
        for name in MonitorScenario.comparedMetrics {
            let values = outcome.metrics[name] ?? [], expected = reference.metrics[name] ?? []
            XCTAssertEqual(values.count, 2, "\(name) on rank \(c.rank)")
            for (value, target) in zip(values, expected) {
                XCTAssertEqual(value, target, accuracy: 1e-4 * Swift.max(1, abs(target)), "\(name) on rank \(c.rank) of \(c.worldSize): \(values) vs \(expected)")
            }
        }
        var rows = [outcome.validationRows]
        c.allReduce(&rows, .sum)
        XCTAssertEqual(rows[0], reference.validationRows, "the validation images are split over the ranks")
        var rootProbes = outcome.probeWeights
        c.broadcast(&rootProbes, root: 0)
        XCTAssertEqual(rootProbes, outcome.probeWeights, "rank \(c.rank)'s probes are rank 0's, bit for bit")
        XCTAssertEqual(outcome.knnLabels, reference.knnLabels, "the kNN queue holds one process's rows in its order")
        print("monitors ranks=\(c.worldSize) rank=\(c.rank) knn=\(outcome.metrics["val/knn_acc"] ?? []) reference=\(reference.metrics["val/knn_acc"] ?? [])")
    }

    /// `--resume last` after a killed job, in two launches (by .ci/run) sharing the directory
    /// SSL_MPI_RESUME_DIR: with SSL_MPI_RESUME_PHASE=kill, rank 0 SIGKILLs itself at step 7
    /// (its last checkpoint: step 6) and mpirun ends the job; with SSL_MPI_RESUME_PHASE=resume,
    /// every rank resumes from that checkpoint and must end with the weights, probes and kNN
    /// queue of an uninterrupted run of the same ranks, bit for bit.
    func testMPIResumeAfterAKilledJob() throws {
        let c = try launchedCommunicator()
        let environment = ProcessInfo.processInfo.environment
        guard let phase = environment["SSL_MPI_RESUME_PHASE"], let directory = environment["SSL_MPI_RESUME_DIR"] else {
            throw XCTSkip("set SSL_MPI_RESUME_PHASE=kill, then =resume, and SSL_MPI_RESUME_DIR (the first launch is meant to die)")
        }
        switch phase {
        case "kill":
            _ = try MonitorScenario.run(communicator: c, epochs: 3, checkpointing: .init(directory: directory + "/killed", killAtStep: 7))
            XCTFail("unreachable: rank 0 should have been killed at step 7")
        case "resume":
            let resumed = try MonitorScenario.run(communicator: c, epochs: 3, checkpointing: .init(directory: directory + "/killed", resume: true))
            let uninterrupted = try MonitorScenario.run(communicator: c, epochs: 3, checkpointing: .init(directory: directory + "/uninterrupted"))
            XCTAssertEqual(resumed.trainingBatches, 6, "resumed after step 6, the last checkpoint of the killed job")
            XCTAssertEqual(resumed.moduleWeights, uninterrupted.moduleWeights, "rank \(c.rank): module state")
            XCTAssertEqual(resumed.probeWeights, uninterrupted.probeWeights, "rank \(c.rank): probes")
            XCTAssertEqual(resumed.knnBank, uninterrupted.knnBank, "rank \(c.rank): kNN queue")
            print("resume ranks=\(c.worldSize) rank=\(c.rank) batches-after-resume=\(resumed.trainingBatches) identical=\(resumed.moduleWeights == uninterrupted.moduleWeights)")
        default:
            XCTFail("SSL_MPI_RESUME_PHASE must be kill or resume, got \(phase)")
        }
    }

    /// Run only when SSL_MPI_ABORT_CHECK=1 (by .ci/run, which expects a non-zero exit soon):
    /// rank 1 fails in its third step; the job must end with its error, not hang.
    func testMPIFailureOnOneRankEndsTheJob() throws {
        let c = try launchedCommunicator()
        guard ProcessInfo.processInfo.environment["SSL_MPI_ABORT_CHECK"] == "1" else {
            throw XCTSkip("set SSL_MPI_ABORT_CHECK=1 to run (the job is meant to abort)")
        }
        struct InjectedFailure: Error, CustomStringConvertible { var description: String { "injected failure on rank 1" } }
        let dataset = InMemoryImageDataset(name: "zeros", channels: 1, height: 2, width: 2, pixels: [UInt8](repeating: 1, count: 4 * 40),
                                           labels: Array(repeating: 0, count: 40), classCount: 1)
        let loader = DataLoader(dataset, batchSize: 4, seed: 0, workers: 0)
        struct Parts { let linear = Linear(4, 2) }
        var step = 0
        let rank = c.rank
        let module = SSLModule(Parts(), optimizer: .sgd(learningRate: 0.1)) { m, batch, _ in
            step += 1
            if rank == 1 && step == 3 { throw InjectedFailure() }
            var out = batch
            out["loss"] = m.linear(batch["image"].flatten()).pow(2).mean()
            return out
        }
        let trainer = Trainer(maxEpochs: 1, numSanityValSteps: 0, enableProgressBar: false, enableCheckpointing: false,
                              enableLogging: false, strategy: .dataParallel(c))
        try trainer.fit(module, train: loader)
        XCTFail("unreachable: the job should have been aborted")
    }
}

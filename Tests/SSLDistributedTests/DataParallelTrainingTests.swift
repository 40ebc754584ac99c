import SSLData
import SSLDistributed
import SSLNN
import SSLTensor
import SSLTestSupport
import XCTest

/// Data-parallel training on ranks that are threads: the sampler's shards, the bucketed
/// gradient average, and N ranks with B/N images following one process with B.
final class DataParallelTrainingTests: XCTestCase {
    func testShardsOfALoaderAreEqualContiguousPartsOfEachGlobalBatch() throws {
        let dataset = InMemoryImageDataset(name: "ramp", channels: 1, height: 2, width: 2, pixels: (0..<40).map { UInt8($0 * 5) },
                                           labels: Array(repeating: 0, count: 10), classCount: 1)
        let loader = DataLoader(dataset, batchSize: 6, seed: 4, workers: 0)
        let full = loader.batch(epoch: 1, index: 0)
        let parts = try (0..<3).map { rank -> Batch in
            let shard = try loader.shard(rank, of: 3)
            XCTAssertEqual(shard.batchesPerEpoch, loader.batchesPerEpoch)
            return try XCTUnwrap(shard.batches(epoch: 1, startingAt: 0).next())
        }
        XCTAssertEqual(parts.flatMap { $0[integers: "sample_idx"].scalars }, full[integers: "sample_idx"].scalars)
        XCTAssertEqual(parts.flatMap { $0["image"].scalars }, full["image"].scalars, "same pixels, same augmentations")
        XCTAssertThrowsError(try loader.shard(0, of: 4)) { error in
            XCTAssertTrue("\(error)".contains("batch size 6 does not divide over 4 ranks"), "\(error)")
        }
    }

    func testGradientSynchronizerAveragesInBucketsStartedDuringBackward() {
        let results = LocalGroupCommunicator.run(worldSize: 3) { c -> ([Float], Int, Int) in
            let a = Tensor(shape: [4], scalars: [1, 2, 3, 4]).requiringGrad()
            let b = Tensor(shape: [2], scalars: [5, 6]).requiringGrad()
            let unused = Tensor(shape: [1], scalars: [0]).requiringGrad()
            let synchronizer = GradientSynchronizer(parameters: [unused, a, b], communicator: c, bucketBytes: 16)
            let scale = Float(c.rank + 1)
            ((a * a).sum() * scale + (b * scale).sum()).backward(onLeafGradientReady: synchronizer.gradientReady)
            let started = synchronizer.bucketsStartedDuringBackward
            synchronizer.finish()
            return ((a.grad?.scalars ?? []) + (b.grad?.scalars ?? []) + [unused.grad == nil ? -1 : 0],
                    synchronizer.buckets.count, started)
        }
        // mean over ranks of (r + 1) = 2: a's gradient 2·2a, b's 2.
        for (gradients, buckets, started) in results {
            XCTAssertEqual(gradients, [4, 8, 12, 16, 2, 2, -1])
            XCTAssertEqual(buckets, 3, "16-byte buckets in reverse order: [b], [a], [unused]")
            XCTAssertEqual(started, 2, "the buckets of a and b start during backward; the unused one in finish()")
        }
    }

    func testThreadRanksFollowTheSingleProcessTrajectory() throws {
        for method in [DataParallelScenario.Method.simclr, .byol] {
            let reference = try DataParallelScenario.run(method, communicator: SingleProcessCommunicator(), steps: 6)
            XCTAssertEqual(reference.losses.count, 6)
            for worldSize in [2, 3] {
                let outcomes = try LocalGroupCommunicator.run(worldSize: worldSize) { c in
                    try DataParallelScenario.run(method, communicator: c, steps: 6)
                }
                for (rank, outcome) in outcomes.enumerated() {
                    let lossDifference = DataParallelScenario.relativeDifference(outcome.losses, reference.losses)
                    let weightDifference = DataParallelScenario.relativeDifference(outcome.weights, reference.weights)
                    XCTAssertLessThan(lossDifference, 1e-4, "\(method) \(worldSize) ranks, rank \(rank): losses \(outcome.losses) vs \(reference.losses)")
                    XCTAssertLessThan(weightDifference, 1e-4, "\(method) \(worldSize) ranks, rank \(rank): final weights")
                }
            }
        }
    }
}

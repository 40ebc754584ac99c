import Foundation
import SSLData
import SSLTensor
import SSLTraining
import XCTest

/// A sample that cannot be read (a streamed file damaged after the load): the loader's
/// throwing iteration delivers the batches before it, then throws its error, then stops; the
/// Trainer's fit ends with that error.
final class LoaderFailureTests: XCTestCase {
    /// Twelve 1 × 2 × 2 images valued by index; reading `failing` throws.
    private struct Failing: Dataset {
        let failing: Int
        var count: Int { 12 }
        func sample(at index: Int) -> Sample {
            Sample(image: Image(channels: 1, height: 2, width: 2, pixels: [Float](repeating: Float(index) / 16, count: 4)),
                   label: index % 2, index: index)
        }
        func loadSample(at index: Int) throws -> Sample {
            if index == failing { throw DatasetError(path: "photos/broken-\(index).jpg", problem: "is a truncated JPEG") }
            return sample(at: index)
        }
    }

    func testTheBatchesBeforeAFailureComeThenItsErrorThenNothingForAnyWorkerCount() throws {
        for workers in [0, 1, 3] {
            let loader = DataLoader(Failing(failing: 7), batchSize: 2, shuffle: false, dropLast: false, workers: workers)
            var iterator: ThrowingBatchIterator? = loader.throwingBatches(epoch: 0, startingAt: 0)
            var delivered: [[Int]] = []
            var failure: Error?
            do {
                while let batch = try iterator?.next() { delivered.append(batch[integers: "sample_idx"].scalars) }
            } catch {
                failure = error
            }
            XCTAssertEqual(delivered, [[0, 1], [2, 3], [4, 5]], "workers \(workers): the batches before the failing one, in order")
            XCTAssertEqual(failure as? DatasetError, DatasetError(path: "photos/broken-7.jpg", problem: "is a truncated JPEG"),
                           "workers \(workers)")
            XCTAssertNil(try iterator?.next(), "workers \(workers): nothing after the failure")
            iterator = nil
            XCTAssertEqual(loader.runningWorkerThreads, 0, "workers \(workers): the threads stopped with the iterator")
        }
        // Starting after the failing batch reads nothing that fails.
        let resumed = DataLoader(Failing(failing: 7), batchSize: 2, shuffle: false, dropLast: false, workers: 2)
            .throwingBatches(epoch: 0, startingAt: 4)
        var count = 0
        while try resumed.next() != nil { count += 1 }
        XCTAssertEqual(count, 2)
    }

    func testAFitEndsWithTheErrorOfASampleThatCannotBeRead() throws {
        struct Parts {}
        let seen = Counter()
        let module = SSLModule(Parts(), optimizer: .sgd(learningRate: 0.1, momentum: 0)) { _, batch, _ in
            var out = batch
            out["loss"] = batch["image"].mean()
            seen.count += 1
            return out
        }
        let directory = NSTemporaryDirectory() + "loader-failure-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let trainer = Trainer(maxEpochs: 2, numSanityValSteps: 0, rootDirectory: directory, enableProgressBar: false,
                              enableCheckpointing: false)
        let loader = DataLoader(Failing(failing: 9), batchSize: 3, shuffle: false, workers: 2)
        XCTAssertThrowsError(try trainer.fit(module, train: loader)) { error in
            XCTAssertTrue(error is DatasetError, "\(error)")
            XCTAssertEqual(error as? DatasetError, DatasetError(path: "photos/broken-9.jpg", problem: "is a truncated JPEG"))
        }
        XCTAssertEqual(seen.count, 3, "the three batches before the one holding image 9 were trained on")
        XCTAssertEqual(loader.runningWorkerThreads, 0)
    }
}

private final class Counter: @unchecked Sendable {
    var count = 0
}

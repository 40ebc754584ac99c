import SSLData
import SSLTensor
import SSLTestSupport
import SSLTraining
import XCTest

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The DataLoader: identical output for any number of workers, exact resumption mid-epoch,
/// view-major collation, seeded shuffling, drop-last, and worker threads that stop when the
/// iterator is dropped; `foldViews` inverting the collation.
final class LoaderTests: XCTestCase {
    /// 23 random 1 × 10 × 10 images with labels i mod 4.
    private let dataset: InMemoryImageDataset = {
        var generator = RandomGenerator(seed: 5)
        let pixels = (0..<(23 * 100)).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        return InMemoryImageDataset(name: "random", channels: 1, height: 10, width: 10, pixels: pixels,
                                    labels: (0..<23).map { $0 % 4 }, classCount: 4)
    }()

    private let augment: any ImageTransform = Compose([
        RandomResizedCrop(size: 8),
        RandomHorizontalFlip(),
        RandomApply([ColorJitter(brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.1)], p: 0.8),
        GaussianBlur(kernelSize: 3, sigma: 0.1...2.0, p: 0.5),
    ])

    private func loader(workers: Int, views: Int = 2, batchSize: Int = 4, dropLast: Bool = false, seed: UInt64 = 3,
                        prefetch: Int? = nil) -> DataLoader {
        DataLoader(dataset, batchSize: batchSize, views: MultiViewTransform(augment, count: views), shuffle: true,
                   dropLast: dropLast, seed: seed, workers: workers, prefetch: prefetch)
    }

    private func contents(_ batches: AnyIterator<Batch>) -> [[Float]] {
        batches.map { batch in
            batch["image"].scalars + batch[integers: "label"].scalars.map(Float.init) + batch[integers: "sample_idx"].scalars.map(Float.init)
        }
    }

    func testOutputIsIdenticalWith0And1And3Workers() {
        let reference = contents(loader(workers: 0).batches(epoch: 2, startingAt: 0))
        XCTAssertEqual(reference.count, 6)
        XCTAssertEqual(contents(loader(workers: 1).batches(epoch: 2, startingAt: 0)), reference)
        XCTAssertEqual(contents(loader(workers: 3).batches(epoch: 2, startingAt: 0)), reference)
        XCTAssertEqual(contents(loader(workers: 3, prefetch: 1).batches(epoch: 2, startingAt: 0)), reference)
        XCTAssertNotEqual(contents(loader(workers: 0).batches(epoch: 3, startingAt: 0)), reference, "another epoch differs")
        XCTAssertNotEqual(contents(loader(workers: 0, seed: 4).batches(epoch: 2, startingAt: 0)), reference, "another seed differs")
    }

    func testStartingAtBatchKYieldsTheRestOfAnUninterruptedEpoch() {
        let full = contents(loader(workers: 0).batches(epoch: 1, startingAt: 0))
        for start in [0, 1, 4, 6] {
            XCTAssertEqual(contents(loader(workers: 2).batches(epoch: 1, startingAt: start)), Array(full[start...]), "start \(start)")
        }
        let single = loader(workers: 0).batch(epoch: 1, index: 3)
        XCTAssertEqual(single["image"].scalars + single[integers: "label"].scalars.map(Float.init)
                        + single[integers: "sample_idx"].scalars.map(Float.init), full[3])
    }

    func testBatchesHoldViewMajorViewsOfBatchSizeImages() {
        let source = loader(workers: 0, views: 3, batchSize: 5)
        XCTAssertEqual(source.batchesPerEpoch, 5)
        let batch = source.batch(epoch: 0, index: 1)
        XCTAssertEqual(batch["image"].shape, [15, 1, 8, 8], "batch size counts images: 5 images × 3 views")
        let indices = batch[integers: "sample_idx"].scalars
        let order = source.order(epoch: 0)
        XCTAssertEqual(Array(indices[0..<5]), Array(order[5..<10]))
        XCTAssertEqual(Array(indices[5..<10]), Array(indices[0..<5]))
        XCTAssertEqual(Array(indices[10..<15]), Array(indices[0..<5]))
        XCTAssertEqual(batch[integers: "label"].scalars, indices.map { $0 % 4 })
        // Row v·B + b is view v of sample b, augmented from (seed, epoch, sample, view).
        let images = batch["image"].scalars
        for row in 0..<15 {
            let view = row / 5, sample = indices[row]
            let expected = MultiViewTransform(augment, count: 3).views(of: dataset.image(at: sample), seed: 3, epoch: 0, sampleIndex: sample)[view]
            XCTAssertEqual(Array(images[(row * 64)..<((row + 1) * 64)]), expected.pixels, "row \(row)")
        }
    }

    func testSingleViewLoaderYieldsPlainImageBatches() {
        let plain = DataLoader(dataset, batchSize: 8, shuffle: false, dropLast: true, workers: 0)
        XCTAssertEqual(plain.viewCount, 1)
        let batches = Array(plain.batches(epoch: 0, startingAt: 0))
        XCTAssertEqual(batches.count, 2)
        XCTAssertEqual(batches[1]["image"].shape, [8, 1, 10, 10])
        XCTAssertEqual(batches[1][integers: "sample_idx"].scalars, Array(8..<16))
        assertClose(batches[1]["image"], dataset.imageTensor(indices: Array(8..<16)), rtol: 0, atol: 0)
    }

    func testShuffleIsSeededPerEpochAndVisitsEveryIndexOnce() {
        let source = loader(workers: 0)
        let first = source.order(epoch: 0)
        XCTAssertEqual(first.sorted(), Array(0..<23))
        XCTAssertEqual(source.order(epoch: 0), first)
        XCTAssertNotEqual(source.order(epoch: 1), first)
        XCTAssertNotEqual(loader(workers: 0, seed: 9).order(epoch: 0), first)
        XCTAssertNotEqual(first, Array(0..<23))
        let unshuffled = DataLoader(dataset, batchSize: 4, shuffle: false, workers: 0)
        XCTAssertEqual(unshuffled.order(epoch: 5), Array(0..<23))
        let seen = Array(loader(workers: 2).batches(epoch: 0, startingAt: 0)).flatMap { $0[integers: "sample_idx"].scalars.prefix($0[integers: "sample_idx"].count / 2) }
        XCTAssertEqual(seen.sorted(), Array(0..<23), "without drop-last every sample appears once per epoch")
    }

    func testDropLastLeavesOutTheLastPartialBatch() {
        XCTAssertEqual(loader(workers: 0, batchSize: 5, dropLast: true).batchesPerEpoch, 4)
        let keep = loader(workers: 0, batchSize: 5, dropLast: false)
        XCTAssertEqual(keep.batchesPerEpoch, 5)
        let batches = Array(keep.batches(epoch: 0, startingAt: 0))
        XCTAssertEqual(batches.map { $0["image"].shape[0] }, [10, 10, 10, 10, 6])
        XCTAssertEqual(Array(loader(workers: 2, batchSize: 5, dropLast: true).batches(epoch: 0, startingAt: 0)).count, 4)
        XCTAssertEqual(Array(keep.batches(epoch: 0, startingAt: 5)).count, 0)
    }

    func testDroppedIteratorStopsItsWorkerThreads() {
        let source = loader(workers: 3, batchSize: 2, prefetch: 3)
        do {
            let iterator = source.batches(epoch: 0, startingAt: 0)
            XCTAssertNotNil(iterator.next())
            XCTAssertEqual(source.runningWorkerThreads, 3)
        }
        XCTAssertEqual(source.runningWorkerThreads, 0, "dropping the iterator joins its threads")
        // Running to the end lets the workers finish on their own.
        let all = Array(source.batches(epoch: 0, startingAt: 0))
        XCTAssertEqual(all.count, 12)
        var waited = 0
        while source.runningWorkerThreads > 0 && waited < 200 {
            usleep(10_000)
            waited += 1
        }
        XCTAssertEqual(source.runningWorkerThreads, 0)
    }

    func testExtraSampleValuesAreCollatedAlongside() {
        let withCoarse = InMemoryImageDataset(name: "aux", channels: 1, height: 2, width: 2, pixels: Array(repeating: 7, count: 12),
                                              labels: [0, 1, 2], classCount: 3, auxiliaryLabels: ["coarse_label": [5, 6, 7]])
        let source = DataLoader(withCoarse, batchSize: 3, views: MultiViewTransform(Compose([]), count: 2), shuffle: false, workers: 0)
        let batch = source.batch(epoch: 0, index: 0)
        XCTAssertEqual(batch[integers: "coarse_label"].scalars, [5, 6, 7, 5, 6, 7])
        XCTAssertEqual(batch[integers: "label"].scalars, [0, 1, 2, 0, 1, 2])
    }

    // MARK: - foldViews

    func testFoldViewsInvertsCollation() {
        let source = loader(workers: 0, views: 3, batchSize: 6)
        let batch = source.batch(epoch: 0, index: 2)
        let images = batch["image"]
        let views = foldViews(images, sampleIndex: batch[integers: "sample_idx"])
        XCTAssertEqual(views.count, 3)
        for (view, tensor) in views.enumerated() {
            XCTAssertEqual(tensor.shape, [6, 1, 8, 8])
            XCTAssertEqual(tensor.scalars, images.slice(axis: 0, (view * 6)..<((view + 1) * 6)).scalars)
        }
        // The float overload (as `batch["sample_idx"]` reads) agrees.
        let viaFloat = foldViews(images, sampleIndex: batch["sample_idx"])
        XCTAssertEqual(viaFloat.map(\.scalars), views.map(\.scalars))
        // Rows in any order: grouped by sample in order of first appearance, aligned by sample.
        let rows = Tensor(shape: [6, 1], scalars: [10, 20, 11, 30, 21, 31])
        let folded = foldViews(rows, sampleIndex: IntTensor([4, 8, 4, 2, 8, 2]))
        XCTAssertEqual(folded.map(\.scalars), [[10, 20, 30], [11, 21, 31]])
        XCTAssertEqual(foldViews(Tensor.zeros([0, 3]), sampleIndex: IntTensor([])).count, 0)
    }

    func testFoldViewsIsDifferentiable() {
        let x = Tensor(shape: [6, 2], scalars: (0..<12).map(Float.init)).requiringGrad()
        let views = foldViews(x, sampleIndex: IntTensor([5, 9, 7, 5, 9, 7]))
        (views[0] + views[1] * 2).sum().backward()
        XCTAssertEqual(x.grad?.scalars, [1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2])
        checkGradients([testTensor([4, 3], seed: 1)]) { inputs in
            let folded = foldViews(inputs[0], sampleIndex: IntTensor([1, 0, 1, 0]))
            return folded[0] * folded[1]
        }
    }
}

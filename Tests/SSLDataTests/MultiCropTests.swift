import SSLData
import SSLTensor
import XCTest

/// Multi-crop: views of two sizes in one batch, one tensor per size with its own sample and
/// view indices, every crop a function of (seed, epoch, sample, view), and `foldViews` on each.
final class MultiCropTests: XCTestCase {
    /// 11 random 1 × 10 × 10 images with labels i mod 3 and an extra integer per image.
    private let dataset: InMemoryImageDataset = {
        var generator = RandomGenerator(seed: 8)
        let pixels = (0..<(11 * 100)).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        return InMemoryImageDataset(name: "random", channels: 1, height: 10, width: 10, pixels: pixels,
                                    labels: (0..<11).map { $0 % 3 }, classCount: 3,
                                    auxiliaryLabels: ["coarse_label": (0..<11).map { 100 + $0 }])
    }()

    private let crops = MultiViewTransform(
        [Compose([RandomResizedCrop(size: 8, scale: 0.4...1), RandomHorizontalFlip()]),
         Compose([RandomResizedCrop(size: 8, scale: 0.4...1), RandomHorizontalFlip()])],
        local: Array(repeating: Compose([RandomResizedCrop(size: 4, scale: 0.05...0.4), RandomHorizontalFlip()]), count: 3))

    private func loader(workers: Int, seed: UInt64 = 4) -> DataLoader {
        DataLoader(dataset, batchSize: 4, views: crops, shuffle: true, dropLast: true, seed: seed, workers: workers)
    }

    func testAMultiCropBatchHoldsOneTensorPerCropSizeEachWithItsIndices() {
        XCTAssertEqual(crops.viewCount, 5)
        XCTAssertEqual(crops.groups.map(\.name), ["", "local"])
        XCTAssertEqual(crops.groupViews, [0..<2, 2..<5])
        let batch = loader(workers: 0).batch(epoch: 1, index: 1)
        XCTAssertEqual(batch.keys, ["coarse_label", "coarse_label_local", "image", "image_local", "label", "label_local",
                                    "sample_idx", "sample_idx_local", "view_idx", "view_idx_local"])
        XCTAssertEqual(batch["image"].shape, [8, 1, 8, 8], "4 images × 2 global crops")
        XCTAssertEqual(batch["image_local"].shape, [12, 1, 4, 4], "4 images × 3 local crops")
        let samples = Array(loader(workers: 0).order(epoch: 1)[4..<8])
        XCTAssertEqual(batch[integers: "sample_idx"].scalars, samples + samples)
        XCTAssertEqual(batch[integers: "sample_idx_local"].scalars, samples + samples + samples)
        XCTAssertEqual(batch[integers: "view_idx"].scalars, [0, 0, 0, 0, 1, 1, 1, 1])
        XCTAssertEqual(batch[integers: "view_idx_local"].scalars, [2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4])
        XCTAssertEqual(batch[integers: "label_local"].scalars, (samples + samples + samples).map { $0 % 3 })
        XCTAssertEqual(batch[integers: "coarse_label_local"].scalars, (samples + samples + samples).map { 100 + $0 })

        // foldViews works on each group: views aligned by sample, in the same sample order.
        let globals = foldViews(batch["image"], sampleIndex: batch[integers: "sample_idx"])
        let locals = foldViews(batch["image_local"], sampleIndex: batch[integers: "sample_idx_local"])
        XCTAssertEqual(globals.map(\.shape), [[4, 1, 8, 8], [4, 1, 8, 8]])
        XCTAssertEqual(locals.map(\.shape), [[4, 1, 4, 4], [4, 1, 4, 4], [4, 1, 4, 4]])
        XCTAssertEqual(locals[1].scalars, batch["image_local"].slice(axis: 0, 4..<8).scalars)
    }

    func testEveryCropIsAFunctionOfSeedEpochSampleAndView() {
        let batch = loader(workers: 0).batch(epoch: 2, index: 0)
        for (key, suffix, size) in [("image", "", 8), ("image_local", "_local", 4)] {
            let images = batch[key].scalars, plane = size * size
            let samples = batch[integers: "sample_idx" + suffix].scalars, views = batch[integers: "view_idx" + suffix].scalars
            for row in samples.indices {
                let expected = crops.views(of: dataset.image(at: samples[row]), seed: 4, epoch: 2, sampleIndex: samples[row])[views[row]]
                XCTAssertEqual(Array(images[(row * plane)..<((row + 1) * plane)]), expected.pixels, "\(key) row \(row)")
            }
        }
        // The same with worker threads, from a fresh loader; another epoch or seed differs.
        let threaded = Array(loader(workers: 2).batches(epoch: 2, startingAt: 0))[0]
        for key in batch.keys { XCTAssertEqual(threaded[key].scalars, batch[key].scalars, key) }
        XCTAssertNotEqual(loader(workers: 0).batch(epoch: 3, index: 0)["image_local"].scalars, batch["image_local"].scalars)
        XCTAssertNotEqual(loader(workers: 0, seed: 5).batch(epoch: 2, index: 0)["image_local"].scalars, batch["image_local"].scalars)
    }

    func testOneGroupKeepsTheSingleSizeKeys() {
        let single = DataLoader(dataset, batchSize: 4, views: MultiViewTransform(Compose([]), count: 2), workers: 0)
        XCTAssertEqual(single.batch(epoch: 0, index: 0).keys, ["coarse_label", "image", "label", "sample_idx"])
        XCTAssertEqual(MultiViewTransform([Compose([])], local: []).groups.count, 1, "no local crops: no local group")
        let views = [[Sample]](repeating: (0..<3).map { dataset.sample(at: $0) }, count: 2)
        let plain = Collation.collate(views: views), grouped = Collation.collate(views: views, groups: single.views.groups)
        XCTAssertEqual(grouped.keys, plain.keys)
        for key in plain.keys { XCTAssertEqual(grouped[key].scalars, plain[key].scalars, key) }
    }
}

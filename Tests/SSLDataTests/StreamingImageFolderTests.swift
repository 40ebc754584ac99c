import Foundation
import SSLData
import SSLTensor
import SSLTraining
import XCTest

/// Image folders above the memory budget: streamed images byte for byte the in-memory ones,
/// the automatic choice and its summary, headers checked at the load, and a file damaged after
/// the load ending iteration and a fit with an error that names it.
final class StreamingImageFolderTests: XCTestCase {
    private var directory: TemporaryDirectory!

    override func setUpWithError() throws { directory = try TemporaryDirectory("streaming") }
    override func tearDown() { directory.remove() }

    @discardableResult
    private func put(_ bytes: [UInt8], at relative: String) throws -> String {
        let path = directory.file(relative)
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// Twelve photo-like files of different sizes and kinds (PNG, baseline and progressive JPEG,
    /// one EXIF-rotated) in two class folders.
    private func writePhotos(_ folder: String) throws {
        for index in 0..<12 {
            let width = 18 + index % 5 * 7, height = 14 + index % 4 * 9
            let pixels = ImageFixtures.photoLike(width: width, height: height, seed: UInt64(index + 40))
            let bytes: [UInt8]
            switch index % 3 {
            case 0: bytes = try ImageEncoder.png(rows: pixels, width: width, height: height, color: .rgb)
            case 1: bytes = try ImageEncoder.jpeg(pixels: pixels, width: width, height: height, components: 3, progressive: index % 2 == 0)
            default:
                bytes = try ImageEncoder.jpeg(pixels: pixels, width: width, height: height, components: 3,
                                              app1: ImageFixtures.exifBlock(orientation: 6, bigEndian: index % 2 == 0))
            }
            try put(bytes, at: "\(folder)/\(index % 2 == 0 ? "even" : "odd")/\(index).\(index % 3 == 0 ? "png" : "jpg")")
        }
    }

    // MARK: - Streaming is the in-memory load, decoded later

    func testStreamedImagesAndBatchesAreByteForByteTheInMemoryOnes() throws {
        try writePhotos("photos")
        for channels in [1, 3] {
            let memory = try ImageFolder.load(directory: directory.file("photos"), imageSize: 12, channels: channels, storage: .inMemory)
            let streamed = try ImageFolder.load(directory: directory.file("photos"), imageSize: 12, channels: channels, storage: .streaming)
            XCTAssertFalse(memory.isStreaming)
            XCTAssertTrue(streamed.isStreaming)
            XCTAssertTrue(streamed.images is StreamingImageDataset)
            XCTAssertEqual(streamed.paths, memory.paths)
            XCTAssertEqual(streamed.classNames, ["even", "odd"])
            XCTAssertEqual(streamed.images.labels, memory.images.labels)
            XCTAssertEqual([streamed.count, streamed.channels, streamed.imageSize], [12, channels, 12])
            for index in 0..<memory.count {
                XCTAssertEqual(try streamed.images.imageBytes(at: index), memory.dataset.imageBytes(at: index),
                               "image \(index), \(channels) channel(s)")
                XCTAssertEqual(try streamed.loadSample(at: index).image.pixels, memory.sample(at: index).image.pixels)
            }
            // Through the loader, with augmentations and workers: the same batches.
            let views = MultiViewTransform(Compose([RandomResizedCrop(size: 8), RandomHorizontalFlip()]), count: 2)
            func batches(_ folder: ImageFolder) throws -> [[Float]] {
                let iterator = DataLoader(folder.images, batchSize: 5, views: views, seed: 9, workers: 2).throwingBatches(epoch: 1, startingAt: 0)
                var all: [[Float]] = []
                while let batch = try iterator.next() { all.append(batch["image"].scalars + batch[integers: "label"].scalars.map(Float.init)) }
                return all
            }
            XCTAssertEqual(try batches(streamed), try batches(memory))
            // Subsets keep files and labels.
            let part = streamed.images.subset([11, 0])
            XCTAssertEqual(try part.imageBytes(at: 0), memory.dataset.imageBytes(at: 11))
            XCTAssertEqual(part.labels, [memory.images.labels[11], memory.images.labels[0]])
        }
    }

    // MARK: - The choice

    func testAFolderAboveTheBudgetStreamsAndTheSummarySaysWhy() throws {
        try writePhotos("photos")
        let path = directory.file("photos")
        let streamed = try ImageFolder.load(directory: path, imageSize: 10, channels: 3, memoryBudget: 3_599)
        XCTAssertTrue(streamed.isStreaming)
        XCTAssertEqual(streamed.streamingReason, "streaming: 3 kB decoded would exceed the memory budget of 3 kB")
        XCTAssertTrue(streamed.summary.hasPrefix("photos: 12 images in 2 classes (3×10×10, streaming: 3 kB decoded would exceed"),
                      streamed.summary)
        let fits = try ImageFolder.load(directory: path, imageSize: 10, channels: 3, memoryBudget: 3_600)
        XCTAssertFalse(fits.isStreaming, "12 × 300 bytes is within 3600")
        XCTAssertTrue(fits.summary.hasPrefix("photos: 12 images in 2 classes (3×10×10, 3 kB)"), fits.summary)
        XCTAssertFalse(try ImageFolder.load(directory: path, imageSize: 10).isStreaming, "half this machine's memory is plenty")
        let asked = try ImageFolder.load(directory: path, imageSize: 10, storage: .streaming)
        XCTAssertEqual(asked.streamingReason, "streaming, as asked: 3 kB decoded")
        XCTAssertThrowsError(try ImageFolder.load(directory: path, imageSize: 10, storage: .inMemory, memoryBudget: 3_599)) { error in
            XCTAssertTrue("\(error)".contains("more than the memory budget of 3 kB"), "\(error)")
            XCTAssertTrue("\(error)".contains("stream the files (storage: .automatic)"), "\(error)")
        }
        XCTAssertEqual(ImageFolder.streamingReason(imageCount: 1_000_000, imageSize: 224, channels: 3, storage: .automatic,
                                                   memoryBudget: 8 << 30),
                       "streaming: 140.2 GiB decoded would exceed the memory budget of 8.0 GiB")
        XCTAssertNil(ImageFolder.streamingReason(imageCount: 1_000_000, imageSize: 224, channels: 3, storage: .inMemory, memoryBudget: 1))
    }

    // MARK: - Bad files

    func testHeadersAreCheckedAtTheLoadAndDamageBeyondThemShowsWhenDecoded() throws {
        let good = try ImageEncoder.png(rows: [UInt8](repeating: 40, count: 8 * 8 * 3), width: 8, height: 8, color: .rgb)
        let jpeg = try ImageEncoder.jpeg(pixels: ImageFixtures.photoLike(width: 160, height: 120, seed: 3), width: 160, height: 120,
                                         components: 3)
        try put(good, at: "mixed/a-good.png")
        try put([], at: "mixed/b-empty.png")
        try put(Array(good.prefix(good.count - 20)), at: "mixed/c-truncated.png")    // header intact
        try put(Array(jpeg.prefix(jpeg.count / 2)), at: "mixed/d-truncated.jpg")     // header intact
        try put(Array("not an image at all".utf8), at: "mixed/e-text.jpeg")
        var corrupt = good
        corrupt[16] ^= 0xFF  // inside IHDR: its CRC fails
        try put(corrupt, at: "mixed/f-corrupt.png")
        try put(Array(good.prefix(40)), at: "mixed/i-header-only.png")
        try put(jpeg, at: "mixed/j-good.jpg")
        let path = directory.file("mixed")

        XCTAssertThrowsError(try ImageFolder.load(directory: path, imageSize: 4, storage: .streaming, threads: 1)) { error in
            XCTAssertEqual((error as? DatasetError)?.path, directory.file("mixed/b-empty.png"), "\(error)")
            XCTAssertTrue("\(error)".contains("is empty (0 bytes)") && "\(error)".contains("--skip-bad-files"), "\(error)")
        }
        let folder = try ImageFolder.load(directory: path, imageSize: 4, skipBadFiles: true, storage: .streaming)
        let skipped = Dictionary(uniqueKeysWithValues: folder.skippedFiles.map { (($0.path as NSString).lastPathComponent, $0.problem) })
        XCTAssertEqual(skipped.keys.sorted(), ["b-empty.png", "e-text.jpeg", "f-corrupt.png", "i-header-only.png"])
        XCTAssertTrue(skipped["f-corrupt.png"]?.hasPrefix("is a corrupt PNG") == true, "\(skipped)")
        XCTAssertTrue(skipped["i-header-only.png"]?.hasPrefix("is a truncated PNG") == true, "\(skipped)")
        XCTAssertEqual(folder.paths.map { ($0 as NSString).lastPathComponent },
                       ["a-good.png", "c-truncated.png", "d-truncated.jpg", "j-good.jpg"])
        XCTAssertEqual(try folder.images.imageBytes(at: 0), [UInt8](repeating: 40, count: 48))
        for (index, name, kind) in [(1, "c-truncated.png", "is a truncated PNG"), (2, "d-truncated.jpg", "is a truncated JPEG")] {
            XCTAssertThrowsError(try folder.loadSample(at: index)) { error in
                guard let error = error as? DatasetError else { return XCTFail("\(error)") }
                XCTAssertEqual(error.path, directory.file("mixed/\(name)"))
                XCTAssertTrue(error.problem.hasPrefix(kind), error.problem)
                XCTAssertTrue(error.problem.contains("found while streaming"), error.problem)
            }
        }
    }

    func testAFileDamagedAfterTheLoadEndsIterationAndTheFitWithAnErrorNamingIt() throws {
        try writePhotos("photos")
        let folder = try ImageFolder.load(directory: directory.file("photos"), imageSize: 8, channels: 1, memoryBudget: 10)
        XCTAssertTrue(folder.isStreaming)
        let damaged = folder.paths[5]
        let bytes = try Data(contentsOf: URL(fileURLWithPath: damaged))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: damaged))

        let loader = DataLoader(folder.images, batchSize: 4, shuffle: false, dropLast: false, workers: 2)
        let iterator = loader.throwingBatches(epoch: 0, startingAt: 0)
        XCTAssertNotNil(try iterator.next(), "images 0–3 are intact")
        XCTAssertThrowsError(try iterator.next()) { error in
            XCTAssertEqual((error as? DatasetError)?.path, damaged, "\(error)")
        }

        struct Parts {}
        let module = SSLModule(Parts(), optimizer: .sgd(learningRate: 0.1, momentum: 0)) { _, batch, _ in
            var out = batch
            out["loss"] = batch["image"].mean()
            return out
        }
        let trainer = Trainer(maxEpochs: 1, numSanityValSteps: 0, rootDirectory: directory.file("runs"), enableProgressBar: false,
                              enableCheckpointing: false)
        XCTAssertThrowsError(try trainer.fit(module, train: DataLoader(folder.images, batchSize: 3, seed: 1, workers: 2))) { error in
            guard let error = error as? DatasetError else { return XCTFail("\(error)") }
            XCTAssertEqual(error.path, damaged)
            XCTAssertTrue(error.problem.contains("is a truncated") && error.problem.contains("remove or replace the file"), error.problem)
        }
    }

    // MARK: - Headers

    func testHeadersGiveTheStoredSizeAndALongJPEGHeaderIsReadWhole() throws {
        let pixels = ImageFixtures.photoLike(width: 30, height: 20, seed: 1)
        let png = try put(try ImageEncoder.png(rows: pixels, width: 30, height: 20, color: .rgb), at: "h/a.png")
        let pngHeader = try ImageDecoder.header(ofFile: png)
        XCTAssertEqual(pngHeader.format, .png)
        XCTAssertEqual([pngHeader.width, pngHeader.height, pngHeader.components], [30, 20, 3])
        // A 65 400-byte APP1 segment puts the frame header past the first 64 KiB read.
        let long = try ImageEncoder.jpeg(pixels: pixels, width: 30, height: 20, components: 3,
                                         app1: Array("http://ns.adobe.com/xap/1.0/\u{0}".utf8) + [UInt8](repeating: 32, count: 65_371))
        XCTAssertGreaterThan(long.count, 65_536)
        let jpeg = try put(long, at: "h/long.jpg")
        let jpegHeader = try ImageDecoder.header(ofFile: jpeg)
        XCTAssertEqual(jpegHeader.format, .jpeg)
        XCTAssertEqual([jpegHeader.width, jpegHeader.height, jpegHeader.components], [30, 20, 3])
        let cut = try put(Array(long.prefix(60_000)), at: "h/cut.jpg")
        XCTAssertThrowsError(try ImageDecoder.header(ofFile: cut)) { error in
            XCTAssertTrue((error as? DatasetError)?.problem.hasPrefix("is a truncated JPEG") == true, "\(error)")
        }
        XCTAssertThrowsError(try ImageDecoder.header(ofFile: directory.file("h/missing.png"))) { error in
            XCTAssertTrue((error as? DatasetError)?.problem.hasPrefix("cannot be opened") == true, "\(error)")
        }
        let huge = try put(try ImageEncoder.png(rows: [UInt8](repeating: 0, count: 64 * 64), width: 64, height: 64, color: .grey),
                           at: "h/huge.png")
        XCTAssertThrowsError(try ImageDecoder.header(ofFile: huge, maximumPixels: 4_000)) { error in
            XCTAssertTrue((error as? DatasetError)?.problem.hasPrefix("is a PNG too large to decode") == true, "\(error)")
        }
    }

    func testOnAThousandMutantsTheHeaderCheckRefusesOnlyWhatDecodingRefuses() throws {
        var originals: [(bytes: [UInt8], headerLength: Int)] = []
        for kind in ImageFixtures.PNGKind.allCases { originals.append((try ImageFixtures.png(kind).bytes, 33)) }
        let photo = ImageFixtures.photoLike(width: 24, height: 16, seed: 9)
        let cmyk = stride(from: 0, to: photo.count, by: 3).flatMap { [photo[$0], photo[$0 + 1], photo[$0 + 2], 200] as [UInt8] }
        originals += [
            (try ImageEncoder.jpeg(pixels: photo, width: 24, height: 16, components: 3), 200),
            (try ImageEncoder.jpeg(pixels: photo, width: 24, height: 16, components: 3, progressive: true), 200),
            (try ImageEncoder.jpeg(pixels: cmyk, width: 24, height: 16, components: 4, ycck: true), 200),
            (try ImageEncoder.jpeg(pixels: photo, width: 24, height: 16, components: 3,
                                   app1: ImageFixtures.exifBlock(orientation: 6, bigEndian: false)), 80),
        ]
        var generator = RandomGenerator(seed: 7)
        var refusedByHeader = 0, refusedByDecoding = 0
        for round in 0..<1_000 {
            let original = originals[round % originals.count]
            let mutated = Fixtures.mutate(original.bytes, generator: &generator, headerLength: original.headerLength)
            let headerError: DatasetError?, decodingError: DatasetError?
            do { _ = try ImageDecoder.header(of: mutated, path: "m", maximumPixels: 1 << 24); headerError = nil } catch let error as DatasetError { headerError = error }
            do { _ = try ImageDecoder.decode(mutated, channels: 3, maximumPixels: 1 << 24, path: "m"); decodingError = nil } catch let error as DatasetError { decodingError = error }
            if let headerError {
                refusedByHeader += 1
                XCTAssertNotNil(decodingError, "round \(round): the header check refused what decoding accepts: \(headerError)")
            }
            if decodingError != nil { refusedByDecoding += 1 }
        }
        XCTAssertGreaterThan(refusedByHeader, 200, "most mutations of the first bytes break the header")
        XCTAssertGreaterThanOrEqual(refusedByDecoding, refusedByHeader)
        print("mutated images: \(refusedByHeader) refused by the header check, \(refusedByDecoding) by decoding")
    }
}

import Foundation
import SSLData
import SSLTensor
import XCTest

/// `ImageFolder`: the walk (labels, order, hidden files, links, extensions), loading into the
/// byte store, bad files, the memory budget, threads and progress.
final class ImageFolderTests: XCTestCase {
    private var directory: TemporaryDirectory!

    override func setUpWithError() throws { directory = try TemporaryDirectory("image-folder") }
    override func tearDown() { directory.remove() }

    // MARK: - Helpers

    /// Writes `bytes` at `relative` under the test directory, creating folders.
    @discardableResult
    private func put(_ bytes: [UInt8], at relative: String) throws -> String {
        let path = directory.file(relative)
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    private func mkdir(_ relative: String) throws {
        try FileManager.default.createDirectory(atPath: directory.file(relative), withIntermediateDirectories: true)
    }

    private func link(_ relative: String, to destination: String) throws {
        try FileManager.default.createSymbolicLink(atPath: directory.file(relative), withDestinationPath: destination)
    }

    /// A solid-colour PNG or JPEG of the given size.
    private func solid(_ colour: [UInt8], width: Int, height: Int, jpeg: Bool = false) throws -> [UInt8] {
        let pixels = [UInt8]((0..<(width * height)).flatMap { _ in colour })
        let picture = DecodedImage(width: width, height: height, channels: colour.count, pixels: pixels)
        return jpeg ? try ImageEncoder.jpeg(picture, quality: 95) : try ImageEncoder.png(picture)
    }

    private func relative(_ paths: [String]) -> [String] {
        paths.map { String($0.dropFirst(directory.path.count + 1)) }
    }

    // MARK: - The walk

    func testLabelsComeFromSortedSubfoldersWithHiddenSkippedAndExtensionsInAnyCase() throws {
        let image = try solid([10, 20, 30], width: 4, height: 4)
        try put(image, at: "root/zebra/b.png")
        try put(image, at: "root/zebra/a.PNG")
        try put(image, at: "root/Apple/one.JPG")   // uppercase sorts before lowercase (byte order)
        try put(image, at: "root/apple/x.jpeg")
        try put(image, at: "root/apple/deeper/y.JpEg")
        try put(image, at: "root/apple/deeper-2/z.png")
        try put(image, at: "root/apple/.hidden.png")
        try put(image, at: "root/apple/notes.txt")
        try put(image, at: "root/apple/image.png.bak")
        try put(image, at: "root/.cache/c.png")
        try put(image, at: "root/loose.png")      // directly in a labelled folder: left out, as torchvision
        try mkdir("root/empty")                    // no images: not a class
        let listing = try ImageFolder.scan(directory: directory.file("root"))
        XCTAssertEqual(listing.classNames, ["Apple", "apple", "zebra"])
        XCTAssertTrue(listing.isLabelled)
        XCTAssertEqual(relative(listing.files), [
            "root/Apple/one.JPG",
            "root/apple/x.jpeg", "root/apple/deeper/y.JpEg", "root/apple/deeper-2/z.png",
            "root/zebra/a.PNG", "root/zebra/b.png",
        ])
        XCTAssertEqual(listing.labels, [0, 1, 1, 1, 2, 2])
        XCTAssertEqual(listing.ignoredFileCount, 3, "notes.txt, image.png.bak and loose.png")
    }

    func testAFlatFolderIsUnlabelledAndLabelSourcesCanBeChosen() throws {
        let image = try solid([200], width: 3, height: 5)
        try put(image, at: "flat/b.png")
        try put(image, at: "flat/a.jpg")
        try mkdir("flat/no-images")
        let flat = try ImageFolder.scan(directory: directory.file("flat"))
        XCTAssertFalse(flat.isLabelled)
        XCTAssertEqual(flat.classNames, [])
        XCTAssertEqual(relative(flat.files), ["flat/a.jpg", "flat/b.png"])
        XCTAssertEqual(flat.labels, [0, 0])
        XCTAssertThrowsError(try ImageFolder.scan(directory: directory.file("flat"), labels: .subfolders)) { error in
            XCTAssertTrue("\(error)".contains("has no sub-folder holding .png, .jpg or .jpeg files"), "\(error)")
        }

        try put(image, at: "tree/2024/jan/p.png")
        try put(image, at: "tree/2023/q.png")
        try put(image, at: "tree/top.png")
        let everything = try ImageFolder.scan(directory: directory.file("tree"), labels: .none)
        XCTAssertFalse(everything.isLabelled)
        XCTAssertEqual(relative(everything.files), ["tree/top.png", "tree/2023/q.png", "tree/2024/jan/p.png"])
        let labelled = try ImageFolder.scan(directory: directory.file("tree"))
        XCTAssertEqual(labelled.classNames, ["2023", "2024"])
        XCTAssertEqual(labelled.ignoredFileCount, 1)

        let loaded = try ImageFolder.load(directory: directory.file("flat"), imageSize: 2, channels: 1)
        XCTAssertFalse(loaded.isLabelled)
        XCTAssertEqual(loaded.dataset.labels, [0, 0])
        XCTAssertEqual(loaded.dataset.classCount, 1)
        XCTAssertTrue(loaded.summary.hasPrefix("flat: 2 images unlabelled (1×2×2"), loaded.summary)

        XCTAssertThrowsError(try ImageFolder.load(directory: directory.file("flat/no-images"), imageSize: 2)) { error in
            XCTAssertTrue("\(error)".contains("holds no .png, .jpg or .jpeg files"), "\(error)")
        }
        XCTAssertThrowsError(try ImageFolder.scan(directory: directory.file("missing"))) { error in
            XCTAssertEqual((error as? DatasetError)?.path, directory.file("missing"))
        }
    }

    func testSymlinksAreFollowedOnceAndLoopsEndTheWalk() throws {
        let image = try solid([1, 2, 3], width: 2, height: 2)
        try put(image, at: "root/cats/c1.png")
        try put(image, at: "elsewhere/d1.png")
        try put(image, at: "elsewhere/more/d2.png")
        try link("root/cats/loop", to: directory.file("root"))          // a loop back to the top
        try link("root/cats/self", to: ".")                             // a loop onto itself
        try link("root/dogs", to: directory.file("elsewhere"))           // a linked class folder
        try link("root/dogs-again", to: directory.file("elsewhere"))     // the same folder twice
        try link("root/cats/linked.png", to: directory.file("elsewhere/d1.png"))
        try link("root/cats/broken.png", to: directory.file("nowhere.png"))
        let listing = try ImageFolder.scan(directory: directory.file("root"))
        XCTAssertEqual(listing.classNames, ["cats", "dogs"], "dogs-again reaches a folder already listed")
        XCTAssertEqual(relative(listing.files), [
            "root/cats/broken.png", "root/cats/c1.png", "root/cats/linked.png",
            "root/dogs/d1.png", "root/dogs/more/d2.png",
        ])
        // The broken link is a bad file when loading.
        XCTAssertThrowsError(try ImageFolder.load(directory: directory.file("root"), imageSize: 2)) { error in
            XCTAssertEqual((error as? DatasetError)?.path, directory.file("root/cats/broken.png"))
        }
        let loaded = try ImageFolder.load(directory: directory.file("root"), imageSize: 2, skipBadFiles: true)
        XCTAssertEqual(loaded.count, 4)
        XCTAssertEqual(loaded.skippedFiles.map(\.path), [directory.file("root/cats/broken.png")])
    }

    // MARK: - Loading

    func testLoadDecodesEveryFormatResizesIntoTheByteStoreAndKeepsPaths() throws {
        try put(try solid([255, 0, 0], width: 30, height: 20), at: "shapes/red/wide.png")
        try put(try solid([0, 0, 255], width: 8, height: 40, jpeg: true), at: "shapes/blue/tall.jpg")
        try put(try solid([90], width: 5, height: 5), at: "shapes/grey/small.png")
        let (palette, _) = try ImageFixtures.png(.paletteTransparent)
        try put(palette, at: "shapes/mixed/palette.png")
        let folder = try ImageFolder.load(directory: directory.file("shapes"), imageSize: 6, channels: 3)
        XCTAssertEqual(folder.classNames, ["blue", "grey", "mixed", "red"])
        XCTAssertEqual(relative(folder.paths), ["shapes/blue/tall.jpg", "shapes/grey/small.png", "shapes/mixed/palette.png",
                                                "shapes/red/wide.png"])
        XCTAssertEqual(folder.dataset.labels, [0, 1, 2, 3])
        XCTAssertEqual(folder.dataset.classCount, 4)
        XCTAssertEqual([folder.channels, folder.imageSize, folder.dataset.width], [3, 6, 6])
        XCTAssertEqual(folder.dataset.name, "shapes")
        XCTAssertTrue(folder.skippedFiles.isEmpty)
        let plane = 36
        func image(_ index: Int) -> ArraySlice<UInt8> { folder.dataset.pixels[(index * 3 * plane)..<((index + 1) * 3 * plane)] }
        // Blue JPEG: near (0, 0, 255) everywhere (CHW planes).
        XCTAssertTrue(image(0).prefix(2 * plane).allSatisfy { $0 <= 3 })
        XCTAssertTrue(image(0).suffix(plane).allSatisfy { $0 >= 252 })
        // Grey PNG, enlarged: exactly 90 in all three planes.
        XCTAssertEqual(Array(image(1)), [UInt8](repeating: 90, count: 3 * plane))
        // Red PNG, shrunk: exact.
        XCTAssertEqual(Array(image(3)), [UInt8](repeating: 255, count: plane) + [UInt8](repeating: 0, count: 2 * plane))
        // The palette picture (4 × 2) enlarged to 12 × 6 then cropped: the centre columns are
        // colours 1 and 2 of the top row, then … (checked against the decoder's own resize).
        let palettePicture = try ImageDecoder.decode(palette, channels: 3)
        XCTAssertEqual(Array(image(2)), palettePicture.resizedCenterCrop(size: 6))
        XCTAssertEqual(try ImageDecoder.decodeResized(contentsOf: folder.paths[2], imageSize: 6, channels: 3), Array(image(2)))
        XCTAssertEqual(folder.sample(at: 3).label, 3)
        XCTAssertEqual(folder.sample(at: 3).image[0, 2, 2], 1)

        let grey = try ImageFolder.load(directory: directory.file("shapes"), imageSize: 4, channels: 1)
        XCTAssertEqual(grey.dataset.pixels.count, 4 * 16)
        XCTAssertEqual(Array(grey.dataset.pixels[16..<32]), [UInt8](repeating: 90, count: 16))
        XCTAssertEqual(Array(grey.dataset.pixels[48..<64]), [UInt8](repeating: 76, count: 16), "red in grey: Rec. 601 luma")
    }

    func testBadFilesThrowNamingTheFileAndSkipModeCountsAndNamesThem() throws {
        let good = try solid([40, 80, 120], width: 10, height: 10)
        let jpeg = try solid([40, 80, 120], width: 32, height: 32, jpeg: true)
        try put(good, at: "mixed/a-good.png")
        try put([], at: "mixed/b-empty.png")
        try put(Array(good.prefix(good.count - 20)), at: "mixed/c-truncated.png")
        try put(Array(jpeg.prefix(jpeg.count / 2)), at: "mixed/d-truncated.jpg")
        try put(Array("not an image at all".utf8), at: "mixed/e-text.jpeg")
        var corrupt = good
        corrupt[16] ^= 0xFF
        try put(corrupt, at: "mixed/f-corrupt.png")
        try mkdir("mixed/g-folder.png/inner")   // a directory named like an image is a folder: walked, empty
        try put(jpeg, at: "mixed/h-good.jpg")
        try put(Array(good.prefix(40)), at: "mixed/i-header-only.png")
        try put(good, at: "mixed/j-good.png")
        try put(good, at: "mixed/k-good.png")
        XCTAssertEqual(mkfifo(directory.file("mixed/m-pipe.png"), 0o644), 0, "a named pipe must not block the load")
        try link("mixed/l-dangling.jpg", to: directory.file("gone.jpg"))

        for threads in [1, 2] {
            XCTAssertThrowsError(try ImageFolder.load(directory: directory.file("mixed"), imageSize: 4, threads: threads)) { error in
                guard let error = error as? DatasetError else { return XCTFail("\(error)") }
                XCTAssertTrue(error.path.hasPrefix(directory.file("mixed/")), error.path)
                XCTAssertTrue(error.problem.contains("--skip-bad-files"), error.problem)
            }
        }
        do {
            _ = try ImageFolder.load(directory: directory.file("mixed"), imageSize: 4, threads: 1)
        } catch let error as DatasetError {
            XCTAssertEqual(error.path, directory.file("mixed/b-empty.png"), "one thread stops at the first bad file")
            XCTAssertTrue(error.problem.hasPrefix("is empty (0 bytes)"), error.problem)
        }

        let folder = try ImageFolder.load(directory: directory.file("mixed"), imageSize: 4, skipBadFiles: true)
        XCTAssertEqual(relative(folder.paths), ["mixed/a-good.png", "mixed/h-good.jpg", "mixed/j-good.png", "mixed/k-good.png"])
        XCTAssertEqual(folder.count, 4)
        XCTAssertEqual(folder.dataset.pixels.count, 4 * 3 * 16)
        XCTAssertEqual(Array(folder.dataset.pixels[(2 * 48)..<(2 * 48 + 16)]), [UInt8](repeating: 40, count: 16),
                       "images after skipped ones move down in the store")
        let skipped = Dictionary(uniqueKeysWithValues: folder.skippedFiles.map { (String($0.path.dropFirst(directory.path.count + 1)), $0.problem) })
        XCTAssertEqual(skipped.keys.sorted(), ["mixed/b-empty.png", "mixed/c-truncated.png", "mixed/d-truncated.jpg", "mixed/e-text.jpeg",
                                               "mixed/f-corrupt.png", "mixed/i-header-only.png", "mixed/l-dangling.jpg",
                                               "mixed/m-pipe.png"])
        XCTAssertEqual(skipped["mixed/b-empty.png"], "is empty (0 bytes), not an image")
        XCTAssertTrue(skipped["mixed/c-truncated.png"]?.hasPrefix("is a truncated PNG") == true)
        XCTAssertTrue(skipped["mixed/d-truncated.jpg"]?.hasPrefix("is a truncated JPEG") == true)
        XCTAssertTrue(skipped["mixed/e-text.jpeg"]?.hasPrefix("is not a PNG or JPEG image") == true)
        XCTAssertTrue(skipped["mixed/f-corrupt.png"]?.hasPrefix("is a corrupt PNG") == true)
        XCTAssertTrue(skipped["mixed/l-dangling.jpg"]?.hasPrefix("cannot be opened") == true)
        XCTAssertEqual(skipped["mixed/m-pipe.png"], "is not a regular file")
        XCTAssertTrue(folder.summary.contains("4 images unlabelled"), folder.summary)
        XCTAssertTrue(folder.summary.contains("8 bad files skipped: \(directory.file("mixed/b-empty.png")) (is empty"), folder.summary)
        XCTAssertTrue(folder.summary.contains("; and 3 more"), folder.summary)

        try put([], at: "all-bad/x.png")
        XCTAssertThrowsError(try ImageFolder.load(directory: directory.file("all-bad"), imageSize: 4, skipBadFiles: true)) { error in
            XCTAssertTrue("\(error)".contains("none of its 1 image files could be decoded"), "\(error)")
        }
    }

    func testAnInMemoryStoreAboveTheMemoryBudgetIsRefusedBeforeDecoding() throws {
        try put(try solid([1, 2, 3], width: 4, height: 4), at: "budget/a.png")
        try put([], at: "budget/b.png")  // never reached: the budget is checked first
        XCTAssertThrowsError(try ImageFolder.load(directory: directory.file("budget"), imageSize: 10, storage: .inMemory,
                                                  memoryBudget: 599)) { error in
            guard let error = error as? DatasetError else { return XCTFail("\(error)") }
            XCTAssertEqual(error.path, directory.file("budget"))
            XCTAssertTrue(error.problem.contains("its 2 images would take 600 B decoded (3×10×10 bytes each), more than the memory budget of 599 B"),
                          error.problem)
        }
        XCTAssertEqual(ImageFolder.estimatedBytes(imageCount: 1_000_000, imageSize: 224, channels: 3), 150_528_000_000)
        XCTAssertGreaterThan(ImageFolder.defaultMemoryBudget, 1 << 28)
    }

    func testParallelDecodingMatchesOneThreadAndReportsProgress() throws {
        for index in 0..<40 {
            let width = 20 + index % 7 * 9, height = 15 + index % 5 * 11
            let pixels = ImageFixtures.photoLike(width: width, height: height, seed: UInt64(index))
            let bytes = index % 2 == 0
                ? try ImageEncoder.png(rows: pixels, width: width, height: height, color: .rgb)
                : try ImageEncoder.jpeg(pixels: pixels, width: width, height: height, components: 3, progressive: index % 4 == 1)
            try put(bytes, at: "many/class\(index % 3)/\(index).\(index % 2 == 0 ? "png" : "jpg")")
        }
        let reports = ProgressLog()
        let one = try ImageFolder.load(directory: directory.file("many"), imageSize: 16, threads: 1)
        let two = try ImageFolder.load(directory: directory.file("many"), imageSize: 16, threads: 2,
                                       progress: { done, total in reports.append(done, total) })
        let four = try ImageFolder.load(directory: directory.file("many"), imageSize: 16, threads: 4)
        XCTAssertEqual(one.dataset.pixels, two.dataset.pixels)
        XCTAssertEqual(one.dataset.pixels, four.dataset.pixels)
        XCTAssertEqual(one.paths, two.paths)
        XCTAssertEqual(one.dataset.labels, two.dataset.labels)
        let seen = reports.entries
        XCTAssertEqual(seen.last?.done, 40)
        XCTAssertTrue(seen.allSatisfy { $0.total == 40 })
        XCTAssertEqual(seen.map(\.done), seen.map(\.done).sorted(), "progress only moves forward")
        // Each stored image is what decodeResized makes of its file.
        for index in [0, 13, 39] {
            XCTAssertEqual(try ImageDecoder.decodeResized(contentsOf: one.paths[index], imageSize: 16, channels: 3),
                           Array(one.dataset.pixels[(index * 768)..<((index + 1) * 768)]))
        }
    }

    func testAHundredMutatedFilesInAFolderLoadOrAreSkipped() throws {
        let pixels = ImageFixtures.photoLike(width: 30, height: 20, seed: 8)
        let png = try ImageEncoder.png(rows: pixels, width: 30, height: 20, color: .rgb)
        let jpeg = try ImageEncoder.jpeg(pixels: pixels, width: 30, height: 20, components: 3)
        var generator = RandomGenerator(seed: 99)
        for index in 0..<100 {
            let original = index % 2 == 0 ? png : jpeg
            let mutated = Fixtures.mutate(original, generator: &generator, headerLength: index % 2 == 0 ? 33 : 160)
            try put(mutated, at: "mutants/\(index).\(index % 2 == 0 ? "png" : "jpg")")
        }
        let folder = try ImageFolder.load(directory: directory.file("mutants"), imageSize: 8, skipBadFiles: true)
        XCTAssertEqual(folder.count + folder.skippedFiles.count, 100)
        XCTAssertGreaterThan(folder.skippedFiles.count, 20)
        XCTAssertGreaterThan(folder.count, 5)
        XCTAssertEqual(Set(folder.paths).intersection(folder.skippedFiles.map(\.path)), [])
    }
}

/// Progress calls, recorded across threads.
private final class ProgressLog: @unchecked Sendable {
    private let lock = NSLock()
    private var log: [(done: Int, total: Int)] = []
    func append(_ done: Int, _ total: Int) { lock.withLock { log.append((done, total)) } }
    var entries: [(done: Int, total: Int)] { lock.withLock { log } }
}

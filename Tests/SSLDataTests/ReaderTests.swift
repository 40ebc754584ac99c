import Foundation
import SSLData
import SSLTensor
import XCTest

/// The IDX, gzip and CIFAR readers: round trips of files the test writes, and a precise error,
/// naming the file, for every kind of bad input.
final class ReaderTests: XCTestCase {
    private var directory: TemporaryDirectory!

    override func setUpWithError() throws { directory = try TemporaryDirectory("readers") }
    override func tearDown() { directory.remove() }

    private func assertThrows(_ expression: @autoclosure () throws -> some Any, path: String, mentioning fragments: [String],
                              file: StaticString = #filePath, line: UInt = #line) {
        do {
            _ = try expression()
            XCTFail("expected a DatasetError about \(fragments)", file: file, line: line)
        } catch let error as DatasetError {
            XCTAssertEqual(error.path, path, "the error names the file", file: file, line: line)
            XCTAssertTrue(error.description.contains(path), file: file, line: line)
            for fragment in fragments {
                XCTAssertTrue(error.problem.contains(fragment), "\"\(error.problem)\" should mention \"\(fragment)\"", file: file, line: line)
            }
        } catch {
            XCTFail("expected a DatasetError, got \(error)", file: file, line: line)
        }
    }

    // MARK: - IDX and gzip

    func testIDXImagesAndLabelsRoundTripPlainAndGzip() throws {
        let fixture = Fixtures.idxPair(count: 5, height: 4, width: 3)
        for compressed in [false, true] {
            let images = try directory.write(compressed ? Gzip.compress(fixture.images) : fixture.images, to: "images\(compressed)")
            let labels = try directory.write(compressed ? Gzip.compress(fixture.labels) : fixture.labels, to: "labels\(compressed)")
            let data = try MNIST.load(imagesPath: images, labelsPath: labels, name: "fixture")
            XCTAssertEqual(data.count, 5)
            XCTAssertEqual([data.channels, data.height, data.width], [1, 4, 3])
            XCTAssertEqual(data.pixels, fixture.pixels)
            XCTAssertEqual(data.labels, fixture.labelValues)
            let sample = data.sample(at: 2)
            XCTAssertEqual(sample.index, 2)
            XCTAssertEqual(sample.label, fixture.labelValues[2])
            XCTAssertEqual(sample.image.shape, [1, 4, 3])
            XCTAssertEqual(sample.image.pixels, fixture.pixels[24..<36].map { Float($0) / 255 })
        }
    }

    func testMNISTDirectoryLoaderFindsPlainAndGzipFiles() throws {
        let train = Fixtures.idxPair(count: 3, height: 2, width: 2)
        let test = Fixtures.idxPair(count: 2, height: 2, width: 2, seed: 9)
        _ = try directory.write(Gzip.compress(train.images), to: "train-images-idx3-ubyte.gz")
        _ = try directory.write(train.labels, to: "train-labels-idx1-ubyte")
        _ = try directory.write(test.images, to: "t10k-images-idx3-ubyte")
        _ = try directory.write(Gzip.compress(test.labels), to: "t10k-labels-idx1-ubyte.gz")
        XCTAssertEqual(try MNIST.load(split: .train, directory: directory.path).pixels, train.pixels)
        XCTAssertEqual(try FashionMNIST.load(split: .test, directory: directory.path).labels, test.labelValues)
        XCTAssertTrue(FashionMNIST.isAvailable(split: .train, directory: directory.path))
    }

    func testGzipRoundTripsAndAcceptsConcatenatedMembers() throws {
        let first = Array("first member, ".utf8), second = Array("second member".utf8)
        XCTAssertEqual(try Gzip.decompress(Gzip.compress(first)), first)
        XCTAssertEqual(try Gzip.decompress(Gzip.compress(first) + Gzip.compress(second)), first + second)
        let large = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) }
        XCTAssertEqual(try Gzip.decompress(Gzip.compress(large, level: 1)), large)
        XCTAssertEqual(try Gzip.decompress(Gzip.compress([])), [])
    }

    func testTruncatedGzipThrowsNamingTheFile() throws {
        let packed = try Gzip.compress(Fixtures.idxPair(count: 20, height: 8, width: 8).images)
        for length in [2, 10, packed.count / 2, packed.count - 1] {
            let path = try directory.write(Array(packed.prefix(length)), to: "truncated\(length).gz")
            assertThrows(try IDXFile.read(from: path), path: path, mentioning: [])
        }
        let path = try directory.write(Array(packed.prefix(packed.count - 5)), to: "cut.gz")
        assertThrows(try IDXFile.read(from: path), path: path, mentioning: ["truncated"])
    }

    func testCorruptGzipThrowsNamingTheFile() throws {
        var packed = try Gzip.compress(Fixtures.idxPair(count: 20, height: 8, width: 8).images)
        packed[packed.count - 6] ^= 0xFF  // the CRC-32 of the trailer
        let path = try directory.write(packed, to: "badcrc.gz")
        assertThrows(try IDXFile.read(from: path), path: path, mentioning: ["corrupt"])
        var header = try Gzip.compress([1, 2, 3])
        header[2] = 7  // compression method other than deflate
        let other = try directory.write(header, to: "badmethod.gz")
        assertThrows(try DatasetFile.read(other), path: other, mentioning: ["corrupt"])
    }

    func testTrailingGarbageAfterGzipThrows() throws {
        let packed = try Gzip.compress(Fixtures.idxPair(count: 2, height: 2, width: 2).labels)
        let path = try directory.write(packed + [0, 1, 2], to: "trailing.gz")
        assertThrows(try DatasetFile.read(path), path: path, mentioning: ["3 bytes of trailing data"])
    }

    func testWrongIDXMagicThrows() throws {
        var bytes = Fixtures.idxPair(count: 2, height: 2, width: 2).images
        bytes[0] = 0x50
        let path = try directory.write(bytes, to: "badmagic")
        assertThrows(try IDXFile.read(from: path), path: path, mentioning: ["magic number 50 00 08 03", "not an IDX file"])
        var unknownType = Fixtures.idxPair(count: 2, height: 2, width: 2).images
        unknownType[2] = 0x42
        let typed = try directory.write(unknownType, to: "badtype")
        assertThrows(try IDXFile.read(from: typed), path: typed, mentioning: ["unknown IDX data type 42"])
        let short = try directory.write([0, 0], to: "short")
        assertThrows(try IDXFile.read(from: short), path: short, mentioning: ["2 bytes long"])
    }

    func testIDXDimensionsThatDisagreeWithTheFileSizeThrow() throws {
        let bytes = Fixtures.idxPair(count: 4, height: 3, width: 3).images
        let truncated = try directory.write(Array(bytes.dropLast(5)), to: "truncated")
        assertThrows(try IDXFile.read(from: truncated), path: truncated, mentioning: ["is truncated", "4×3×3", "36 bytes", "31"])
        let padded = try directory.write(bytes + [1, 2], to: "padded")
        assertThrows(try IDXFile.read(from: padded), path: padded, mentioning: ["2 bytes of trailing data"])
        let header = try directory.write(Array(bytes.prefix(9)), to: "header")
        assertThrows(try IDXFile.read(from: header), path: header, mentioning: ["truncated inside its header"])
    }

    func testIDXDimensionsThatOverflowThrow() throws {
        // 4 dimensions of 2^32 − 1: the product overflows 64 bits.
        let bytes: [UInt8] = [0, 0, 0x08, 4] + Array(repeating: 0xFF, count: 16) + [1, 2, 3]
        let path = try directory.write(bytes, to: "overflow")
        assertThrows(try IDXFile.read(from: path), path: path, mentioning: ["overflows"])
        // Large but representable: a precise size mismatch rather than an allocation.
        let large: [UInt8] = [0, 0, 0x08, 3, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0xFF, 0xFF, 0, 0, 0, 1, 9]
        let path2 = try directory.write(large, to: "large")
        assertThrows(try IDXFile.read(from: path2), path: path2, mentioning: ["is truncated"])
    }

    func testIDXPairsThatDisagreeThrow() throws {
        let fixture = Fixtures.idxPair(count: 4, height: 2, width: 2)
        let images = try directory.write(fixture.images, to: "images")
        let fewer = try directory.write(IDXFile.encode(dimensions: [3], bytes: [1, 2, 3]), to: "labels3")
        assertThrows(try MNIST.load(imagesPath: images, labelsPath: fewer), path: fewer, mentioning: ["3 labels", "4 images"])
        let badLabel = try directory.write(IDXFile.encode(dimensions: [4], bytes: [1, 2, 12, 3]), to: "labels12")
        assertThrows(try MNIST.load(imagesPath: images, labelsPath: badLabel), path: badLabel, mentioning: ["label 12 of image 2"])
        let flat = try directory.write(IDXFile.encode(dimensions: [16], bytes: Array(repeating: 0, count: 16)), to: "flat")
        assertThrows(try MNIST.load(imagesPath: flat, labelsPath: badLabel), path: flat, mentioning: ["1 dimensions"])
        let empty = try directory.write(IDXFile.encode(dimensions: [0, 28, 28], bytes: []), to: "empty")
        assertThrows(try MNIST.load(imagesPath: empty, labelsPath: badLabel), path: empty, mentioning: ["0 images"])
    }

    func testMissingFilesThrowWithInstallAdvice() throws {
        let empty = try TemporaryDirectory("empty")
        defer { empty.remove() }
        do {
            _ = try FashionMNIST.load(split: .train, directory: empty.path)
            XCTFail("expected an error")
        } catch let error as DatasetError {
            XCTAssertEqual(error.path, empty.file("train-images-idx3-ubyte.gz"))
            XCTAssertTrue(error.problem.contains("not found"), error.problem)
            XCTAssertTrue(error.problem.contains("apt-get install dataset-fashion-mnist"), error.problem)
        }
        do {
            _ = try FashionMNIST.load(split: .test, directory: empty.file("nowhere"))
            XCTFail("expected an error")
        } catch let error as DatasetError {
            XCTAssertEqual(error.path, empty.file("nowhere"))
            XCTAssertTrue(error.problem.contains("does not exist"), error.problem)
        }
        let missing = empty.file("absent.idx")
        assertThrows(try IDXFile.read(from: missing), path: missing, mentioning: ["cannot be opened", "No such file"])
        assertThrows(try DatasetFile.read(empty.path), path: empty.path, mentioning: [])
    }

    // MARK: - CIFAR

    func testCIFAR10BatchesRoundTrip() throws {
        let first = Fixtures.cifarRecords(count: 3, labels: [[0, 9, 4]])
        let second = Fixtures.cifarRecords(count: 2, labels: [[7, 1]], seed: 5)
        let a = try directory.write(first.bytes, to: "a.bin")
        let b = try directory.write(Gzip.compress(second.bytes), to: "b.bin.gz")
        let data = try CIFAR10.read(files: [a, b])
        XCTAssertEqual(data.count, 5)
        XCTAssertEqual([data.channels, data.height, data.width], [3, 32, 32])
        XCTAssertEqual(data.labels, [0, 9, 4, 7, 1])
        XCTAssertEqual(data.pixels, first.pixels + second.pixels)
        // Channel-major: the first 1024 bytes of a record are red.
        XCTAssertEqual(data.image(at: 1)[1, 0, 0], Float(first.pixels[3072 + 1024]) / 255)
    }

    func testCIFAR10DirectoryLoaderRequiresFullBatches() throws {
        let sub = directory.file("cifar-10-batches-bin")
        try FileManager.default.createDirectory(atPath: sub, withIntermediateDirectories: true)
        let small = Fixtures.cifarRecords(count: 2, labels: [[1, 2]])
        try Data(small.bytes).write(to: URL(fileURLWithPath: "\(sub)/test_batch.bin"))
        assertThrows(try CIFAR10.load(split: .test, directory: directory.path), path: "\(sub)/test_batch.bin",
                     mentioning: ["holds 2 records", "10000"])
        assertThrows(try CIFAR10.load(split: .train, directory: directory.path), path: directory.file("data_batch_1.bin.gz"),
                     mentioning: ["not found"])
    }

    func testCIFAR100KeepsFineAndCoarseLabels() throws {
        let records = Fixtures.cifarRecords(count: 3, labels: [[19, 0, 5], [99, 3, 42]])
        let path = try directory.write(records.bytes, to: "train.bin")
        let fine = try CIFAR100.read(files: [path])
        XCTAssertEqual(fine.labels, [99, 3, 42])
        XCTAssertEqual(fine.classCount, 100)
        XCTAssertEqual(fine.auxiliaryLabels["coarse_label"], [19, 0, 5])
        guard case .integer(let coarse)? = fine.sample(at: 2)["coarse_label"] else { return XCTFail("no coarse label") }
        XCTAssertEqual(coarse, 5)
        let coarseData = try CIFAR100.read(files: [path], labels: .coarse)
        XCTAssertEqual(coarseData.labels, [19, 0, 5])
        XCTAssertEqual(coarseData.auxiliaryLabels["fine_label"], [99, 3, 42])
        XCTAssertEqual(coarseData.pixels, records.pixels)
    }

    func testCIFARFileOfTheWrongLengthThrows() throws {
        let records = Fixtures.cifarRecords(count: 2, labels: [[1, 2]])
        let path = try directory.write(Array(records.bytes.dropLast(1)), to: "short.bin")
        assertThrows(try CIFAR10.read(files: [path]), path: path, mentioning: ["6145 bytes", "3073-byte record"])
        let hundred = try directory.write(records.bytes, to: "hundred.bin")  // 6146 bytes: not a multiple of 3074
        assertThrows(try CIFAR100.read(files: [hundred]), path: hundred, mentioning: ["3074-byte record"])
        let empty = try directory.write([], to: "empty.bin")
        assertThrows(try CIFAR10.read(files: [empty]), path: empty, mentioning: ["0 bytes"])
        let badLabel = try directory.write(Fixtures.cifarRecords(count: 2, labels: [[1, 10]]).bytes, to: "label.bin")
        assertThrows(try CIFAR10.read(files: [badLabel]), path: badLabel, mentioning: ["record 1 has label 10"])
    }
}

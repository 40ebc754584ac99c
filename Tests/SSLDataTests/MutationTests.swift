import Foundation
import SSLData
import SSLTensor
import XCTest

/// 1 000 random mutations of a valid IDX file (plain and gzip) and of a valid CIFAR file: each
/// either loads exactly what the mutated bytes say or throws a `DatasetError` naming the file;
/// none crashes.
final class MutationTests: XCTestCase {
    private var directory: TemporaryDirectory!

    override func setUpWithError() throws { directory = try TemporaryDirectory("mutations") }
    override func tearDown() { directory.remove() }

    func testMutatedIDXFilesLoadCorrectlyOrThrow() throws {
        let fixture = Fixtures.idxPair(count: 6, height: 5, width: 4)
        let labelsPath = try directory.write(fixture.labels, to: "labels")
        let imagesPath = try directory.write(fixture.images, to: "images")
        var generator = RandomGenerator(seed: 2024)
        var loaded = 0, thrown = 0
        for round in 0..<1_000 {
            let mutateLabels = round % 4 == 3
            let original = mutateLabels ? fixture.labels : fixture.images
            let mutated = Fixtures.mutate(original, generator: &generator, headerLength: mutateLabels ? 8 : 16)
            let compressed = round % 2 == 1
            let bytes = compressed ? try Gzip.compress(mutated) : mutated
            // Gzip rounds also corrupt the compressed stream itself now and then.
            let stored = compressed && round % 6 == 1 ? Fixtures.mutate(bytes, generator: &generator, headerLength: 10) : bytes
            let path = try directory.write(stored, to: "mutated-\(round)\(compressed ? ".gz" : "")")
            do {
                let data = try MNIST.load(imagesPath: mutateLabels ? imagesPath : path,
                                          labelsPath: mutateLabels ? path : labelsPath)
                loaded += 1
                // What loaded must be exactly what the (decompressed) files hold.
                let images = try IDXFile.read(from: mutateLabels ? imagesPath : path)
                let labels = try IDXFile.read(from: mutateLabels ? path : labelsPath)
                XCTAssertEqual(images.dimensions, [data.count, data.height, data.width], "round \(round)")
                XCTAssertEqual(data.pixels, images.data, "round \(round)")
                XCTAssertEqual(data.labels, labels.data.map(Int.init), "round \(round)")
                XCTAssertTrue(data.labels.allSatisfy { $0 < 10 }, "round \(round)")
                if !compressed || stored == bytes {
                    let payload = try DatasetFile.read(path)
                    XCTAssertEqual(payload, mutated, "round \(round)")
                }
            } catch let error as DatasetError {
                thrown += 1
                XCTAssertTrue(error.path == path || error.problem.contains(path),
                              "round \(round): the error names the mutated file (\(error))")
                XCTAssertFalse(error.problem.isEmpty)
            }
        }
        XCTAssertEqual(loaded + thrown, 1_000)
        XCTAssertGreaterThan(thrown, 300, "most mutations break the file")
        XCTAssertGreaterThan(loaded, 20, "pixel and label changes within range still load")
    }

    func testMutatedCIFARFilesLoadCorrectlyOrThrow() throws {
        let labels = [3, 9, 0]
        let fixture = Fixtures.cifarRecords(count: 3, labels: [labels])
        var generator = RandomGenerator(seed: 77)
        var loaded = 0, thrown = 0
        for round in 0..<1_000 {
            var mutated = Fixtures.mutate(fixture.bytes, generator: &generator, headerLength: 1)
            if round % 5 == 0 {  // also hit the label bytes of later records
                let record = generator.nextInt(below: 3) * 3073
                if record < mutated.count { mutated[record] = UInt8(truncatingIfNeeded: generator.next()) }
            }
            let compressed = round % 3 == 2
            let path = try directory.write(compressed ? try Gzip.compress(mutated) : mutated, to: "batch-\(round).bin")
            do {
                let data = try CIFAR10.read(files: [path], expectedRecordsPerFile: 3)
                loaded += 1
                XCTAssertEqual(mutated.count, 3 * 3073, "round \(round)")
                XCTAssertEqual(data.count, 3)
                XCTAssertEqual(data.labels, (0..<3).map { Int(mutated[$0 * 3073]) }, "round \(round)")
                XCTAssertEqual(data.pixels, (0..<3).flatMap { mutated[($0 * 3073 + 1)..<(($0 + 1) * 3073)] }, "round \(round)")
            } catch let error as DatasetError {
                thrown += 1
                XCTAssertEqual(error.path, path, "round \(round)")
            }
        }
        XCTAssertEqual(loaded + thrown, 1_000)
        XCTAssertGreaterThan(thrown, 200)
        XCTAssertGreaterThan(loaded, 100)
    }
}

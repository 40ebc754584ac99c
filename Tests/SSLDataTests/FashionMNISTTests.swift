import Foundation
import SSLData
import XCTest

/// Fashion-MNIST from Debian's `dataset-fashion-mnist` package, when it is installed.
final class FashionMNISTTests: XCTestCase {
    private func requirePackage() throws {
        guard FashionMNIST.isAvailable(split: .train) && FashionMNIST.isAvailable(split: .test) else {
            throw XCTSkip("Fashion-MNIST is not installed at \(FashionMNIST.defaultDirectory); `apt-get install dataset-fashion-mnist` to run this test")
        }
    }

    func testTrainingSetLoadsFromTheDebianPackage() throws {
        try requirePackage()
        let start = Date()
        let train = try FashionMNIST.load(split: .train)
        let seconds = Date().timeIntervalSince(start)
        XCTAssertEqual(train.count, 60_000)
        XCTAssertEqual([train.channels, train.height, train.width], [1, 28, 28])
        XCTAssertEqual(train.pixels.count, 60_000 * 784)
        for label in 0..<10 { XCTAssertEqual(train.labels.filter { $0 == label }.count, 6_000, "class \(label)") }
        // Known facts of the first training image: an ankle boot (label 9).
        XCTAssertEqual(train.labels[0], 9)
        let mean = Double(train.pixels.prefix(784 * 1000).reduce(0) { $0 + Int($1) }) / Double(784 * 1000) / 255
        XCTAssertEqual(mean, 0.286, accuracy: 0.02, "the dataset's mean intensity is about 0.286")
        print("Fashion-MNIST train from gzip: \(String(format: "%.3f", seconds)) s (debug build)")
    }

    func testTestSetLoads() throws {
        try requirePackage()
        let test = try FashionMNIST.load(split: .test)
        XCTAssertEqual(test.count, 10_000)
        for label in 0..<10 { XCTAssertEqual(test.labels.filter { $0 == label }.count, 1_000) }
    }
}

import SSLData
import SSLTensor
import XCTest

/// The built-in dataset: deterministic whatever the thread count, balanced, in both variants,
/// distinct splits, and not trivially separable by nearest neighbours on raw pixels.
final class BuiltinShapesTests: XCTestCase {
    func testGenerationIsDeterministicAndIndependentOfThreadCount() {
        let one = BuiltinShapes.load(split: .train, count: 300, seed: 4, threads: 1)
        let two = BuiltinShapes.load(split: .train, count: 300, seed: 4, threads: 2)
        let three = BuiltinShapes.load(split: .train, count: 300, seed: 4, threads: 3)
        XCTAssertEqual(one.pixels, two.pixels)
        XCTAssertEqual(one.pixels, three.pixels)
        XCTAssertEqual(one.labels, two.labels)
        XCTAssertEqual(BuiltinShapes.load(split: .train, count: 100, seed: 4).pixels, Array(one.pixels.prefix(100 * 784)),
                       "image i does not depend on how many are generated")
        XCTAssertNotEqual(BuiltinShapes.load(split: .train, count: 100, seed: 5).pixels, Array(one.pixels.prefix(100 * 784)))
        XCTAssertNotEqual(BuiltinShapes.load(split: .test, count: 100, seed: 4).pixels, Array(one.pixels.prefix(100 * 784)))
    }

    func testBothVariantsHaveBalancedLabelsAndUseTheirRange() {
        for variant in BuiltinShapes.Variant.allCases {
            let data = BuiltinShapes.load(split: .test, count: 200, variant: variant)
            XCTAssertEqual([data.channels, data.height, data.width], [variant.channels, variant.size, variant.size])
            XCTAssertEqual(data.count, 200)
            XCTAssertEqual(data.classCount, 10)
            for label in 0..<10 { XCTAssertEqual(data.labels.filter { $0 == label }.count, 20) }
            XCTAssertEqual(BuiltinShapes.classNames.count, 10)
            let low = data.pixels.min() ?? 0, high = data.pixels.max() ?? 0
            XCTAssertLessThan(low, 20)
            XCTAssertGreaterThan(high, 200)
            // Images differ from one another (random placement, not a template per class).
            XCTAssertNotEqual(data.image(at: 0), data.image(at: 10))
        }
        XCTAssertEqual(BuiltinShapes.defaultTrainCount, 20_000)
        XCTAssertEqual(BuiltinShapes.defaultTestCount, 5_000)
    }

    /// Raw-pixel kNN (k = 20, cosine) is far above chance but far from perfect: the data are
    /// learnable yet not trivially separable. (A release build measures about 50% with 5 000
    /// training images; this small debug-build check uses 600.)
    func testRawPixelNearestNeighboursAreAboveChanceButFarFromPerfect() {
        let train = BuiltinShapes.load(split: .train, count: 600)
        let test = BuiltinShapes.load(split: .test, count: 150)
        let normalize: (InMemoryImageDataset) -> [[Float]] = { data in
            (0..<data.count).map { index in
                let pixels = data.image(at: index).pixels
                let norm = pixels.reduce(0) { $0 + $1 * $1 }.squareRoot()
                return pixels.map { $0 / norm }
            }
        }
        let a = normalize(train), b = normalize(test)
        var correct = 0
        for (i, query) in b.enumerated() {
            let similarities = a.map { row -> Float in
                row.withUnsafeBufferPointer { r in
                    query.withUnsafeBufferPointer { q in
                        var sum: Float = 0
                        for k in 0..<r.count { sum += r[k] * q[k] }
                        return sum
                    }
                }
            }
            let nearest = similarities.indices.sorted { similarities[$0] > similarities[$1] }.prefix(20)
            var votes = [Int](repeating: 0, count: 10)
            for j in nearest { votes[train.labels[j]] += 1 }
            if votes.indices.max(by: { votes[$0] < votes[$1] }) == test.labels[i] { correct += 1 }
        }
        let accuracy = Double(correct) / Double(test.count)
        XCTAssertGreaterThan(accuracy, 0.2, "kNN accuracy \(accuracy)")
        XCTAssertLessThan(accuracy, 0.8, "kNN accuracy \(accuracy)")
    }
}

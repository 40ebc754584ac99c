import SSLMethods
import SSLTensor
import SSLTestSupport
import XCTest

/// The blocked exact search against a brute-force search in double precision.
final class NearestNeighbourSearchTests: XCTestCase {
    /// Brute force: every pair's cosine in Double, each row's k best other rows.
    private func bruteForce(_ x: Tensor, k: Int) -> [[(Int, Double)]] {
        let n = x.shape[0], d = x.shape[1], v = x.scalars.map(Double.init)
        let norms = (0..<n).map { row in (0..<d).map { v[row * d + $0] * v[row * d + $0] }.reduce(0, +).squareRoot() }
        return (0..<n).map { row in
            let all = (0..<n).filter { $0 != row }.map { other -> (Int, Double) in
                let dot = (0..<d).map { v[row * d + $0] * v[other * d + $0] }.reduce(0, +)
                return (other, dot / (norms[row] * norms[other]))
            }
            return Array(all.sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }.prefix(k))
        }
    }

    func testBlockedSearchMatchesBruteForceAcrossBlockSizesAndThreads() {
        let x = testTensor([37, 6], seed: 5)
        let expected = bruteForce(x, k: 4)
        for blockSize in [1, 5, 16, 37, 64] {
            for threads in [1, 2, 3] {
                let result = ComputeContext.$current.withValue(ComputeContext(threadCount: threads)) {
                    NearestNeighbourSearch.run(x, k: 4, blockSize: blockSize)
                }
                for row in 0..<37 {
                    let found = result.neighbours(of: row)
                    XCTAssertEqual(found.map(\.index), expected[row].map(\.0), "row \(row), block \(blockSize), \(threads) threads")
                    for (got, want) in zip(found.map(\.similarity), expected[row].map(\.1)) {
                        XCTAssertEqual(Double(got), want, accuracy: 1e-5)
                    }
                }
            }
        }
    }

    func testPairsAboveTheThresholdFormGroupsAndOutliersAreTheMostIsolated() {
        // Three copies of one direction, two of another, one lone vector far from both.
        let rows: [[Float]] = [[1, 0, 0], [0.99, 0.01, 0], [1, 0.02, 0], [0, 1, 0], [0, 0.98, 0.02], [-1, -1, 1]]
        let x = Tensor(rows.flatMap { $0 }).reshape([6, 3])
        let result = NearestNeighbourSearch.run(x, k: 2, duplicateThreshold: 0.99, blockSize: 4)
        let pairs = result.pairsAboveThreshold.map { [Int($0.first), Int($0.second)] }
        XCTAssertEqual(pairs, [[0, 1], [0, 2], [1, 2], [3, 4]])
        XCTAssertFalse(result.pairsTruncated)
        XCTAssertEqual(NearDuplicateGroups(pairs: result.pairsAboveThreshold, count: 6).groups, [[0, 1, 2], [3, 4]])
        XCTAssertEqual(result.outliers(count: 1).first?.index, 5)
        let capped = NearestNeighbourSearch.run(x, k: 2, duplicateThreshold: 0.99, maximumPairs: 2)
        XCTAssertTrue(capped.pairsTruncated)
        XCTAssertEqual(capped.pairsAboveThreshold.count, 2)
    }

    func testFewerRowsThanKLeavesEmptySlots() {
        let result = NearestNeighbourSearch.run(testTensor([3, 4], seed: 2), k: 5)
        XCTAssertEqual(result.neighbours(of: 0).count, 2)
        XCTAssertEqual(result.indices[3..<5].map { $0 }, [-1, -1])
    }

    /// Enough rows for the 16-wide comparisons of both passes, tails included, and a threshold
    /// that many pairs pass: neighbours and pairs as brute force finds them, each pair once,
    /// for several block sizes and thread counts.
    func testWideTilesFindTheBruteForceNeighboursAndEveryPairAboveTheThreshold() {
        let x = testTensor([70, 3], seed: 11)
        let expected = bruteForce(x, k: 3)
        let v = x.scalars.map(Double.init)
        func cosine(_ a: Int, _ b: Int) -> Double {
            let dot = (0..<3).map { v[a * 3 + $0] * v[b * 3 + $0] }.reduce(0, +)
            let na = (0..<3).map { v[a * 3 + $0] * v[a * 3 + $0] }.reduce(0, +).squareRoot()
            let nb = (0..<3).map { v[b * 3 + $0] * v[b * 3 + $0] }.reduce(0, +).squareRoot()
            return dot / (na * nb)
        }
        let threshold: Float = 0.9
        // Pairs well clear of the threshold (float rounding cannot move them across).
        let surely = Set((0..<70).flatMap { a in ((a + 1)..<70).filter { cosine(a, $0) > Double(threshold) + 1e-5 }.map { [a, $0] } })
        let possibly = Set((0..<70).flatMap { a in ((a + 1)..<70).filter { cosine(a, $0) >= Double(threshold) - 1e-5 }.map { [a, $0] } })
        XCTAssertGreaterThan(surely.count, 100, "the test needs many pairs")
        for blockSize in [16, 33, 70, 128] {
            for threads in [1, 2, 3] {
                let result = ComputeContext.$current.withValue(ComputeContext(threadCount: threads)) {
                    NearestNeighbourSearch.run(x, k: 3, duplicateThreshold: threshold, blockSize: blockSize)
                }
                for row in 0..<70 {
                    XCTAssertEqual(result.neighbours(of: row).map(\.index), expected[row].map(\.0),
                                   "row \(row), block \(blockSize), \(threads) threads")
                }
                let found = result.pairsAboveThreshold.map { [Int($0.first), Int($0.second)] }
                XCTAssertEqual(Set(found).count, found.count, "no pair twice (block \(blockSize), \(threads) threads)")
                XCTAssertTrue(surely.isSubset(of: Set(found)), "every pair above the threshold (block \(blockSize), \(threads) threads)")
                XCTAssertTrue(Set(found).isSubset(of: possibly), "no pair below it (block \(blockSize), \(threads) threads)")
                XCTAssertTrue(found.allSatisfy { $0[0] < $0[1] })
                for pair in result.pairsAboveThreshold {
                    XCTAssertEqual(Double(pair.similarity), cosine(Int(pair.first), Int(pair.second)), accuracy: 1e-5)
                }
            }
        }
    }
}

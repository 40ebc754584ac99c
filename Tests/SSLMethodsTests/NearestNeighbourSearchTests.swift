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
}

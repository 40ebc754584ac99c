import SSLMethods
import SSLTensor
import SSLTestSupport
import XCTest

/// The centred effective rank (the collapse criterion) and RankMe against numpy's SVD
/// (Reference/make_effective_rank_reference.py).
final class EffectiveRankTests: XCTestCase {
    private func tensor(_ literal: (shape: [Int], values: [Float])) -> Tensor {
        Tensor(shape: literal.shape, scalars: literal.values)
    }

    func testCenteredEffectiveRankMatchesNumpyAndIgnoresACommonOffset() {
        typealias R = EffectiveRankReference
        let offset = tensor(R.offsetEmbeddings)
        assertClose([effectiveRank(offset)], [R.offsetRankMe], rtol: 1e-4)
        assertClose([effectiveRank(offset, centered: true)], [R.offsetCentered], rtol: 1e-4)
        XCTAssertLessThan(effectiveRank(offset), 2, "uncentred, the offset takes the largest singular value")
        XCTAssertGreaterThan(effectiveRank(offset, centered: true), 5, "centred, the spread uses all 6 dimensions")

        // Centred rank 2 plus an offset: the float32 literals are not exactly rank 2, hence rtol 2e-3.
        let lowRank = tensor(R.lowRankEmbeddings)
        assertClose([effectiveRank(lowRank)], [R.lowRankRankMe], rtol: 2e-3)
        assertClose([effectiveRank(lowRank, centered: true)], [R.lowRankCentered], rtol: 2e-3)

        // Uncentred, identical rows are a rank-1 matrix; the float32 Gram matrix leaves its other
        // singular values at rounding level (≈ 3e-4 of the largest), hence rtol 2e-3.
        let identical = tensor(R.identicalEmbeddings)
        assertClose([effectiveRank(identical)], [R.identicalRankMe], rtol: 2e-3)
        assertClose([effectiveRank(identical, centered: true)], [R.identicalCentered], rtol: 1e-4)
    }

    func testCenteredEffectiveRankIsUnchangedByShiftingEveryRow() {
        var generator = RandomGenerator(seed: 11)
        let values = (0..<(64 * 16)).map { _ in generator.nextNormal() }
        let embeddings = Tensor(shape: [64, 16], scalars: values)
        let shifted = Tensor(shape: [64, 16], scalars: values.enumerated().map { $0.element + Float($0.offset % 16) * 4 })
        assertClose([effectiveRank(shifted, centered: true)], [effectiveRank(embeddings, centered: true)], rtol: 1e-4)
        XCTAssertLessThan(effectiveRank(shifted), effectiveRank(embeddings) - 2, "RankMe counts the offset")
    }
}

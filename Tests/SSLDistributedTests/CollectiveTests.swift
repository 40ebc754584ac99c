import SSLDistributed
import SSLNN
import SSLTensor
import SSLTestSupport
import XCTest

/// The collectives' semantics on ranks that are threads (`LocalGroupCommunicator`), and the
/// differentiable collectives and SyncBatchNorm checked by finite differences over the group.
final class CollectiveTests: XCTestCase {
    func testAllReduceAllGatherAndBroadcastGiveEveryRankTheSameResult() {
        for worldSize in [1, 2, 3] {
            let results = LocalGroupCommunicator.run(worldSize: worldSize) { c -> [[Float]] in
                var sum: [Float] = [Float(c.rank), 1, Float(c.rank * c.rank)]
                c.allReduce(&sum, .sum)
                var maxima: [Int] = [c.rank, -c.rank]
                c.allReduce(&maxima, .max)
                var minima: [Float] = [Float(c.rank)]
                c.allReduce(&minima, .min)
                let gathered = c.allGather([Float(c.rank), Float(10 * c.rank)])
                let gatheredInts = c.allGather([c.rank + 100])
                var broadcast: [Float] = [Float(c.rank) + 0.5, 7]
                c.broadcast(&broadcast, root: worldSize - 1)
                let text = c.broadcast(c.rank == 0 ? "rank zero's path ✓" : "")
                var mean: [Float] = [Float(2 * c.rank)]
                c.allReduceMean(&mean)
                c.barrier()
                return [sum, maxima.map(Float.init), minima, gathered, gatheredInts.map(Float.init), broadcast,
                        [text == "rank zero's path ✓" ? 1 : 0], mean]
            }
            let n = Float(worldSize)
            let squares = (0..<worldSize).reduce(0) { $0 + Float($1 * $1) }
            for (rank, result) in results.enumerated() {
                XCTAssertEqual(result[0], [n * (n - 1) / 2, n, squares], "sum, rank \(rank) of \(worldSize)")
                XCTAssertEqual(result[1], [n - 1, 0], "max")
                XCTAssertEqual(result[2], [0], "min")
                XCTAssertEqual(result[3], (0..<worldSize).flatMap { [Float($0), Float(10 * $0)] }, "allGather")
                XCTAssertEqual(result[4], (0..<worldSize).map { Float($0 + 100) }, "allGather Int")
                XCTAssertEqual(result[5], [n - 1 + 0.5, 7], "broadcast from the last rank")
                XCTAssertEqual(result[6], [1], "string broadcast")
                XCTAssertEqual(result[7], [n - 1], "mean")
            }
        }
    }

    func testSingleProcessCommunicatorLeavesBuffersAlone() {
        let single = SingleProcessCommunicator()
        var values: [Float] = [3, 4]
        single.allReduce(&values, .sum)
        single.broadcast(&values)
        XCTAssertEqual(values, [3, 4])
        XCTAssertEqual(single.allGather(values), [3, 4])
        let x = Tensor(shape: [2], scalars: [1, 2]).requiringGrad()
        XCTAssertTrue(single.allGather(x) === x, "one rank: allGather is the identity, no copy")
        XCTAssertEqual(Communicators.defaultThreadsPerRank(single, cores: 8), 8)
    }

    func testLaunchDetectionAndMessageForABuildWithoutMPI() throws {
        XCTAssertNil(Communicators.launchedWorldSize(environment: [:]))
        XCTAssertEqual(Communicators.launchedWorldSize(environment: ["OMPI_COMM_WORLD_SIZE": "3"]), 3)
        XCTAssertEqual(Communicators.launchedWorldSize(environment: ["SLURM_STEP_ID": "0", "SLURM_NTASKS": "4"]), 4)
        XCTAssertNil(Communicators.launchedWorldSize(environment: ["SLURM_NTASKS": "4"]), "an allocation, not a launched step")
        XCTAssertEqual(try Communicators.fromEnvironment(environment: [:]).worldSize, 1)
        if !Communicators.isMPIAvailable {
            XCTAssertThrowsError(try Communicators.fromEnvironment(environment: ["OMPI_COMM_WORLD_SIZE": "2"])) { error in
                XCTAssertTrue("\(error)".contains("built without MPI: rebuild with --traits MPI"), "\(error)")
            }
        }
    }

    func testDifferentiableAllGatherMatchesFiniteDifferences() {
        for worldSize in [2, 3] {
            let input = testTensor([worldSize * 2, 3], seed: 3)
            checkDistributedGradients(worldSize: worldSize, globalInput: input) { part, _, c in
                let gathered = c.allGather(part)          // [N·2, 3]
                return (gathered * gathered).sum(axes: [1]) * Float(c.rank + 1)
            }
        }
    }

    func testAllGatherBackwardIsTheSumOverRanksOfThisRanksSlice() {
        let gradients = LocalGroupCommunicator.run(worldSize: 3) { c -> [Float] in
            let x = Tensor(shape: [1, 2], scalars: [1, 1]).requiringGrad()
            let weights = Tensor(shape: [3, 2], scalars: (0..<6).map { Float($0 + 10 * c.rank) })
            (c.allGather(x) * weights).sum().backward()
            return x.grad?.scalars ?? []
        }
        // Rank r's slice is row r of every rank's weights: Σ_k (2r + j + 10k) = 3(2r + j) + 30.
        XCTAssertEqual(gradients, [[30, 33], [36, 39], [42, 45]])
    }

    /// Input gradients through SyncBatchNorm (whose statistics couple every rank's samples),
    /// with a shared scale and shift after it; the layer's own weight and bias gradients are
    /// compared with BatchNorm2d's over the global batch in the next test.
    func testSyncBatchNormMatchesFiniteDifferences() {
        for worldSize in [2, 3] {
            let input = testTensor([worldSize * 2, 2, 2, 2], seed: 5)
            let affine = testTensor([2, 2], seed: 6, low: 0.5, high: 1.5)  // rows: scale, shift
            checkDistributedGradients(worldSize: worldSize, globalInput: input, shared: affine) { part, shared, c in
                let norm = BatchNorm2d(2)
                SyncBatchNorm.convert(norm, communicator: c)
                let normalized = norm(part)
                guard let shared else { return normalized }
                let scale = shared.slice(axis: 0, 0..<1).reshape([1, 2, 1, 1])
                let shift = shared.slice(axis: 0, 1..<2).reshape([1, 2, 1, 1])
                return normalized * normalized * scale + shift
            }
        }
    }

    func testSyncBatchNormOverRanksEqualsBatchNormOverTheGlobalBatch() {
        let worldSize = 3
        let input = testTensor([worldSize * 2, 3, 2, 2], seed: 8)
        let reference = BatchNorm2d(3)
        let x = input.contiguousCopy().requiringGrad()
        let projection = testTensor([worldSize * 2, 3, 2, 2], seed: 9)
        let y = reference.callAsFunctionThenReLU(x)
        (y * projection).sum().backward()
        let perRank = LocalGroupCommunicator.run(worldSize: worldSize) { c -> [[Float]] in
            let norm = BatchNorm2d(3)
            XCTAssertEqual(SyncBatchNorm.convert(norm, communicator: c), 1)
            let range = c.rank * 2 ..< (c.rank + 1) * 2
            let part = input.slice(axis: 0, range).contiguousCopy().requiringGrad()
            let out = norm.callAsFunctionThenReLU(part)
            (out * projection.slice(axis: 0, range)).sum().backward()
            return [out.scalars, part.grad?.scalars ?? [], norm.weight?.grad?.scalars ?? [],
                    norm.runningMean?.scalars ?? [], norm.runningVariance?.scalars ?? []]
        }
        assertClose(perRank.flatMap { $0[0] }, y.scalars, rtol: 1e-4, atol: 1e-5, "outputs")
        assertClose(perRank.flatMap { $0[1] }, x.grad?.scalars ?? [], rtol: 1e-4, atol: 1e-5, "input gradients")
        let weightGradient = (0..<3).map { channel in perRank.reduce(Float(0)) { $0 + $1[2][channel] } }
        assertClose(weightGradient, reference.weight?.grad?.scalars ?? [], rtol: 1e-4, atol: 1e-5, "weight gradient summed over ranks")
        for rank in perRank {
            assertClose(rank[3], reference.runningMean?.scalars ?? [], rtol: 1e-5, atol: 1e-6, "running mean")
            assertClose(rank[4], reference.runningVariance?.scalars ?? [], rtol: 1e-5, atol: 1e-6, "running variance (unbiased, global count)")
        }
    }

    /// Ranks with different numbers of samples, one of them a single sample (too few for a
    /// plain BatchNorm) and, in the second layout, one with none: the combined statistics are
    /// still the global batch's (Chan et al.'s combination of counts, means and variances).
    func testSyncBatchNormOverRanksOfDifferentSizesEqualsBatchNormOverTheGlobalBatch() {
        let input = testTensor([6, 4], seed: 21, low: 2, high: 5)   // off-centre: the combination must not cancel
        let projection = testTensor([6, 4], seed: 22)
        let reference = BatchNorm1d(4)
        let x = input.contiguousCopy().requiringGrad()
        let y = reference(x)
        (y * projection).sum().backward()
        for sizes in [[1, 2, 3], [0, 1, 2, 3]] {
            let starts = sizes.indices.map { sizes[..<$0].reduce(0, +) }
            let perRank = LocalGroupCommunicator.run(worldSize: sizes.count) { c -> [[Float]] in
                let norm = BatchNorm1d(4)
                SyncBatchNorm.convert(norm, communicator: c)
                let range = starts[c.rank] ..< starts[c.rank] + sizes[c.rank]
                let part = input.slice(axis: 0, range).contiguousCopy().requiringGrad()
                let out = norm(part)
                (out * projection.slice(axis: 0, range)).sum().backward()
                return [out.scalars, part.grad?.scalars ?? [], norm.weight?.grad?.scalars ?? [0, 0, 0, 0],
                        norm.bias?.grad?.scalars ?? [0, 0, 0, 0], norm.runningMean?.scalars ?? [], norm.runningVariance?.scalars ?? []]
            }
            let layout = "ranks of \(sizes) samples"
            assertClose(perRank.flatMap { $0[0] }, y.scalars, rtol: 1e-4, atol: 1e-5, "outputs, \(layout)")
            assertClose(perRank.flatMap { $0[1] }, x.grad?.scalars ?? [], rtol: 1e-4, atol: 1e-5, "input gradients, \(layout)")
            for (slot, name) in [(2, "weight"), (3, "bias")] {
                let summed = (0..<4).map { channel in perRank.reduce(Float(0)) { $0 + $1[slot][channel] } }
                let expected = (name == "weight" ? reference.weight : reference.bias)?.grad?.scalars ?? []
                assertClose(summed, expected, rtol: 1e-4, atol: 1e-5, "\(name) gradient summed over ranks, \(layout)")
            }
            for rank in perRank {
                assertClose(rank[4], reference.runningMean?.scalars ?? [], rtol: 1e-5, atol: 1e-6, "running mean, \(layout)")
                assertClose(rank[5], reference.runningVariance?.scalars ?? [], rtol: 1e-5, atol: 1e-6, "running variance, \(layout)")
            }
        }
    }
}

import SSLTensor
import SSLTestSupport
import XCTest
import Foundation

/// Tensor creation, views, read-out, random generation and the non-differentiable ops.
final class TensorTests: XCTestCase {
    func testCreationAndReadOut() {
        let x = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(x.shape, [2, 3])
        XCTAssertEqual(x.strides, [3, 1])
        XCTAssertEqual(x[1, 2], 6)
        XCTAssertEqual(Tensor.zeros([2, 2]).scalars, [0, 0, 0, 0])
        XCTAssertEqual(Tensor.ones([3]).scalars, [1, 1, 1])
        XCTAssertEqual(Tensor.full([2], value: 7).scalars, [7, 7])
        XCTAssertEqual(Tensor.arange(0, 5).scalars, [0, 1, 2, 3, 4])
        XCTAssertEqual(Tensor.arange(1, 2, step: 0.25).scalars, [1, 1.25, 1.5, 1.75])
        XCTAssertEqual(Tensor(2.5).item(), 2.5)
        XCTAssertEqual(Tensor([[1, 2], [3, 4]]).shape, [2, 2])
    }

    func testViewsShareStorageAndContiguousCopiesOnlyWhenNeeded() {
        let x = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        let t = x.transposed()
        XCTAssertTrue(t.storage === x.storage)
        XCTAssertFalse(t.isContiguous)
        XCTAssertEqual(t.scalars, [1, 4, 2, 5, 3, 6])
        XCTAssertTrue(x.contiguous() === x)
        XCTAssertFalse(t.contiguous().storage === x.storage)
        let r = x.reshape([3, -1])
        XCTAssertTrue(r.storage === x.storage)
        XCTAssertEqual(r.shape, [3, 2])
        XCTAssertEqual(x.permute([1, 0]).scalars, t.scalars)
        XCTAssertEqual(x.slice(axis: 1, 0..<3, step: 2).scalars, [1, 3, 4, 6])
        XCTAssertEqual(Tensor([1, 2]).reshape([2, 1]).expand([2, 3]).scalars, [1, 1, 1, 2, 2, 2])
        XCTAssertEqual(x.flatten(startAxis: 0).shape, [6])
        XCTAssertEqual(x.unsqueeze(1).shape, [2, 1, 3])
        XCTAssertEqual(x.unsqueeze(1).squeeze().shape, [2, 3])
    }

    func testBroadcastingArithmeticValues() {
        let a = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        XCTAssertEqual((a + Tensor([10, 20, 30])).scalars, [11, 22, 33, 14, 25, 36])
        XCTAssertEqual((a * Tensor(shape: [2, 1], scalars: [2, 3])).scalars, [2, 4, 6, 12, 15, 18])
        XCTAssertEqual((a - 1).scalars, [0, 1, 2, 3, 4, 5])
        XCTAssertEqual((12 / a).scalars, [12, 6, 4, 3, 2.4, 2])
        // Strided operands go through the general path.
        XCTAssertEqual((a.transposed() + a.transposed()).scalars, [2, 8, 4, 10, 6, 12])
    }

    func testReductionValues() {
        let x = Tensor(shape: [2, 3], scalars: [1, 5, 3, 4, 2, 6])
        XCTAssertEqual(x.sum().item(), 21)
        XCTAssertEqual(x.sum(axes: [0]).scalars, [5, 7, 9])
        XCTAssertEqual(x.sum(axes: [1], keepDims: true).shape, [2, 1])
        XCTAssertEqual(x.mean(axes: [1]).scalars, [3, 4])
        XCTAssertEqual(x.max(axes: [1]).scalars, [5, 6])
        XCTAssertEqual(x.min(axes: [0]).scalars, [1, 2, 3])
        assertClose(x.variance(axes: [1]), shape: [2], [4, 4])
        assertClose(x.variance(axes: [1], correction: 0), shape: [2], [8.0 / 3, 8.0 / 3])
        // Non-adjacent axes take the permuting path.
        let y = testTensor([2, 3, 4], seed: 1)
        let expected = (0..<3).map { j in
            (0..<2).flatMap { i in (0..<4).map { k in y[i, j, k] } }.reduce(0, +)
        }
        assertClose(y.sum(axes: [0, 2]).scalars, expected, rtol: 1e-5)
    }

    func testLargeElementwiseAndReductionsSplitAcrossThreadsGiveSameAnswer() {
        let x = testTensor([300, 517], seed: 2)
        let single = ComputeContext(threadCount: 1)
        let (sumSingle, expSingle) = ComputeContext.$current.withValue(single) {
            (x.sum(axes: [0]).scalars, x.exp().scalars)
        }
        XCTAssertEqual(x.sum(axes: [0]).scalars, sumSingle)
        XCTAssertEqual(x.exp().scalars, expSingle)
    }

    func testRandomGeneratorIsDeterministicAndStreamsDiffer() {
        var a = RandomGenerator(seed: 42), b = RandomGenerator(seed: 42)
        XCTAssertEqual((0..<5).map { _ in a.next() }, (0..<5).map { _ in b.next() })
        var s1 = RandomGenerator(seed: 1, stream: [0, 5]), s2 = RandomGenerator(seed: 1, stream: [0, 6])
        XCTAssertNotEqual(s1.next(), s2.next())
        var generator = RandomGenerator(seed: 3)
        let normal = Tensor.normal([20_000], mean: 1, std: 2, generator: &generator)
        XCTAssertEqual(normal.mean().item(), 1, accuracy: 0.05)
        XCTAssertEqual(normal.variance().item().squareRoot(), 2, accuracy: 0.05)
        let uniform = Tensor.uniform([10_000], low: -3, high: 5, generator: &generator).scalars
        XCTAssertGreaterThanOrEqual(uniform.min()!, -3)
        XCTAssertLessThan(uniform.max()!, 5)
        XCTAssertEqual(Set(generator.permutation(50)), Set(0..<50))
        let restored = RandomGenerator(state: generator.state)
        var copy = restored
        XCTAssertEqual(copy.next(), generator.next())
    }

    func testInitialisersUsePyTorchBounds() {
        var generator = RandomGenerator(seed: 9)
        // Linear default: kaiming_uniform(a = √5) → bound 1/√fanIn.
        let w = Tensor.kaimingUniform([64, 100], a: Float(5).squareRoot(), generator: &generator).scalars
        XCTAssertLessThanOrEqual(w.map { Swift.abs($0) }.max()!, 0.1)
        XCTAssertGreaterThan(w.map { Swift.abs($0) }.max()!, 0.095)
        let conv = Tensor.kaimingNormal([32, 16, 3, 3], generator: &generator)
        XCTAssertEqual(conv.variance().item().squareRoot(), (Float(2) / 144).squareRoot(), accuracy: 0.01)
        XCTAssertEqual(Tensor.fans(of: [32, 16, 3, 3]).fanIn, 144)
        XCTAssertEqual(Tensor.fans(of: [32, 16, 3, 3]).fanOut, 288)
        let xavier = Tensor.xavierUniform([20, 30], generator: &generator).scalars
        XCTAssertLessThanOrEqual(xavier.map { Swift.abs($0) }.max()!, (Float(6) / 50).squareRoot())
    }

    func testArgmaxTopKAndComparisons() {
        let x = Tensor(shape: [2, 4], scalars: [1, 9, 3, 9, 7, 2, 8, 0])
        XCTAssertEqual(x.argmax(axis: 1).scalars, [1, 2])
        XCTAssertEqual(x.argmax(axis: 0).scalars, [1, 0, 1, 0])
        let (values, indices) = x.topK(2, axis: 1)
        XCTAssertEqual(values.scalars, [9, 9, 8, 7])
        XCTAssertEqual(indices.scalars, [1, 3, 2, 0])
        XCTAssertEqual(x.isGreater(than: 5).scalars, [0, 1, 0, 1, 1, 0, 1, 0])
        XCTAssertEqual(x.isEqual(to: Tensor([9])).scalars, [0, 1, 0, 1, 0, 0, 0, 0])
        XCTAssertEqual(x.isLessOrEqual(to: Tensor(shape: [2, 1], scalars: [3, 2])).scalars, [1, 0, 1, 0, 0, 1, 0, 1])
    }

    func testJoiningAndIndexingValues() {
        let a = Tensor(shape: [1, 2], scalars: [1, 2]), b = Tensor(shape: [2, 2], scalars: [3, 4, 5, 6])
        XCTAssertEqual(Tensor.concat([a, b]).scalars, [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(Tensor.concat([b, b], axis: 1).shape, [2, 4])
        XCTAssertEqual(Tensor.stack([a, a], axis: 0).shape, [2, 1, 2])
        XCTAssertEqual(Tensor.arange(0, 7).chunk(3).map(\.scalars), [[0, 1, 2], [3, 4, 5], [6]])
        XCTAssertEqual(b.gather(axis: 1, index: IntTensor(shape: [2, 1], scalars: [1, 0])).scalars, [4, 5])
        XCTAssertEqual(b.indexSelect(axis: 0, indices: [1, 1, 0]).scalars, [5, 6, 5, 6, 3, 4])
        XCTAssertEqual(b.maskedFill(Tensor([0, 1]), value: -1).scalars, [3, -1, 5, -1])
        XCTAssertEqual(b.diagonalFill(0).scalars, [0, 4, 5, 0])
    }

    func testBatchNormUpdatesRunningStatisticsLikePyTorch() {
        // Channel values 1, 2, 3, 4 (batch 4): mean 2.5, unbiased variance 5/3.
        let x = Tensor(shape: [4, 1], scalars: [1, 2, 3, 4])
        let runningMean = Tensor.zeros([1]), runningVariance = Tensor.ones([1])
        let y = x.batchNorm(runningMean: runningMean, runningVariance: runningVariance,
                            weight: nil, bias: nil, training: true, momentum: 0.1)
        assertClose(runningMean, shape: [1], [0.25])
        assertClose(runningVariance, shape: [1], [0.9 + 0.1 * 5.0 / 3], rtol: 1e-5)
        let std = (1.25 + 1e-5 as Float).squareRoot()
        assertClose(y, shape: [4, 1], [-1.5 / std, -0.5 / std, 0.5 / std, 1.5 / std], rtol: 1e-5)
    }

    func testDropoutKeepsExpectationAndIsIdentityInEvaluation() {
        var generator = RandomGenerator(seed: 1)
        let x = Tensor.ones([10_000])
        let dropped = x.dropout(probability: 0.25, training: true, generator: &generator)
        XCTAssertEqual(dropped.mean().item(), 1, accuracy: 0.03)
        XCTAssertTrue(Set(dropped.scalars).isSubset(of: [0, 1 / 0.75]))
        XCTAssertTrue(x.dropout(probability: 0.25, training: false, generator: &generator) === x)
    }

    func testBufferPoolReusesReleasedBuffers() {
        let pool = BufferPool(capacityBytes: 1 << 26)
        let context = ComputeContext(threadCount: 1, bufferPool: pool)
        ComputeContext.$current.withValue(context) {
            for _ in 0..<10 { _ = Tensor.zeros([100_000]) }
        }
        let stats = pool.statistics
        XCTAssertEqual(stats.misses, 1)
        XCTAssertEqual(stats.hits, 9)
        XCTAssertEqual(BufferPool.sizeClass(for: 100_000) % 16, 0)
        XCTAssertGreaterThanOrEqual(BufferPool.sizeClass(for: 100_000), 100_000)
        XCTAssertLessThanOrEqual(BufferPool.sizeClass(for: 100_000), 112_500)
    }

    /// A full pool makes room for a new size by dropping cached buffers of other sizes, so a
    /// workload that changes shapes keeps reusing memory.
    func testFullBufferPoolEvictsOtherSizesToCacheTheNewOne() {
        let small = BufferPool.sizeClass(for: 10_000), large = BufferPool.sizeClass(for: 20_000)
        let pool = BufferPool(capacityBytes: 4 * (2 * small + large) - 1)
        let a = pool.allocate(count: 10_000), b = pool.allocate(count: 10_000), c = pool.allocate(count: 20_000)
        pool.release(a.pointer, capacity: a.capacity)
        pool.release(b.pointer, capacity: b.capacity)
        XCTAssertEqual(pool.statistics.cachedBytes, 8 * small)
        pool.release(c.pointer, capacity: c.capacity)   // does not fit next to both small buffers
        XCTAssertEqual(pool.statistics.cachedBytes, 4 * (small + large))
        let misses = pool.statistics.misses
        let again = pool.allocate(count: 20_000)
        XCTAssertEqual(pool.statistics.misses, misses, "the large buffer was cached")
        pool.release(again.pointer, capacity: again.capacity)
    }
}

/// The vectorised exponential against the C library's double-precision `exp`.
final class ExponentialAccuracyTests: XCTestCase {
    func testExpIsAccurateAcrossTheFloatRangeAndHandlesSpecialValues() {
        var inputs: [Float] = stride(from: Float(-87), through: 88, by: 0.0137).map { $0 }
        inputs += [0, -0.0, 1e-8, -1e-8, 0.5, -0.5, 88.3]
        let outputs = Tensor(inputs).exp().scalars
        var worst: Double = 0
        for (x, y) in zip(inputs, outputs) {
            let reference = Foundation.exp(Double(x))
            worst = Swift.max(worst, Swift.abs(Double(y) - reference) / reference)
        }
        XCTAssertLessThan(worst, 3e-7, "worst relative error of exp")
        let special = Tensor([100, -100, .infinity, -.infinity, .nan]).exp().scalars
        XCTAssertEqual(special[0], .infinity)
        XCTAssertEqual(special[1], 0)
        XCTAssertEqual(special[2], .infinity)
        XCTAssertEqual(special[3], 0)
        XCTAssertTrue(special[4].isNaN)
        let sigmoid = Tensor([-100, 0, 100]).sigmoid().scalars
        XCTAssertEqual(sigmoid, [0, 0.5, 1])
    }
}

/// Regressions found in review: NaN must propagate, and idle conv workers must not add garbage.
final class ReviewRegressionTests: XCTestCase {
    func testNaNPropagatesThroughReLUMaxAndMin() {
        XCTAssertTrue(Tensor([.nan, -1, 2]).relu().scalars[0].isNaN)
        let long = Tensor((0..<20).map { $0 == 13 ? Float.nan : Float($0) })
        XCTAssertTrue(long.max().item().isNaN)
        XCTAssertTrue(long.min().item().isNaN)
        let columns = Tensor(shape: [3, 2], scalars: [1, 2, .nan, 0, 5, 1])
        let maxima = columns.max(axes: [0]).scalars
        XCTAssertTrue(maxima[0].isNaN)
        XCTAssertEqual(maxima[1], 2)
    }

    func testConvolutionWeightGradientWithMoreThreadsThanBusyWorkers() {
        // 4 threads over a batch of 6 leave one worker without images.
        let x = testTensor([6, 2, 5, 5], seed: 1), w = testTensor([3, 2, 3, 3], seed: 2)
        func weightGradient(threads: Int) -> [Float] {
            ComputeContext.$current.withValue(ComputeContext(threadCount: threads)) {
                let weight = w.contiguousCopy().requiringGrad()
                x.conv2d(weight: weight, stride: 2, padding: 1).sum().backward()
                return weight.grad?.scalars ?? []
            }
        }
        assertClose(weightGradient(threads: 4), weightGradient(threads: 1), rtol: 1e-5, atol: 1e-6)
    }
}

import SSLTensor
import SSLTestSupport
import XCTest

/// Autograd semantics: accumulation, zeroing, noGrad, detach, long graphs.
final class AutogradTests: XCTestCase {
    func testGradientsAccumulateAcrossBackwardCallsUntilZeroed() {
        let w = Tensor([1, 2, 3]).requiringGrad()
        (w * w).sum().backward()              // d/dw Σw² = 2w
        assertClose(w.grad!, shape: [3], [2, 4, 6])
        (w * 3).sum().backward()              // + 3
        assertClose(w.grad!, shape: [3], [5, 7, 9])
        w.zeroGrad()
        XCTAssertNil(w.grad)
        w.sum().backward()
        assertClose(w.grad!, shape: [3], [1, 1, 1])
    }

    func testSharedSubexpressionReceivesSummedGradient() {
        let x = Tensor([2]).requiringGrad()
        let y = x * x          // used twice below
        let z = y + y * x      // z = x² + x³ → dz/dx = 2x + 3x² = 16
        z.sum().backward()
        assertClose(x.grad!, shape: [1], [16])
    }

    func testLeafGradientDoesNotAliasOtherGradients() {
        // add's rule returns the same gradient to both inputs; each leaf must own its copy.
        let a = Tensor([1, 1]).requiringGrad(), b = Tensor([1, 1]).requiringGrad()
        (a + b).sum().backward()
        a.grad!.addInPlace(Tensor([10, 10]))
        assertClose(b.grad!, shape: [2], [1, 1])
    }

    func testNoGradRecordsNothingAndDetachCutsTheGraph() {
        let w = Tensor([1, 2]).requiringGrad()
        let inside = noGrad { w * 2 }
        XCTAssertFalse(inside.requiresGrad)
        XCTAssertTrue((w * 2).requiresGrad)
        let cut = (w * 2).detach()
        XCTAssertFalse(cut.requiresGrad)
        XCTAssertTrue(cut.isLeaf)
        let y = (w * cut).sum()   // gradient flows only through the first factor
        y.backward()
        assertClose(w.grad!, shape: [2], [2, 4])
    }

    func testRetainGraphAllowsASecondBackward() {
        let x = Tensor([3]).requiringGrad()
        let y = (x * x).sum()
        y.backward(retainGraph: true)
        y.backward()
        assertClose(x.grad!, shape: [1], [12])
    }

    func testNonScalarBackwardTakesAnExplicitGradient() {
        let x = Tensor([1, 2, 3]).requiringGrad()
        (x * x).backward(gradient: Tensor([1, 0, 2]))
        assertClose(x.grad!, shape: [3], [2, 0, 12])
    }

    func testHundredThousandNodeChainNeitherOverflowsInBackwardNorOnRelease() {
        let x = Tensor([1]).requiringGrad()
        var y = x
        for _ in 0..<100_000 { y = y + 0 }
        y.sum().backward(retainGraph: true)
        assertClose(x.grad!, shape: [1], [1])
        // Releasing the last node of the chain must not recurse 100k deep.
        y = Tensor([0])
        XCTAssertEqual(y.count, 1)

        // The same chain released without ever running backward.
        var z = x
        for _ in 0..<100_000 { z = z * 1 }
        z = Tensor([0])
        XCTAssertEqual(z.count, 1)
    }

    func testFrozenLeafReceivesNoGradient() {
        let frozen = Tensor([1, 2])
        let trained = Tensor([3, 4]).requiringGrad()
        (frozen * trained).sum().backward()
        XCTAssertNil(frozen.grad)
        assertClose(trained.grad!, shape: [2], [1, 2])
        trained.setRequiresGrad(false)
        XCTAssertFalse((frozen * trained).requiresGrad)
    }
}

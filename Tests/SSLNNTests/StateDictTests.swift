import SSLNN
import SSLTensor
import SSLTestSupport
import XCTest

/// Loading state dicts: strict mode names every problem; values load in place.
final class StateDictTests: XCTestCase {
    func testStrictLoadNamesEveryMissingUnexpectedAndMismatchedKey() {
        let target = MLP([3, 4, 2])
        var state = MLP([3, 4, 2]).stateDict()
        state["0.bias"] = nil
        state["extra.weight"] = Tensor.zeros([1])
        state["2.weight"] = Tensor.zeros([5, 5])
        XCTAssertThrowsError(try target.loadStateDict(state)) { error in
            guard let mismatch = error as? StateDictMismatch else { return XCTFail("unexpected error \(error)") }
            XCTAssertEqual(mismatch.missingKeys, ["0.bias"])
            XCTAssertEqual(mismatch.unexpectedKeys, ["extra.weight"])
            XCTAssertEqual(mismatch.shapeMismatches, [.init(key: "2.weight", stateShape: [5, 5], moduleShape: [2, 4])])
            let text = String(describing: mismatch)
            XCTAssertTrue(text.contains("missing keys: 0.bias"), text)
            XCTAssertTrue(text.contains("unexpected keys: extra.weight"), text)
            XCTAssertTrue(text.contains("size mismatch for 2.weight"), text)
        }
    }

    func testNonStrictLoadCopiesMatchingKeysInPlaceAndReportsTheRest() throws {
        let source = MLP([3, 4, 2]), target = MLP([3, 4, 2])
        let weightBefore = target.layers[0].ownParameters[0].tensor
        var state = source.stateDict()
        state["0.bias"] = nil
        let report = try target.loadStateDict(state, strict: false)
        XCTAssertEqual(report.missingKeys, ["0.bias"])
        XCTAssertTrue(target.layers[0].ownParameters[0].tensor === weightBefore, "loaded in place")
        XCTAssertEqual(weightBefore.scalars, source.layers[0].ownParameters[0].tensor.scalars)
    }

    func testStrictFailureLoadsNothing() {
        let target = MLP([3, 4, 2])
        let before = target.parameters().map(\.scalars)
        var state = MLP([3, 4, 2]).stateDict()
        state["unexpected"] = Tensor.zeros([1])
        XCTAssertThrowsError(try target.loadStateDict(state))
        XCTAssertEqual(target.parameters().map(\.scalars), before)
    }
}

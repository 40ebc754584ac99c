import Foundation
import SSLNN
import SSLTensor
import XCTest

/// Decodes well over a thousand structurally damaged safetensors files (headers, metadata maps,
/// data sections, every dtype the reader knows) and requires each to decode or throw a
/// `SafeTensorsError` naming the file: never a trap, a crash or a hang (issue 17).
final class SafeTensorsHeaderFuzzTests: XCTestCase {
    /// A small file written by `SafeTensors.encode`: F32 and I64 tensors, a scalar of each, an
    /// empty tensor, and a metadata map. Values are small whole numbers, exact in every dtype.
    private func makeBaseFile() throws -> [UInt8] {
        var state = StateDict()
        state["layer.weight", isInteger: false] = Tensor(shape: [2, 3], scalars: [0, 1, 2, 3, 4, 5])
        state["layer.bias", isInteger: false] = Tensor(shape: [3], scalars: [1, 0, 1])
        state["scalar", isInteger: false] = Tensor(shape: [], scalars: [2])
        state["empty", isInteger: false] = Tensor(shape: [0, 4], scalars: [])
        state["counts", isInteger: true] = Tensor(shape: [4], scalars: [0, 1, 2, 3])
        state["step", isInteger: true] = Tensor(shape: [], scalars: [5])
        return [UInt8](try SafeTensors.encode(state, metadata: ["format": "pt", "note": "fuzz \"quoted\""]))
    }

    func testAThousandDamagedHeadersDecodeOrThrowNamingTheFile() throws {
        let base = try HeaderFuzzImage(try makeBaseFile())
        XCTAssertEqual(base.entries.map(\.dtype), ["F32", "F32", "F32", "F32", "I64", "I64"])

        // Every dtype the reader knows reads back the values it was given.
        for dtype in HeaderFuzzImage.dtypes {
            let mutation = HeaderFuzzMutations.convert(base, to: dtype)
            let path = "dtype-\(dtype).safetensors"
            let (state, metadata) = try SafeTensors.decode(Data(try base.encoded(mutation)), path: path)
            try Self.checkDecoded(state, metadata, equal: mutation.expectedImage(from: base), label: mutation.label)
        }

        // SSL_FUZZ_SEED and SSL_FUZZ_COUNT explore beyond the fixed suite.
        let environment = ProcessInfo.processInfo.environment
        var generator = RandomGenerator(seed: environment["SSL_FUZZ_SEED"].flatMap { UInt64($0) } ?? 23)
        let count = environment["SSL_FUZZ_COUNT"].flatMap { Int($0) } ?? 1_200
        let mutations = HeaderFuzzMutations(base: base).all(count: count, generator: &generator)
        let required = (throwing: mutations.filter { $0.expectation == .throwsError }.count,
                        decoding: mutations.filter { [.decodes, .decodesTheSameValues].contains($0.expectation) }.count)
        var decoded: [HeaderFuzzMutation.Kind: Int] = [:], threw: [HeaderFuzzMutation.Kind: Int] = [:]
        var slowest = 0.0
        let start = Date()
        for (index, mutation) in mutations.enumerated() {
            let path = "/fuzz/\(index)-\(mutation.kind).safetensors"
            let bytes = try base.encoded(mutation)
            let began = Date()
            guard let outcome = headerFuzzRun(within: 10, { try SafeTensors.decode(Data(bytes), path: path) }) else {
                return XCTFail("mutation \(index) (\(mutation.kind)) \(mutation.label): decoding hung")
            }
            let seconds = Date().timeIntervalSince(began)
            slowest = max(slowest, seconds)
            XCTAssertLessThan(seconds, 2, "mutation \(index) (\(mutation.kind)) \(mutation.label) took \(seconds) s")
            switch outcome {
            case .success(let (state, metadata)):
                decoded[mutation.kind, default: 0] += 1
                XCTAssertNotEqual(mutation.expectation, .throwsError, "mutation \(index) (\(mutation.kind)) \(mutation.label) decoded")
                for entry in state.entries {
                    XCTAssertEqual(entry.tensor.count, entry.tensor.shape.reduce(1, *), "mutation \(index) \(mutation.label)")
                }
                if mutation.expectation == .decodesTheSameValues {
                    try Self.checkDecoded(state, metadata, equal: mutation.expectedImage(from: base), label: "\(index) \(mutation.label)")
                }
            case .failure(let error):
                threw[mutation.kind, default: 0] += 1
                XCTAssertFalse([HeaderFuzzMutation.Expectation.decodes, .decodesTheSameValues].contains(mutation.expectation),
                               "mutation \(index) (\(mutation.kind)) \(mutation.label) threw \(error)")
                guard let failure = error as? SafeTensorsError else {
                    XCTFail("mutation \(index) (\(mutation.kind)) \(mutation.label) threw \(type(of: error)): \(error)")
                    continue
                }
                XCTAssertEqual(failure.path, path)
                XCTAssertTrue(failure.description.contains(path), "mutation \(index) \(mutation.label): \(failure)")
            }
        }

        XCTAssertGreaterThanOrEqual(mutations.count, 1_000)
        let kinds = HeaderFuzzMutation.Kind.allCases.map { "\($0): \(decoded[$0] ?? 0) decoded / \(threw[$0] ?? 0) threw" }
        print("""
            SafeTensorsHeaderFuzzTests: \(mutations.count) mutations in \(String(format: "%.2f", Date().timeIntervalSince(start))) s: \
            \(decoded.values.reduce(0, +)) decoded, \(threw.values.reduce(0, +)) threw naming the file \
            (\(required.throwing) had to throw, \(required.decoding) to decode); slowest \(String(format: "%.3f", slowest)) s
              \(kinds.joined(separator: "\n  "))
            """)
    }

    /// Requires `state` and `metadata` to hold exactly the image's tensors (names, shapes,
    /// values, integer flags) and metadata.
    private static func checkDecoded(_ state: StateDict, _ metadata: [String: String], equal image: HeaderFuzzImage,
                                     label: String) throws {
        XCTAssertEqual(Set(state.keys), Set(image.entries.map(\.name)), label)
        XCTAssertEqual(metadata, image.metadata ?? [:], label)
        for entry in image.entries {
            let decoded = try XCTUnwrap(state.entry(named: entry.name), label)
            XCTAssertEqual(decoded.tensor.shape, entry.shape, "\(label): \(entry.name)")
            XCTAssertEqual(decoded.tensor.scalars, entry.values, "\(label): \(entry.name)")
            XCTAssertEqual(decoded.isInteger, !["F64", "F32", "F16", "BF16"].contains(entry.dtype), "\(label): \(entry.name)")
        }
    }
}

// MARK: - Running with a time limit

/// Work handed to another thread, and its outcome.
private final class HeaderFuzzTimedWork<Value>: @unchecked Sendable {
    let body: () throws -> Value
    var outcome: Result<Value, Error>?
    let done = DispatchSemaphore(value: 0)
    init(_ body: @escaping () throws -> Value) { self.body = body }
}

/// Runs `body` on its own thread (8 MiB stack); nil when it has not finished within `seconds`.
private func headerFuzzRun<Value>(within seconds: Double, _ body: @escaping () throws -> Value) -> Result<Value, Error>? {
    let work = HeaderFuzzTimedWork(body)
    let thread = Thread {
        work.outcome = Result { try work.body() }
        work.done.signal()
    }
    thread.stackSize = 8 << 20
    thread.start()
    guard work.done.wait(timeout: .now() + seconds) == .success else { return nil }
    return work.outcome
}

import Foundation
import SSLNN
import SSLTensor
import SSLTestSupport
import XCTest

/// safetensors: round trips, files written by Python, and every malformed header.
final class SafeTensorsTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("safetensors-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private var fixtures: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    }

    func testModuleStateRoundTripsThroughAFile() throws {
        let model = ConvNet(channels: [4], inputChannels: 1)
        _ = model(testTensor([2, 1, 4, 4], seed: 1))
        let path = directory.appendingPathComponent("model.safetensors").path
        try SafeTensors.write(model.stateDict(), to: path, metadata: ["format": "pt", "note": "quote \" and \\ ok"])
        let (state, metadata) = try SafeTensors.readWithMetadata(from: path)
        XCTAssertEqual(metadata, ["format": "pt", "note": "quote \" and \\ ok"])
        XCTAssertEqual(state.keys, model.stateDict().keys)
        XCTAssertEqual(state.entry(named: "stages.0.bn1.num_batches_tracked")?.isInteger, true)
        let restored = ConvNet(channels: [4], inputChannels: 1)
        try restored.loadStateDict(state)
        for (a, b) in zip(model.stateDict().entries, restored.stateDict().entries) {
            XCTAssertEqual(a.tensor.scalars, b.tensor.scalars, a.name)
        }
        // Data begins 8-byte aligned, as the format asks.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        let headerLength = bytes.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        XCTAssertEqual((8 + headerLength) % 8, 0)
    }

    func testFileWrittenByPythonLoads() throws {
        let (state, metadata) = try SafeTensors.readWithMetadata(from: fixtures.appendingPathComponent("python_written.safetensors").path)
        XCTAssertEqual(metadata, ["format": "pt", "producer": "fixture"])
        XCTAssertEqual(Set(state.keys), ["layer.weight", "layer.bias", "bn.num_batches_tracked", "half", "scalar64"])
        XCTAssertEqual(state["layer.weight"]?.shape, [2, 3])
        XCTAssertEqual(state["layer.weight"]?.scalars, [0.5, 1, 1.5, 2, 2.5, 3])
        XCTAssertEqual(state["layer.bias"]?.scalars, [-1, 0, 1])
        XCTAssertEqual(state["bn.num_batches_tracked"]?.shape, [])
        XCTAssertEqual(state["bn.num_batches_tracked"]?.item(), 7)
        XCTAssertEqual(state.entry(named: "bn.num_batches_tracked")?.isInteger, true)
        XCTAssertEqual(state["half"]?.scalars, [1.5, -2.25])
        XCTAssertEqual(state["scalar64"]?.scalars, [3.25])
    }

    /// A Python interpreter with the `safetensors` package: `SSL_PYTHON` if set, else python3.
    private func pythonWithSafetensors() -> String? {
        let candidates = [ProcessInfo.processInfo.environment["SSL_PYTHON"], "python3"].compactMap { $0 }
        for candidate in candidates where run(candidate, ["-c", "import safetensors.numpy"]).status == 0 {
            return candidate
        }
        return nil
    }

    private func run(_ executable: String, _ arguments: [String]) -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [executable] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        do { try process.run() } catch { return (-1, "\(error)") }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    func testPythonReadsOurFilesAndWeReadPythonsWhenSafetensorsIsInstalled() throws {
        guard let python = pythonWithSafetensors() else {
            throw XCTSkip("python3 with the safetensors package is not installed (pip install safetensors numpy); the committed fixture covers reading Python's files")
        }
        // Ours → Python: identical keys and values.
        let model = MLP([3, 4, 2], batchNorm: true)
        _ = model(testTensor([5, 3], seed: 2))
        let ours = directory.appendingPathComponent("ours.safetensors").path
        try SafeTensors.write(model.stateDict(), to: ours)
        var expected = "{"
        expected += model.stateDict().entries.map { entry in
            "\"\(entry.name)\": (\(entry.tensor.shape), \(entry.tensor.scalars.map { Double($0) }))"
        }.joined(separator: ", ")
        expected += "}"
        let check = """
            import numpy as np
            from safetensors.numpy import load_file
            loaded = load_file(\(String(reflecting: ours)))
            expected = \(expected)
            assert list(loaded) and set(loaded) == set(expected), (sorted(loaded), sorted(expected))
            for key, (shape, values) in expected.items():
                array = loaded[key]
                assert list(array.shape) == shape, (key, array.shape, shape)
                assert np.array_equal(array.reshape(-1).astype(np.float64), np.array(values)), key
            assert loaded["1.num_batches_tracked"].dtype == np.int64
            print("ok", len(loaded))
            """
        let (status, output) = run(python, ["-c", check])
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains("ok"), output)

        // Python → ours.
        let theirs = directory.appendingPathComponent("theirs.safetensors").path
        let write = """
            import numpy as np
            from safetensors.numpy import save_file
            save_file({"w": np.arange(6, dtype=np.float32).reshape(2, 3) / 4, "n": np.array(9, dtype=np.int64),
                       "d": np.array([1.5, -2.0], dtype=np.float64)}, \(String(reflecting: theirs)), metadata={"k": "v"})
            """
        XCTAssertEqual(run(python, ["-c", write]).status, 0)
        let (state, metadata) = try SafeTensors.readWithMetadata(from: theirs)
        XCTAssertEqual(metadata, ["k": "v"])
        XCTAssertEqual(state["w"]?.scalars, [0, 0.25, 0.5, 0.75, 1, 1.25])
        XCTAssertEqual(state["n"]?.item(), 9)
        XCTAssertEqual(state["d"]?.scalars, [1.5, -2])
    }

    // MARK: Malformed files

    /// A file made of an explicit header (as text) and `dataBytes` zero bytes.
    private func file(header: String, dataBytes: Int, declaredLength: UInt64? = nil) -> Data {
        var data = Data()
        let headerBytes = Array(header.utf8)
        withUnsafeBytes(of: (declaredLength ?? UInt64(headerBytes.count)).littleEndian) { data.append(contentsOf: $0) }
        data.append(contentsOf: headerBytes)
        data.append(contentsOf: [UInt8](repeating: 0, count: dataBytes))
        return data
    }

    private func assertRejects(_ data: Data, mentioning fragment: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try SafeTensors.decode(data, path: "bad.safetensors"), file: file, line: line) { error in
            let text = String(describing: error)
            XCTAssertTrue(text.contains("bad.safetensors"), "names the file: \(text)", file: file, line: line)
            XCTAssertTrue(text.contains(fragment), "expected “\(fragment)” in: \(text)", file: file, line: line)
        }
    }

    func testEveryMalformedHeaderThrowsANamedError() {
        let good = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
        XCTAssertNoThrow(try SafeTensors.decode(file(header: good, dataBytes: 8)))
        assertRejects(Data([1, 2, 3]), mentioning: "shorter than the 8-byte header length")
        assertRejects(file(header: good, dataBytes: 8, declaredLength: 10_000), mentioning: "declares a 10000-byte header")
        assertRejects(file(header: #"{"a":{"dtype":"F32","#, dataBytes: 8), mentioning: "malformed JSON header")
        assertRejects(file(header: "[1, 2]", dataBytes: 0), mentioning: "not an object")
        assertRejects(file(header: #"{"a":{"dtype":"Q8","shape":[2],"data_offsets":[0,2]}}"#, dataBytes: 2),
                      mentioning: "unknown dtype \"Q8\"")
        assertRejects(file(header: #"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, dataBytes: 8),
                      mentioning: "shape [3] and dtype F32 (12 bytes) but data_offsets span 8 bytes")
        assertRejects(file(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}}"#, dataBytes: 8),
                      mentioning: "outside the 8-byte data section")
        assertRejects(file(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#, dataBytes: 8),
                      mentioning: "data_offsets [8, 0]")
        assertRejects(file(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#, dataBytes: 12),
                      mentioning: "overlaps the previous tensor")
        assertRejects(file(header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, dataBytes: 8),
                      mentioning: "gap in the data section")
        assertRejects(file(header: good, dataBytes: 12), mentioning: "4 trailing bytes")
        assertRejects(file(header: #"{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, dataBytes: 8),
                      mentioning: "invalid shape")
        assertRejects(file(header: #"{"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8]}}"#, dataBytes: 8),
                      mentioning: "invalid shape")
        assertRejects(file(header: #"{"a":{"dtype":"F32","shape":[2]}}"#, dataBytes: 8), mentioning: "invalid data_offsets")
        assertRejects(file(header: #"{"__metadata__":{"k":1},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, dataBytes: 8),
                      mentioning: "non-string __metadata__ value")
    }

    /// A zero dimension makes the element count 0, but the strides of the other dimensions
    /// still overflow (4e15 × 4e15): a crash in `Tensor.contiguousStrides` before the fix.
    func testAZeroDimensionBesideHugeOnesIsRejectedNotACrash() {
        for shape in ["[0,4000000000000000,4000000000000000]", "[4000000000000000,0,4000000000000000]",
                      "[0,8000000000000000,8000000000000000,8000000000000000]", "[0,1,281474976710657]"] {
            assertRejects(file(header: #"{"a":{"dtype":"F32","shape":\#(shape),"data_offsets":[0,0]}}"#, dataBytes: 0),
                          mentioning: "whose size overflows")
        }
        XCTAssertNoThrow(try SafeTensors.decode(file(header: #"{"a":{"dtype":"F32","shape":[0,5,3],"data_offsets":[0,0]}}"#, dataBytes: 0)),
                         "an empty tensor of an ordinary shape still reads")
    }

    func testMissingFileNamesThePath() {
        XCTAssertThrowsError(try SafeTensors.read(from: directory.appendingPathComponent("absent.safetensors").path)) { error in
            XCTAssertTrue(String(describing: error).contains("absent.safetensors"))
        }
    }
}

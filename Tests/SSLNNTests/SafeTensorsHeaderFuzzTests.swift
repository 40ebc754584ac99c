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

// MARK: - A file taken apart

/// A safetensors file as editable parts: its tensors (name, dtype, shape, bytes and the values
/// those bytes hold, in data order) and its metadata map. `encoded` puts them back together with
/// consistent offsets, then applies a mutation's header and byte steps.
private struct HeaderFuzzImage {
    struct Entry {
        var name: String
        var dtype: String
        var shape: [Int]
        var bytes: [UInt8]
        var values: [Float]
    }
    var entries: [Entry]
    var metadata: [String: String]?

    static let dtypes = ["F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL"]
    static func width(_ dtype: String) -> Int? {
        switch dtype {
        case "F64", "I64": return 8
        case "F32", "I32": return 4
        case "F16", "BF16", "I16": return 2
        case "I8", "U8", "BOOL": return 1
        default: return nil
        }
    }

    /// Parses a file this test wrote (F32 and I64 only).
    init(_ file: [UInt8]) throws {
        var length = 0
        for index in 0..<8 { length |= Int(file[index]) << (8 * index) }
        let start = 8 + length
        guard let header = try JSONSerialization.jsonObject(with: Data(file[8..<start])) as? [String: Any] else {
            throw HeaderFuzzImageError()
        }
        metadata = header["__metadata__"] as? [String: String]
        var entries: [(begin: Int, entry: Entry)] = []
        for (name, value) in header where name != "__metadata__" {
            guard let info = value as? [String: Any], let dtype = info["dtype"] as? String, let shape = info["shape"] as? [Int],
                  let offsets = info["data_offsets"] as? [Int], offsets.count == 2 else { throw HeaderFuzzImageError() }
            let bytes = Array(file[(start + offsets[0])..<(start + offsets[1])])
            let values: [Float] = stride(from: 0, to: bytes.count, by: dtype == "I64" ? 8 : 4).map { at in
                var word: UInt64 = 0
                for byte in 0..<(dtype == "I64" ? 8 : 4) { word |= UInt64(bytes[at + byte]) << (8 * UInt64(byte)) }
                return dtype == "I64" ? Float(Int64(bitPattern: word)) : Float(bitPattern: UInt32(truncatingIfNeeded: word))
            }
            entries.append((offsets[0], Entry(name: name, dtype: dtype, shape: shape, bytes: bytes, values: values)))
        }
        self.entries = entries.sorted { ($0.begin, $0.entry.bytes.count) < ($1.begin, $1.entry.bytes.count) }.map(\.entry)
    }

    var names: [String] { entries.map(\.name) }

    func encoded(_ mutation: HeaderFuzzMutation) throws -> [UInt8] {
        let image = mutation.expectedImage(from: self)
        var header: [String: Any] = [:]
        if let metadata = image.metadata { header["__metadata__"] = metadata }
        var data: [UInt8] = []
        for entry in image.entries {
            header[entry.name] = ["dtype": entry.dtype, "shape": entry.shape, "data_offsets": [data.count, data.count + entry.bytes.count]]
            data += entry.bytes
        }
        for step in mutation.headerSteps { step(&header, &data) }
        var file = headerFuzzFile(headerBytes: Array(try headerFuzzJSON(header).utf8), data: data)
        for step in mutation.byteSteps { step(&file) }
        return file
    }
}

private struct HeaderFuzzImageError: Error {}

/// The little-endian bytes of `value` in a safetensors dtype.
private func headerFuzzEncode(_ value: Float, as dtype: String) -> [UInt8] {
    func bytes<T>(_ word: T) -> [UInt8] { withUnsafeBytes(of: word) { Array($0) } }
    switch dtype {
    case "F64": return bytes(Double(value).bitPattern.littleEndian)
    case "F16": return bytes(Float16(value).bitPattern.littleEndian)
    case "BF16": return bytes(UInt16(truncatingIfNeeded: value.bitPattern >> 16).littleEndian)
    case "I64": return bytes(Int64(value).littleEndian)
    case "I32": return bytes(Int32(value).littleEndian)
    case "I16": return bytes(Int16(value).littleEndian)
    case "I8": return bytes(Int8(value))
    case "U8": return bytes(UInt8(value))
    case "BOOL": return [value == 0 ? 0 : 1]
    default: return bytes(value.bitPattern.littleEndian)
    }
}

/// JSON text of `object` with sorted keys (so a seed always gives the same bytes), where
/// strings `"@raw:TEXT@"` become TEXT verbatim (NaN, 1e400, … which JSON cannot hold).
private func headerFuzzJSON(_ object: Any) throws -> String {
    let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
    var text = String(decoding: data, as: UTF8.self)
    while let open = text.range(of: "\"@raw:"), let close = text.range(of: "@\"", range: open.upperBound..<text.endIndex) {
        text.replaceSubrange(open.lowerBound..<close.upperBound, with: String(text[open.upperBound..<close.lowerBound]))
    }
    return text
}

private func headerFuzzRaw(_ text: String) -> String { "@raw:\(text)@" }

/// A safetensors file: the 8-byte little-endian header length, the header padded with spaces
/// to a multiple of 8 (as the writer does), the data.
private func headerFuzzFile(headerBytes: [UInt8], data: [UInt8]) -> [UInt8] {
    var header = headerBytes
    while (8 + header.count) % 8 != 0 { header.append(0x20) }
    var file = withUnsafeBytes(of: UInt64(header.count).littleEndian) { Array($0) }
    file += header
    file += data
    return file
}

/// Replaces the header text of a safetensors file (its padding kept out), fixing the length.
/// A file whose length field an earlier step damaged counts as all header.
private func headerFuzzReplaceHeader(_ file: inout [UInt8], _ change: (inout [UInt8]) -> Void) {
    if file.count < 8 { file += Array(repeating: 0, count: 8 - file.count) }
    let length = headerFuzzHeaderLength(file)
    var text = Array(file[8..<(8 + length)])
    while text.last == 0x20 { text.removeLast() }
    change(&text)
    file = headerFuzzFile(headerBytes: text, data: Array(file[(8 + length)...]))
}

/// The header length a file declares, clamped to what follows it (0 for a file under 8 bytes).
private func headerFuzzHeaderLength(_ file: [UInt8]) -> Int {
    guard file.count >= 8 else { return 0 }
    var length: UInt64 = 0
    for index in 0..<8 { length |= UInt64(file[index]) << (8 * UInt64(index)) }
    return Int(min(length, UInt64(file.count - 8)))
}

/// `dictionary` with `value` at the nested key `path` (nil removes it).
private func headerFuzzSetting(_ dictionary: [String: Any], _ path: [String], _ value: Any?) -> [String: Any] {
    guard let first = path.first else { return dictionary }
    var result = dictionary
    if path.count == 1 {
        result[first] = value
    } else {
        result[first] = headerFuzzSetting(result[first] as? [String: Any] ?? [:], Array(path.dropFirst()), value)
    }
    return result
}

private func headerFuzzPick<T>(_ items: [T], _ generator: inout RandomGenerator) -> T {
    items[generator.nextInt(below: items.count)]
}

// MARK: - Mutations

/// One damage to a file: steps on its parts, its header object and its bytes, and what decoding
/// must do with it.
private struct HeaderFuzzMutation {
    enum Kind: String, CaseIterable {
        case shape, dtypeMismatch, dataOffsets, entries, brokenJSON, headerLength, metadataMap, dataSection,
             validDtype, validReshape, dataBytes, headerBits, stacked
    }
    enum Expectation { case either, throwsError, decodes, decodesTheSameValues }
    var kind: Kind
    var label: String
    var expectation: Expectation
    var imageSteps: [(inout HeaderFuzzImage) -> Void] = []
    var headerSteps: [(inout [String: Any], inout [UInt8]) -> Void] = []
    var byteSteps: [(inout [UInt8]) -> Void] = []

    /// The parts after the image steps (what a valid mutation must decode to).
    func expectedImage(from base: HeaderFuzzImage) -> HeaderFuzzImage {
        var image = base
        for step in imageSteps { step(&image) }
        return image
    }
}

/// Builds structured mutations of one file from a seeded generator.
private struct HeaderFuzzMutations {
    let base: HeaderFuzzImage

    /// Every entry converted to `dtype` (values that dtype cannot hold become 0 or 1).
    static func convert(_ image: HeaderFuzzImage, to dtype: String, only name: String? = nil) -> HeaderFuzzMutation {
        var mutation = HeaderFuzzMutation(kind: .validDtype, label: "\(name ?? "every entry") as \(dtype)",
                                          expectation: .decodesTheSameValues)
        mutation.imageSteps = [{ image in
            for index in image.entries.indices where name == nil || image.entries[index].name == name {
                if dtype == "BOOL" { image.entries[index].values = image.entries[index].values.map { $0 == 0 ? 0 : 1 } }
                image.entries[index].dtype = dtype
                image.entries[index].bytes = image.entries[index].values.flatMap { headerFuzzEncode($0, as: dtype) }
            }
        }]
        return mutation
    }

    /// `count` mutations, each on the base file or on a copy of it in other dtypes; a sixth of
    /// them stack two or three.
    func all(count: Int, generator: inout RandomGenerator) -> [HeaderFuzzMutation] {
        let makers: [(HeaderFuzzImage, inout RandomGenerator) -> HeaderFuzzMutation] = [
            shape, dtypeMismatch, dataOffsets, entries, brokenJSON, headerLength, metadataMap, dataSection,
            validDtype, validReshape, dataBytes, headerBits,
        ]
        var result: [HeaderFuzzMutation] = []
        for _ in 0..<count {
            // The image the mutation sees: the base, all in one dtype, or each entry its own.
            var prefix: HeaderFuzzMutation?
            switch generator.nextInt(below: 3) {
            case 0: prefix = nil
            case 1: prefix = Self.convert(base, to: headerFuzzPick(HeaderFuzzImage.dtypes, &generator))
            default:
                var steps: [(inout HeaderFuzzImage) -> Void] = []
                var labels: [String] = []
                for name in base.names {
                    let dtype = headerFuzzPick(HeaderFuzzImage.dtypes, &generator)
                    steps += Self.convert(base, to: dtype, only: name).imageSteps
                    labels.append("\(name) \(dtype)")
                }
                prefix = HeaderFuzzMutation(kind: .validDtype, label: labels.joined(separator: ", "),
                                            expectation: .decodesTheSameValues, imageSteps: steps)
            }
            let image = prefix.map { $0.expectedImage(from: base) } ?? base
            var mutation: HeaderFuzzMutation
            if generator.nextInt(below: 6) == 0 {
                var parts: [HeaderFuzzMutation] = []
                for _ in 0..<(2 + generator.nextInt(below: 2)) {
                    let make = headerFuzzPick(makers, &generator)
                    parts.append(make(image, &generator))
                }
                // Stacked steps may undo or collide with each other (two renames to one name).
                mutation = HeaderFuzzMutation(kind: .stacked, label: parts.map(\.label).joined(separator: " + "), expectation: .either)
                for part in parts {
                    mutation.imageSteps += part.imageSteps
                    mutation.headerSteps += part.headerSteps
                    mutation.byteSteps += part.byteSteps
                }
            } else {
                let make = headerFuzzPick(makers, &generator)
                mutation = make(image, &generator)
            }
            if let prefix {
                mutation.label = "[\(prefix.label)] " + mutation.label
                mutation.imageSteps = prefix.imageSteps + mutation.imageSteps
            }
            result.append(mutation)
        }
        return result
    }

    // MARK: Header entries

    func entryField(_ name: String, _ field: String, _ value: Any?, kind: HeaderFuzzMutation.Kind,
                    _ expectation: HeaderFuzzMutation.Expectation) -> HeaderFuzzMutation {
        var mutation = HeaderFuzzMutation(kind: kind, label: "\(name).\(field) = \(value.map { "\($0)" } ?? "removed")",
                                          expectation: expectation)
        mutation.headerSteps = [{ header, _ in header = headerFuzzSetting(header, [name, field], value) }]
        return mutation
    }

    /// Whether `shape` (as the header holds it) is valid for `byteCount` bytes of `width`-byte
    /// elements: true or false, or nil where the reader may go either way (a whole float, a
    /// Boolean read as a number).
    static func isValid(shape: Any?, byteCount: Int, width: Int) -> Bool? {
        guard let values = shape as? [Any] else { return false }
        var dimensions: [Int] = []
        for value in values {
            if value is Bool { return nil }
            if let int = value as? Int { dimensions.append(int) } else if value is Double { return nil } else { return false }
        }
        var elements = 1, span = 1
        for dimension in dimensions {
            guard dimension >= 0, dimension < 9_000_000_000_000_000 else { return false }
            let (product, overflow) = elements.multipliedReportingOverflow(by: dimension)
            let (nextSpan, spanOverflow) = span.multipliedReportingOverflow(by: max(dimension, 1))
            guard !overflow, !spanOverflow, nextSpan <= 1 << 48 else { return false }
            (elements, span) = (product, nextSpan)
        }
        let (bytes, overflow) = elements.multipliedReportingOverflow(by: width)
        return !overflow && bytes == byteCount
    }

    func shape(_ image: HeaderFuzzImage, _ generator: inout RandomGenerator) -> HeaderFuzzMutation {
        let entry = headerFuzzPick(image.entries, &generator)
        let count = entry.shape.reduce(1, *)
        let huge = 4_000_000_000_000_000
        let shapes: [Any?] = [
            [0, huge, huge], [huge, huge, 0], [-1], [-3, -4], [1.5, 2], [Double(count)], [1e30], [9_007_199_254_740_993],
            [Int.max], [UInt64.max], [], ["3"], [NSNull()], "3x4", 12, [[count]], [true], [1 << 24, 1 << 24, 0],
            [1 << 48, 0], [(1 << 48) + 1, 0], [0], [count + 1], Array(entry.shape.reversed()), [1, count],
            Array(repeating: 1, count: 200) + [count], nil, [headerFuzzRaw("NaN")], [headerFuzzRaw("-0")],
            [headerFuzzRaw("1e400")], [count, 0], [0, count], [1 << 30, 1 << 30, 0], [-1, 0], [-count], [2, count / 2],
            [1 << 62, 4], [1 << 32, 1 << 32], [1 << 31, 1 << 31, 4], Array(repeating: 2, count: 64),
        ]
        let value = headerFuzzPick(shapes, &generator)
        let valid: Bool?
        if let text = (value as? [Any])?.first as? String, text.hasPrefix("@raw:") {
            valid = text == headerFuzzRaw("-0") ? (entry.bytes.isEmpty ? nil : false) : false
        } else {
            valid = Self.isValid(shape: value, byteCount: entry.bytes.count, width: HeaderFuzzImage.width(entry.dtype) ?? 1)
        }
        return entryField(entry.name, "shape", value, kind: .shape, valid.map { $0 ? .decodes : .throwsError } ?? .either)
    }

    func dtypeMismatch(_ image: HeaderFuzzImage, _ generator: inout RandomGenerator) -> HeaderFuzzMutation {
        let entry = headerFuzzPick(image.entries, &generator)
        var dtypes: [Any?] = HeaderFuzzImage.dtypes.map { $0 }
        dtypes += ["f32", "F8_E4M3", "", "U32", "F32 ", "i64", "FLOAT", "bool", 5, NSNull(), ["F32"], nil]
        let value = headerFuzzPick(dtypes, &generator)
        let count = entry.shape.reduce(1, *)
        let expectation: HeaderFuzzMutation.Expectation
        if let dtype = value as? String, let width = HeaderFuzzImage.width(dtype) {
            expectation = width * count == entry.bytes.count ? .decodes : .throwsError
        } else {
            expectation = .throwsError
        }
        return entryField(entry.name, "dtype", value, kind: .dtypeMismatch, expectation)
    }

    func dataOffsets(_ image: HeaderFuzzImage, _ generator: inout RandomGenerator) -> HeaderFuzzMutation {
        let entry = headerFuzzPick(image.entries, &generator)
        let choice = generator.nextInt(below: 20)
        let name = entry.name
        // A zero-length tensor may sit at any offset between others, so only damage to a
        // tensor with bytes is sure to be refused.
        var mutation = HeaderFuzzMutation(kind: .dataOffsets, label: "\(name).data_offsets #\(choice)",
                                          expectation: entry.bytes.isEmpty ? .either : .throwsError)
        mutation.headerSteps = [{ header, data in
            guard let offsets = (header[name] as? [String: Any])?["data_offsets"] as? [Int], offsets.count == 2 else { return }
            let (begin, end) = (offsets[0], offsets[1])
            let values: [Any?] = [
                [end, begin], [begin, end &+ 4], [begin &- 4, end &- 4], [0, data.count &+ 1], [begin, begin], [-4, end],
                [begin, 1e30], [begin, Int.max], [begin, UInt64.max], [begin], [begin, end, end], ["0", "4"],
                [0.5, end], "0-4", [begin &+ data.count, end &+ data.count], [begin &+ 1, end &+ 1], [begin &- 1, end &- 1],
                nil, [Int.min, end], [begin, headerFuzzRaw("1e400")],
            ]
            header = headerFuzzSetting(header, [name, "data_offsets"], values[choice])
        }]
        return mutation
    }

    func entries(_ image: HeaderFuzzImage, _ generator: inout RandomGenerator) -> HeaderFuzzMutation {
        let entry = headerFuzzPick(image.entries, &generator)
        let name = entry.name
        let sure: HeaderFuzzMutation.Expectation = entry.bytes.isEmpty ? .either : .throwsError
        var mutation = HeaderFuzzMutation(kind: .entries, label: "", expectation: .throwsError)
        switch generator.nextInt(below: 9) {
        case 0:
            mutation.label = "\(name) removed from the header (its bytes stay)"
            mutation.expectation = sure
            mutation.headerSteps = [{ header, _ in header[name] = nil }]
        case 1:
            mutation.label = "\(name) removed with its bytes"
            mutation.expectation = .decodesTheSameValues
            mutation.imageSteps = [{ image in image.entries.removeAll { $0.name == name } }]
        case 2:
            mutation.label = "\(name) duplicated as \(name).copy (same bytes)"
            mutation.expectation = sure
            mutation.headerSteps = [{ header, _ in header[name + ".copy"] = header[name] }]
        case 3:
            let target = headerFuzzPick(["\(name).renamed", "", "é/ü", String(repeating: "k", count: 4_096), "a\u{0}b"], &generator)
            mutation.label = "\(name) renamed to a \(target.count)-character name"
            mutation.expectation = .decodesTheSameValues
            mutation.imageSteps = [{ image in
                if let index = image.entries.firstIndex(where: { $0.name == name }) { image.entries[index].name = target }
            }]
        case 4:
            mutation.label = "\(name) renamed to __metadata__"
            mutation.headerSteps = [{ header, _ in
                header["__metadata__"] = header[name]
                header[name] = nil
            }]
        case 5:
            let value: Any = headerFuzzPick([5, "F32", [1, 2], NSNull(), true] as [Any], &generator)
            mutation.label = "\(name) entry is \(value)"
            mutation.headerSteps = [{ header, _ in header[name] = value }]
        case 6:
            mutation.label = "\(name) has an extra field"
            mutation.expectation = .decodesTheSameValues
            mutation.headerSteps = [{ header, _ in header = headerFuzzSetting(header, [name, "extra"], ["a": [1]]) }]
        case 7:
            let count = headerFuzzPick([1, 10, 1_000], &generator)
            mutation.label = "\(count) extra empty tensors"
            mutation.expectation = .decodesTheSameValues
            mutation.imageSteps = [{ image in
                for index in 0..<count { image.entries.append(.init(name: "extra.\(index)", dtype: "F32", shape: [0], bytes: [], values: [])) }
            }]
        default:
            let field = headerFuzzPick(["dtype", "shape", "data_offsets"], &generator)
            mutation = entryField(name, field, nil, kind: .entries, .throwsError)
        }
        return mutation
    }

    // MARK: Header text

    func brokenJSON(_ image: HeaderFuzzImage, _ generator: inout RandomGenerator) -> HeaderFuzzMutation {
        let name = headerFuzzPick(image.names, &generator)
        var mutation = HeaderFuzzMutation(kind: .brokenJSON, label: "", expectation: .throwsError)
        let dataIsEmpty = image.entries.allSatisfy(\.bytes.isEmpty)
        switch generator.nextInt(below: 6) {
        case 0:
            let cut = generator.nextInt(below: 10_000)
            mutation.label = "header JSON cut at \(cut)/10000 of its length"
            mutation.byteSteps = [{ file in headerFuzzReplaceHeader(&file) { text in text = Array(text.prefix(text.count * cut / 10_000)) } }]
        case 1:
            let position = generator.nextInt(below: 10_000)
            let byte = headerFuzzPick(Array("{}[]\",:0-eE.\\ ".utf8) + [0, 0xff, 0xc3, 0x7f, 0x0a], &generator)
            mutation.label = "header byte at \(position)/10000 set to \(byte)"
            mutation.expectation = .either
            mutation.byteSteps = [{ file in headerFuzzReplaceHeader(&file) { text in
                guard !text.isEmpty else { return }
                text[min(text.count - 1, text.count * position / 10_000)] = byte
            } }]
        case 2:
            let depth = headerFuzzPick([100, 511, 512, 513, 600, 100_000], &generator)
            let inMetadata = generator.nextInt(below: 2) == 0
            mutation.label = "a value nested \(depth) deep\(inMetadata ? " in the metadata" : "")"
            // A second __metadata__ key: which one the parser keeps is its choice.
            if inMetadata && depth < 600 && image.metadata != nil { mutation.expectation = .either }
            mutation.byteSteps = [{ file in headerFuzzReplaceHeader(&file) { text in
                let nested = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
                let entry = inMetadata ? "\"__metadata__\":{\"deep\":\(nested)},"
                    : "\"deep\":{\"dtype\":\"F32\",\"shape\":\(nested),\"data_offsets\":[0,0]},"
                text = Array("{\(entry)".utf8) + text.dropFirst()
            } }]
        case 3:
            let bodies = ["[]", "null", "\"text\"", "", "   ", "{}", "{\"__metadata__\":{}}", "{\"a\":NaN}", "{\"a\":Infinity}",
                          "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", "\u{FEFF}{}", "{}}", "{\"a\":1}",
                          "{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}} trailing"]
            let body = headerFuzzPick(bodies, &generator)
            mutation.label = "header replaced by \(body)"
            mutation.expectation = dataIsEmpty ? .either : .throwsError
            mutation.byteSteps = [{ file in headerFuzzReplaceHeader(&file) { text in text = Array(body.utf8) } }]
        case 4:
            let dtype = headerFuzzPick(HeaderFuzzImage.dtypes, &generator)
            mutation.label = "\(name) given twice in the header text (first as \(dtype))"
            mutation.expectation = .either
            mutation.byteSteps = [{ file in headerFuzzReplaceHeader(&file) { text in
                let duplicate = "{\"\(name)\":{\"dtype\":\"\(dtype)\",\"shape\":[1],\"data_offsets\":[0,8]},"
                text = Array(duplicate.utf8) + text.dropFirst()
            } }]
        default:
            mutation.label = "invalid UTF-8 in a key"
            mutation.byteSteps = [{ file in headerFuzzReplaceHeader(&file) { text in
                text = Array("{\"".utf8) + [0xff, 0xfe, 0xc3] + Array("\":5,".utf8) + text.dropFirst()
            } }]
        }
        return mutation
    }

    func headerLength(_ image: HeaderFuzzImage, _ generator: inout RandomGenerator) -> HeaderFuzzMutation {
        let choice = generator.nextInt(below: 18)
        let random = generator.next()
        var mutation = HeaderFuzzMutation(kind: .headerLength, label: "header length #\(choice)", expectation: .throwsError)
        mutation.byteSteps = [{ file in
            let length = max(8, headerFuzzHeaderLength(file))
            let size = max(8, file.count)
            let values: [UInt64] = [
                0, 1, 2, 7, UInt64(length - 1), UInt64(length + 1), UInt64(length - 8), UInt64(length + 8),
                UInt64(size - 8), UInt64(size - 7), UInt64(size), 1 << 32, 1 << 63, .max, random,
                UInt64(Int.max), UInt64(Int.max) + 1,
            ]
            if choice < values.count {
                if file.count < 8 { file += Array(repeating: 0, count: 8 - file.count) }
                withUnsafeBytes(of: values[choice].littleEndian) { file.replaceSubrange(0..<8, with: $0) }
            } else {
                file = Array(file.prefix(Int(random % 8)))
            }
        }]
        // One byte more or fewer in the header: still valid when the data is all empty tensors
        // and the byte is padding.
        if image.entries.allSatisfy(\.bytes.isEmpty) && [4, 5, 8, 9].contains(choice) { mutation.expectation = .either }
        return mutation
    }

    // MARK: Metadata

    func metadataMap(_ image: HeaderFuzzImage, _ generator: inout RandomGenerator) -> HeaderFuzzMutation {
        let invalid: [Any] = [5, [Any](), "x", NSNull(), true, ["a": 5], ["a": NSNull()], ["a": ["b": "c"]], ["a": ["b"]],
                              ["a": true], ["a": "b", "c": 1.5], ["a": headerFuzzRaw("1e400")]]
        // Built when used: the large maps are slow to make in a debug build.
        let valid: [() -> [String: String]?] = [
            { nil }, { [:] }, { ["": ""] }, { ["é": "ü\u{0}\n\"\\"] }, { ["format": "pt"] },
            { ["big": String(repeating: "x", count: 1 << 16)] },
            { Dictionary(uniqueKeysWithValues: (0..<300).map { ("k\($0)", "v\($0)") }) }, { ["__metadata__": "nested name"] },
        ]
        if generator.nextInt(below: 2) == 0 {
            let value = headerFuzzPick(invalid, &generator)
            var mutation = HeaderFuzzMutation(kind: .metadataMap, label: "__metadata__ = \(String(describing: value).prefix(60))",
                                              expectation: .throwsError)
            mutation.headerSteps = [{ header, _ in header["__metadata__"] = value }]
            return mutation
        }
        let choice = generator.nextInt(below: valid.count)
        var mutation = HeaderFuzzMutation(kind: .metadataMap, label: "metadata #\(choice)", expectation: .decodesTheSameValues)
        mutation.imageSteps = [{ image in image.metadata = valid[choice]() }]
        return mutation
    }

    // MARK: Data

    func dataSection(_ image: HeaderFuzzImage, _ generator: inout RandomGenerator) -> HeaderFuzzMutation {
        let total = image.entries.reduce(0) { $0 + $1.bytes.count }
        let choice = generator.nextInt(below: 4)
        let amount = 1 + generator.nextInt(below: max(1, total))
        let labels = ["cut by \(amount) bytes", "cut to nothing", "\(amount) bytes appended", "\(amount) bytes inserted"]
        var mutation = HeaderFuzzMutation(kind: .dataSection, label: "data section " + labels[choice],
                                          expectation: total == 0 && choice < 2 ? .decodesTheSameValues : .throwsError)
        mutation.headerSteps = [{ _, data in
            switch choice {
            case 0: data.removeLast(min(amount, data.count))
            case 1: data = []
            case 2: data += Array(repeating: 0x41, count: amount)
            default: data.insert(contentsOf: Array(repeating: 0x42, count: amount), at: min(data.count, amount / 2))
            }
        }]
        return mutation
    }

    func validDtype(_ image: HeaderFuzzImage, _ generator: inout RandomGenerator) -> HeaderFuzzMutation {
        let name = headerFuzzPick(image.names, &generator)
        return Self.convert(image, to: headerFuzzPick(HeaderFuzzImage.dtypes, &generator), only: name)
    }

    func validReshape(_ image: HeaderFuzzImage, _ generator: inout RandomGenerator) -> HeaderFuzzMutation {
        let entry = headerFuzzPick(image.entries, &generator)
        let count = entry.shape.reduce(1, *)
        let shapes: [[Int]] = count == 0
            ? [[0], [0, 0], [4, 0, 1 << 20], [1 << 24, 1 << 24, 0], [0, 1 << 48]]
            : [[count], [1, count], [count, 1], Array(repeating: 1, count: 100) + [count], count == 1 ? [] : [count]]
        let shape = headerFuzzPick(shapes, &generator)
        var mutation = HeaderFuzzMutation(kind: .validReshape, label: "\(entry.name) reshaped to \(shape.prefix(8))",
                                          expectation: .decodesTheSameValues)
        mutation.imageSteps = [{ image in
            if let index = image.entries.firstIndex(where: { $0.name == entry.name }) { image.entries[index].shape = shape }
        }]
        return mutation
    }

    func dataBytes(_ image: HeaderFuzzImage, _ generator: inout RandomGenerator) -> HeaderFuzzMutation {
        let flips = (0..<(1 + generator.nextInt(below: 8))).map { _ in (generator.next(), UInt8(truncatingIfNeeded: generator.next())) }
        var mutation = HeaderFuzzMutation(kind: .dataBytes, label: "\(flips.count) data bytes set at random", expectation: .decodes)
        mutation.headerSteps = [{ _, data in
            guard !data.isEmpty else { return }
            for (position, byte) in flips { data[Int(position % UInt64(data.count))] = byte }
        }]
        return mutation
    }

    func headerBits(_ image: HeaderFuzzImage, _ generator: inout RandomGenerator) -> HeaderFuzzMutation {
        let flips = (0..<(1 + generator.nextInt(below: 4))).map { _ in generator.next() }
        var mutation = HeaderFuzzMutation(kind: .headerBits, label: "\(flips.count) header bits flipped", expectation: .either)
        mutation.byteSteps = [{ file in headerFuzzReplaceHeader(&file) { text in
            guard !text.isEmpty else { return }
            for flip in flips { text[Int(flip % UInt64(text.count))] ^= UInt8(1) << UInt8((flip >> 32) % 8) }
        } }]
        return mutation
    }
}

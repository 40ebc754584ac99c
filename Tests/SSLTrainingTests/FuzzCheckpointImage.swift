import Foundation
import SSLTensor
import SSLTraining

// MARK: - A checkpoint taken apart

/// A safetensors checkpoint as editable parts: its tensors (name, dtype, shape, bytes, in data
/// order), its `__metadata__` strings and its decoded `ssl.checkpoint` JSON. `encoded` puts the
/// parts back together with consistent offsets, then applies a mutation's header and byte steps.
struct FuzzCheckpointImage {
    struct Entry {
        var name: String
        var dtype: String
        var shape: [Int]
        var bytes: [UInt8]
    }
    var entries: [Entry]
    var metadata: [String: String]
    var checkpoint: [String: Any]
    /// Replaces the serialized `ssl.checkpoint` JSON when set.
    var checkpointText: String?

    init(_ file: [UInt8]) throws {
        var length = 0
        for index in 0..<8 { length |= Int(file[index]) << (8 * index) }
        let start = 8 + length
        guard let header = try JSONSerialization.jsonObject(with: Data(file[8..<start])) as? [String: Any],
              let metadata = header["__metadata__"] as? [String: String],
              let json = metadata[Checkpoint.metadataKey],
              let checkpoint = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else {
            throw FuzzImageError()
        }
        var entries: [(begin: Int, entry: Entry)] = []
        for (name, value) in header where name != "__metadata__" {
            guard let info = value as? [String: Any], let dtype = info["dtype"] as? String, let shape = info["shape"] as? [Int],
                  let offsets = info["data_offsets"] as? [Int], offsets.count == 2 else { throw FuzzImageError() }
            entries.append((offsets[0], Entry(name: name, dtype: dtype, shape: shape,
                                              bytes: Array(file[(start + offsets[0])..<(start + offsets[1])]))))
        }
        self.entries = entries.sorted { ($0.begin, $0.entry.bytes.count) < ($1.begin, $1.entry.bytes.count) }.map(\.entry)
        self.metadata = metadata
        self.checkpoint = checkpoint
    }

    var names: [String] { entries.map(\.name) }
    func index(of name: String) -> Int? { entries.firstIndex { $0.name == name } }

    func encoded(_ mutation: FuzzMutation) throws -> [UInt8] {
        var image = self
        for step in mutation.imageSteps { step(&image) }
        var metadata = image.metadata
        metadata[Checkpoint.metadataKey] = try image.checkpointText ?? fuzzJSON(image.checkpoint)
        var header: [String: Any] = ["__metadata__": metadata]
        var data: [UInt8] = []
        for entry in image.entries {
            header[entry.name] = ["dtype": entry.dtype, "shape": entry.shape, "data_offsets": [data.count, data.count + entry.bytes.count]]
            data += entry.bytes
        }
        for step in mutation.headerSteps { step(&header, &data) }
        var file = fuzzFile(headerBytes: Array(try fuzzJSON(header).utf8), data: data)
        for step in mutation.byteSteps { step(&file) }
        return file
    }
}

struct FuzzImageError: Error {}

/// JSON text of `object` with sorted keys (so a seed always gives the same bytes), where
/// strings `"@raw:TEXT@"` become TEXT verbatim (NaN, 1e400, … which JSON cannot hold).
func fuzzJSON(_ object: Any) throws -> String {
    let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
    var text = String(decoding: data, as: UTF8.self)
    while let open = text.range(of: "\"@raw:"), let close = text.range(of: "@\"", range: open.upperBound..<text.endIndex) {
        text.replaceSubrange(open.lowerBound..<close.upperBound, with: String(text[open.upperBound..<close.lowerBound]))
    }
    return text
}

/// A safetensors file: the 8-byte little-endian header length, the header padded with spaces
/// to a multiple of 8 (as the writer does), the data.
func fuzzFile(headerBytes: [UInt8], data: [UInt8]) -> [UInt8] {
    var header = headerBytes
    while (8 + header.count) % 8 != 0 { header.append(0x20) }
    var file = withUnsafeBytes(of: UInt64(header.count).littleEndian) { Array($0) }
    file += header
    file += data
    return file
}

func fuzzRaw(_ text: String) -> String { "@raw:\(text)@" }

/// `dictionary` with `value` at the nested key `path` (nil removes it).
func fuzzSetting(_ dictionary: [String: Any], _ path: [String], _ value: Any?) -> [String: Any] {
    guard let first = path.first else { return dictionary }
    var result = dictionary
    if path.count == 1 {
        result[first] = value
    } else {
        result[first] = fuzzSetting(result[first] as? [String: Any] ?? [:], Array(path.dropFirst()), value)
    }
    return result
}

func fuzzPick<T>(_ items: [T], _ generator: inout RandomGenerator) -> T {
    items[generator.nextInt(below: items.count)]
}

// MARK: - File bytes

/// The little-endian bytes of `value` in a safetensors dtype.
func fuzzEncode(_ value: Float, as dtype: String) -> [UInt8] {
    func bytes<T>(_ word: T) -> [UInt8] { withUnsafeBytes(of: word) { Array($0) } }
    switch dtype {
    case "F64": return bytes(Double(value).bitPattern.littleEndian)
    case "F16": return bytes(Float16(value).bitPattern.littleEndian)
    case "BF16": return bytes(UInt16(truncatingIfNeeded: value.bitPattern >> 16).littleEndian)
    case "I64": return bytes(Int64(value.isFinite ? Swift.max(-1e18, Swift.min(1e18, value.rounded())) : 0).littleEndian)
    case "I32": return bytes(Int32(value.isFinite ? Swift.max(-2e9, Swift.min(2e9, value.rounded())) : 0).littleEndian)
    default: return bytes(value.bitPattern.littleEndian)
    }
}

/// Replaces the header text of a safetensors file (its padding kept out), fixing the length.
/// A file whose length field an earlier step damaged counts as all header.
func fuzzReplaceHeader(_ file: inout [UInt8], _ change: (inout [UInt8]) -> Void) {
    if file.count < 8 { file += Array(repeating: 0, count: 8 - file.count) }
    let length = fuzzHeaderLength(file)
    var text = Array(file[8..<(8 + length)])
    while text.last == 0x20 { text.removeLast() }
    change(&text)
    file = fuzzFile(headerBytes: text, data: Array(file[(8 + length)...]))
}

/// The header length a file declares, clamped to what follows it (0 for a file under 8 bytes).
func fuzzHeaderLength(_ file: [UInt8]) -> Int {
    guard file.count >= 8 else { return 0 }
    var length: UInt64 = 0
    for index in 0..<8 { length |= UInt64(file[index]) << (8 * UInt64(index)) }
    return Int(min(length, UInt64(file.count - 8)))
}

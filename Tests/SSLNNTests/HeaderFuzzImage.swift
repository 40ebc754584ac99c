import Foundation
import SSLTensor

// MARK: - A file taken apart

/// A safetensors file as editable parts: its tensors (name, dtype, shape, bytes and the values
/// those bytes hold, in data order) and its metadata map. `encoded` puts them back together with
/// consistent offsets, then applies a mutation's header and byte steps.
struct HeaderFuzzImage {
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

struct HeaderFuzzImageError: Error {}

/// The little-endian bytes of `value` in a safetensors dtype.
func headerFuzzEncode(_ value: Float, as dtype: String) -> [UInt8] {
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
func headerFuzzJSON(_ object: Any) throws -> String {
    let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
    var text = String(decoding: data, as: UTF8.self)
    while let open = text.range(of: "\"@raw:"), let close = text.range(of: "@\"", range: open.upperBound..<text.endIndex) {
        text.replaceSubrange(open.lowerBound..<close.upperBound, with: String(text[open.upperBound..<close.lowerBound]))
    }
    return text
}

func headerFuzzRaw(_ text: String) -> String { "@raw:\(text)@" }

/// A safetensors file: the 8-byte little-endian header length, the header padded with spaces
/// to a multiple of 8 (as the writer does), the data.
func headerFuzzFile(headerBytes: [UInt8], data: [UInt8]) -> [UInt8] {
    var header = headerBytes
    while (8 + header.count) % 8 != 0 { header.append(0x20) }
    var file = withUnsafeBytes(of: UInt64(header.count).littleEndian) { Array($0) }
    file += header
    file += data
    return file
}

/// Replaces the header text of a safetensors file (its padding kept out), fixing the length.
/// A file whose length field an earlier step damaged counts as all header.
func headerFuzzReplaceHeader(_ file: inout [UInt8], _ change: (inout [UInt8]) -> Void) {
    if file.count < 8 { file += Array(repeating: 0, count: 8 - file.count) }
    let length = headerFuzzHeaderLength(file)
    var text = Array(file[8..<(8 + length)])
    while text.last == 0x20 { text.removeLast() }
    change(&text)
    file = headerFuzzFile(headerBytes: text, data: Array(file[(8 + length)...]))
}

/// The header length a file declares, clamped to what follows it (0 for a file under 8 bytes).
func headerFuzzHeaderLength(_ file: [UInt8]) -> Int {
    guard file.count >= 8 else { return 0 }
    var length: UInt64 = 0
    for index in 0..<8 { length |= UInt64(file[index]) << (8 * UInt64(index)) }
    return Int(min(length, UInt64(file.count - 8)))
}

/// `dictionary` with `value` at the nested key `path` (nil removes it).
func headerFuzzSetting(_ dictionary: [String: Any], _ path: [String], _ value: Any?) -> [String: Any] {
    guard let first = path.first else { return dictionary }
    var result = dictionary
    if path.count == 1 {
        result[first] = value
    } else {
        result[first] = headerFuzzSetting(result[first] as? [String: Any] ?? [:], Array(path.dropFirst()), value)
    }
    return result
}

func headerFuzzPick<T>(_ items: [T], _ generator: inout RandomGenerator) -> T {
    items[generator.nextInt(below: items.count)]
}

import Foundation
import SSLTensor

/// Reading and writing the [safetensors](https://github.com/huggingface/safetensors) format:
/// an 8-byte little-endian header length, a JSON header mapping each name to its dtype, shape
/// and `data_offsets` (plus an optional `__metadata__` map of strings), then the raw
/// little-endian bytes. Files written here load in Python with `safetensors.numpy.load_file`
/// or `safetensors.torch.load_file` under the same keys.
///
/// Reading converts F32, F64, F16, BF16, I64, I32, I16, I8, U8 and BOOL to Float tensors
/// (integer dtypes mark the entry as integer). Every header is validated; a bad file throws a
/// `SafeTensorsError` naming the file and the problem.
///
/// ```swift
/// try SafeTensors.write(model.stateDict(), to: "model.safetensors", metadata: ["format": "pt"])
/// let (state, metadata) = try SafeTensors.readWithMetadata(from: "model.safetensors")
/// ```
public enum SafeTensors {
    /// Writes `state` (F32, and I64 for integer entries), atomically: to a temporary file in
    /// the same directory, flushed to disk, then renamed over `path`.
    public static func write(_ state: StateDict, to path: String, metadata: [String: String] = [:]) throws {
        let data = try encode(state, metadata: metadata)
        try AtomicFile.write(data, to: path)
    }

    /// The bytes of a safetensors file holding `state`.
    public static func encode(_ state: StateDict, metadata: [String: String] = [:]) throws -> Data {
        var header = "{"
        var pieces: [String] = []
        if !metadata.isEmpty {
            let items = metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0] ?? ""))" }
            pieces.append("\"__metadata__\":{\(items.joined(separator: ","))}")
        }
        var offset = 0
        for entry in state.entries {
            precondition(entry.name != "__metadata__", "SafeTensors.encode: \"__metadata__\" is reserved")
            let bytes = entry.tensor.count * (entry.isInteger ? 8 : 4)
            let shape = entry.tensor.shape.map(String.init).joined(separator: ",")
            pieces.append("\(jsonString(entry.name)):{\"dtype\":\"\(entry.isInteger ? "I64" : "F32")\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(offset + bytes)]}")
            offset += bytes
        }
        header += pieces.joined(separator: ",") + "}"
        var headerBytes = Array(header.utf8)
        while (8 + headerBytes.count) % 8 != 0 { headerBytes.append(0x20) }  // pad with spaces
        // One allocation; float data is copied in bulk (the format is little-endian, as the host).
        var bytes = [UInt8](repeating: 0, count: 8 + headerBytes.count + offset)
        bytes.withUnsafeMutableBytes { buffer in
            guard let base = buffer.baseAddress else { return }
            base.storeBytes(of: UInt64(headerBytes.count).littleEndian, as: UInt64.self)
            headerBytes.withUnsafeBytes { header in
                if let source = header.baseAddress { base.advanced(by: 8).copyMemory(from: source, byteCount: header.count) }
            }
            var position = 8 + headerBytes.count
            for entry in state.entries {
                entry.tensor.withContiguousBuffer { values in
                    if entry.isInteger {
                        for value in values {
                            base.advanced(by: position).storeBytes(of: Int64(value.rounded()).littleEndian, as: Int64.self)
                            position += 8
                        }
                    } else if let source = values.baseAddress {
                        #if _endian(little)
                        base.advanced(by: position).copyMemory(from: source, byteCount: values.count * 4)
                        position += values.count * 4
                        #else
                        for value in values {
                            base.advanced(by: position).storeBytes(of: value.bitPattern.littleEndian, as: UInt32.self)
                            position += 4
                        }
                        #endif
                    }
                }
            }
        }
        return Data(bytes)
    }

    /// Reads a safetensors file.
    public static func read(from path: String) throws -> StateDict {
        try readWithMetadata(from: path).state
    }

    /// Reads a safetensors file and its `__metadata__` map.
    public static func readWithMetadata(from path: String) throws -> (state: StateDict, metadata: [String: String]) {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw SafeTensorsError(path: path, problem: "cannot be read: \(error.localizedDescription)")
        }
        return try decode(data, path: path)
    }

    /// Parses the bytes of a safetensors file; `path` names it in errors.
    public static func decode(_ data: Data, path: String = "<memory>") throws -> (state: StateDict, metadata: [String: String]) {
        func fail(_ problem: String) -> SafeTensorsError { SafeTensorsError(path: path, problem: problem) }
        let bytes = [UInt8](data)
        guard bytes.count >= 8 else { throw fail("is \(bytes.count) bytes long, shorter than the 8-byte header length") }
        var headerLength: UInt64 = 0
        for i in 0..<8 { headerLength |= UInt64(bytes[i]) << (8 * UInt64(i)) }
        guard headerLength <= UInt64(bytes.count - 8) else {
            throw fail("declares a \(headerLength)-byte header but only \(bytes.count - 8) bytes follow the length")
        }
        let headerEnd = 8 + Int(headerLength)
        let dataSize = bytes.count - headerEnd
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: Data(bytes[8..<headerEnd]), options: [])
        } catch {
            throw fail("has a malformed JSON header: \(error.localizedDescription)")
        }
        guard let header = json as? [String: Any] else { throw fail("has a JSON header that is not an object") }
        var metadata: [String: String] = [:]
        if let raw = header["__metadata__"] {
            guard let map = raw as? [String: Any] else { throw fail("has a __metadata__ entry that is not an object") }
            for (key, value) in map {
                guard let text = value as? String else { throw fail("has a non-string __metadata__ value for \"\(key)\"") }
                metadata[key] = text
            }
        }
        struct Pending { let name: String; let dtype: DType; let shape: [Int]; let begin: Int; let end: Int }
        var pending: [Pending] = []
        for (name, raw) in header where name != "__metadata__" {
            guard let info = raw as? [String: Any] else { throw fail("entry \"\(name)\" is not an object") }
            guard let dtypeName = info["dtype"] as? String else { throw fail("entry \"\(name)\" has no dtype") }
            guard let dtype = DType(rawValue: dtypeName) else {
                throw fail("entry \"\(name)\" has unknown dtype \"\(dtypeName)\" (known: \(DType.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            guard let shapeValues = info["shape"] as? [Any],
                  let shape = integers(shapeValues), shape.allSatisfy({ $0 >= 0 }) else {
                throw fail("entry \"\(name)\" has an invalid shape \(info["shape"] ?? "nil")")
            }
            guard let offsetValues = info["data_offsets"] as? [Any], let offsets = integers(offsetValues),
                  offsets.count == 2 else {
                throw fail("entry \"\(name)\" has invalid data_offsets \(info["data_offsets"] ?? "nil")")
            }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin >= 0, begin <= end, end <= dataSize else {
                throw fail("entry \"\(name)\" has data_offsets [\(begin), \(end)] outside the \(dataSize)-byte data section")
            }
            // Strides are products of the non-zero dimensions (a zero dimension does not make
            // the others safe), so every one of those products must fit as well as the count.
            var elements = 1, strideSpan = 1
            for dimension in shape {
                let (product, overflow) = elements.multipliedReportingOverflow(by: dimension)
                let (span, spanOverflow) = strideSpan.multipliedReportingOverflow(by: Swift.max(dimension, 1))
                guard !overflow, !spanOverflow, span <= Self.largestElementSpan else {
                    throw fail("entry \"\(name)\" has a shape \(shape) whose size overflows")
                }
                elements = product
                strideSpan = span
            }
            let (expected, overflow) = elements.multipliedReportingOverflow(by: dtype.byteCount)
            guard !overflow, expected == end - begin else {
                throw fail("entry \"\(name)\" has shape \(shape) and dtype \(dtypeName) (\(overflow ? "too many" : String(expected)) bytes) but data_offsets span \(end - begin) bytes")
            }
            pending.append(Pending(name: name, dtype: dtype, shape: shape, begin: begin, end: end))
        }
        // The tensors must tile the data section: sorted by offset, no overlap, no gap.
        pending.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }
        var cursor = 0
        for item in pending {
            guard item.begin == cursor else {
                throw fail(item.begin < cursor
                    ? "entry \"\(item.name)\" overlaps the previous tensor (data_offsets start at \(item.begin), previous ends at \(cursor))"
                    : "has a gap in the data section before entry \"\(item.name)\" (bytes \(cursor)..<\(item.begin) belong to no tensor)")
            }
            cursor = item.end
        }
        guard cursor == dataSize else {
            throw fail("has \(dataSize - cursor) trailing bytes after the last tensor")
        }
        // Restore the header's key order (JSON objects are unordered here): sort by offset.
        var state = StateDict()
        for item in pending {
            let values = bytes.withUnsafeBufferPointer { buffer in
                item.dtype.decode(buffer, from: headerEnd + item.begin, count: (item.end - item.begin) / item.dtype.byteCount)
            }
            state[item.name, isInteger: item.dtype.isInteger] = Tensor(shape: item.shape, scalars: values)
        }
        return (state, metadata)
    }

    /// The largest product of non-zero dimensions a shape may have (2^48 elements: far past any
    /// memory, far below where byte offsets could overflow).
    static let largestElementSpan = 1 << 48

    private static func integers(_ values: [Any]) -> [Int]? {
        var result: [Int] = []
        for value in values {
            guard let number = value as? NSNumber else { return nil }
            let double = number.doubleValue
            guard double.rounded() == double, Swift.abs(double) < 9.0e15 else { return nil }
            result.append(Int(double))
        }
        return result
    }

    private static func jsonString(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            default:
                if scalar.value < 0x20 {
                    result += String(format: "\\u%04x", scalar.value)
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
        }
        return result + "\""
    }

    /// The element types of the format that can be read.
    enum DType: String, CaseIterable {
        case f32 = "F32", f64 = "F64", f16 = "F16", bf16 = "BF16"
        case i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8", u8 = "U8", bool = "BOOL"

        var byteCount: Int {
            switch self {
            case .f64, .i64: return 8
            case .f32, .i32: return 4
            case .f16, .bf16, .i16: return 2
            case .i8, .u8, .bool: return 1
            }
        }

        var isInteger: Bool {
            switch self {
            case .f32, .f64, .f16, .bf16: return false
            default: return true
            }
        }

        func decode(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int, count: Int) -> [Float] {
            var values = [Float](repeating: 0, count: count)
            #if _endian(little)
            if self == .f32, let base = bytes.baseAddress {
                values.withUnsafeMutableBytes { $0.baseAddress?.copyMemory(from: base + start, byteCount: count * 4) }
                return values
            }
            #endif
            func word(_ index: Int, _ width: Int) -> UInt64 {
                var value: UInt64 = 0
                for byte in 0..<width { value |= UInt64(bytes[start + index * width + byte]) << (8 * UInt64(byte)) }
                return value
            }
            for i in 0..<count {
                switch self {
                case .f32: values[i] = Float(bitPattern: UInt32(truncatingIfNeeded: word(i, 4)))
                case .f64: values[i] = Float(Double(bitPattern: word(i, 8)))
                case .f16: values[i] = Float(Float16(bitPattern: UInt16(truncatingIfNeeded: word(i, 2))))
                case .bf16: values[i] = Float(bitPattern: UInt32(truncatingIfNeeded: word(i, 2)) << 16)
                case .i64: values[i] = Float(Int64(bitPattern: word(i, 8)))
                case .i32: values[i] = Float(Int32(truncatingIfNeeded: Int64(bitPattern: word(i, 4) << 32) >> 32))
                case .i16: values[i] = Float(Int16(truncatingIfNeeded: Int64(bitPattern: word(i, 2) << 48) >> 48))
                case .i8: values[i] = Float(Int8(bitPattern: UInt8(truncatingIfNeeded: word(i, 1))))
                case .u8, .bool: values[i] = Float(word(i, 1))
                }
            }
            return values
        }
    }
}

/// A safetensors file that could not be read: which file and what is wrong with it.
public struct SafeTensorsError: Error, CustomStringConvertible, Equatable {
    public let path: String
    public let problem: String
    public var description: String { "safetensors file \(path) \(problem)" }
}

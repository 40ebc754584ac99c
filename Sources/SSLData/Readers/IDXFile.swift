/// An IDX file (the format of MNIST and Fashion-MNIST): a magic number `00 00 <type>
/// <dimension count>`, one big-endian 32-bit size per dimension, then the values.
///
/// Reading validates everything: the magic, the data type, a header that fits, dimensions whose
/// product does not overflow and that describe exactly the bytes present. A bad file throws a
/// `DatasetError` naming it and the problem.
///
/// ```swift
/// let file = try IDXFile.read(from: "train-labels-idx1-ubyte.gz")
/// print(file.dimensions)   // [60000]
/// let encoded = IDXFile.encode(dimensions: [2, 2], bytes: [1, 2, 3, 4])
/// ```
public struct IDXFile: Sendable {
    /// The element types IDX defines (the third byte of the magic number); readers of image
    /// datasets accept `.uint8`.
    ///
    /// ```swift
    /// if file.dataType != .uint8 { print("\(file.dataType.byteWidth)-byte values") }
    /// ```
    public enum DataType: UInt8, Sendable {
        case uint8 = 0x08, int8 = 0x09, int16 = 0x0B, int32 = 0x0C, float32 = 0x0D, float64 = 0x0E

        /// Bytes per element.
        public var byteWidth: Int {
            switch self {
            case .uint8, .int8: return 1
            case .int16: return 2
            case .int32, .float32: return 4
            case .float64: return 8
            }
        }
    }

    /// The element type.
    public let dataType: DataType
    /// The size of each dimension.
    public let dimensions: [Int]
    /// The values as stored (big-endian for multi-byte types).
    public let data: [UInt8]

    /// Reads and validates the (plain or gzip) IDX file at `path`.
    public static func read(from path: String) throws -> IDXFile {
        try IDXFile(bytes: DatasetFile.read(path), path: path)
    }

    /// Parses the bytes of an IDX file; `path` names it in errors.
    public init(bytes: [UInt8], path: String = "<memory>") throws {
        func fail(_ problem: String) -> DatasetError { DatasetError(path: path, problem: problem) }
        guard bytes.count >= 4 else {
            throw fail("is \(bytes.count) bytes long, shorter than the 4-byte IDX magic number")
        }
        guard bytes[0] == 0, bytes[1] == 0 else {
            let magic = bytes[0..<4].map { hex($0) }.joined(separator: " ")
            throw fail("has magic number \(magic), not an IDX file (expected 00 00 <type> <dimension count>)")
        }
        guard let type = DataType(rawValue: bytes[2]) else {
            throw fail("has unknown IDX data type \(hex(bytes[2])) (known: 08 09 0b 0c 0d 0e)")
        }
        let rank = Int(bytes[3])
        guard rank > 0 else { throw fail("declares 0 dimensions") }
        let headerSize = 4 + 4 * rank
        guard bytes.count >= headerSize else {
            throw fail("is truncated inside its header: \(rank) dimensions need \(headerSize) header bytes but the file has \(bytes.count)")
        }
        var dimensions = [Int]()
        var elements = 1
        var overflow = false
        for axis in 0..<rank {
            let at = 4 + 4 * axis
            let size = Int(bytes[at]) << 24 | Int(bytes[at + 1]) << 16 | Int(bytes[at + 2]) << 8 | Int(bytes[at + 3])
            dimensions.append(size)
            let product = elements.multipliedReportingOverflow(by: size)
            overflow = overflow || product.overflow
            elements = product.partialValue
        }
        let payload = bytes.count - headerSize
        let described = dimensions.map(String.init).joined(separator: "×")
        let byteCount = elements.multipliedReportingOverflow(by: type.byteWidth)
        guard !overflow, !byteCount.overflow else {
            throw fail("declares dimensions \(described) whose size overflows (the file holds \(payload) bytes of data)")
        }
        guard byteCount.partialValue == payload else {
            let kind = payload < byteCount.partialValue ? "is truncated" : "has \(payload - byteCount.partialValue) bytes of trailing data"
            throw fail("\(kind): dimensions \(described) of \(type.byteWidth)-byte values need \(byteCount.partialValue) bytes of data, the file holds \(payload)")
        }
        self.dataType = type
        self.dimensions = dimensions
        self.data = Array(bytes[headerSize...])
    }

    /// The bytes of an IDX file of unsigned bytes with the given dimensions.
    public static func encode(dimensions: [Int], bytes: [UInt8]) -> [UInt8] {
        precondition(!dimensions.isEmpty && dimensions.count < 256,
                     "IDXFile.encode: 1 to 255 dimensions are allowed, got \(dimensions.count)")
        precondition(dimensions.allSatisfy { $0 >= 0 && $0 <= Int(UInt32.max) },
                     "IDXFile.encode: every dimension must fit in 32 bits, got \(dimensions)")
        precondition(dimensions.reduce(1, *) == bytes.count,
                     "IDXFile.encode: dimensions \(dimensions) hold \(dimensions.reduce(1, *)) values but \(bytes.count) were given")
        var result: [UInt8] = [0, 0, DataType.uint8.rawValue, UInt8(dimensions.count)]
        for size in dimensions {
            result += [UInt8(truncatingIfNeeded: size >> 24), UInt8(truncatingIfNeeded: size >> 16),
                       UInt8(truncatingIfNeeded: size >> 8), UInt8(truncatingIfNeeded: size)]
        }
        return result + bytes
    }
}

private func hex(_ byte: UInt8) -> String {
    let digits = String(byte, radix: 16)
    return digits.count == 1 ? "0" + digits : digits
}

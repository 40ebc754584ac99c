import CZlib

/// gzip through the system zlib: decompression that rejects truncated, corrupt or trailing
/// data, and compression (for writing test files and caches).
///
/// `decompress` accepts concatenated gzip members (as `gunzip` does) and zlib streams; anything
/// after the last member that is not another member is an error, as is a stream that ends
/// before its end marker.
///
/// ```swift
/// let packed = try Gzip.compress(Array("hello".utf8))
/// let bytes = try Gzip.decompress(packed, path: "hello.gz")   // "hello"
/// ```
public enum Gzip {
    /// Whether `bytes` start with the gzip magic number 1f 8b.
    public static func isCompressed(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b
    }

    /// Inflates a gzip (or zlib) stream. `path` names the source in errors; the output may not
    /// exceed `maximumSize` bytes.
    public static func decompress(_ compressed: [UInt8], path: String = "<memory>", maximumSize: Int = 1 << 34) throws -> [UInt8] {
        func fail(_ problem: String) -> DatasetError { DatasetError(path: path, problem: problem) }
        guard !compressed.isEmpty else { throw fail("is empty, not a gzip stream") }
        var stream = z_stream()
        let initStatus = inflateInit2_(&stream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard initStatus == Z_OK else { throw fail("zlib could not start inflating (inflateInit2 returned \(initStatus))") }
        defer { inflateEnd(&stream) }

        var output = [UInt8](repeating: 0, count: initialCapacity(for: compressed, maximumSize: maximumSize))
        var produced = 0
        var consumed = 0
        let chunk = 1 << 30  // avail_in is 32 bits: feed very large inputs in pieces
        try compressed.withUnsafeBufferPointer { input in
            guard let inputBase = input.baseAddress else { throw fail("is empty, not a gzip stream") }
            while true {
                if stream.avail_in == 0 && consumed < input.count {
                    let length = Swift.min(chunk, input.count &- consumed)
                    stream.next_in = UnsafeMutablePointer(mutating: inputBase + consumed)
                    stream.avail_in = uInt(length)
                    consumed &+= length
                }
                if produced == output.count {
                    guard output.count < maximumSize else {
                        throw fail("decompresses to more than the limit of \(maximumSize) bytes")
                    }
                    let growth = Swift.min(Swift.max(output.count, 4096), maximumSize &- output.count)
                    output.append(contentsOf: repeatElement(0, count: growth))
                }
                let status: Int32 = output.withUnsafeMutableBufferPointer { buffer in
                    guard let base = buffer.baseAddress else { return Z_BUF_ERROR }
                    stream.next_out = base + produced
                    stream.avail_out = uInt(Swift.min(buffer.count &- produced, Int(UInt32.max)))
                    let before = Int(stream.avail_out)
                    let result = inflate(&stream, Z_NO_FLUSH)
                    produced &+= before &- Int(stream.avail_out)
                    stream.next_out = nil
                    return result
                }
                let remaining = Int(stream.avail_in) &+ (input.count &- consumed)
                switch status {
                case Z_OK:
                    continue
                case Z_STREAM_END:
                    if remaining == 0 { return }
                    let next = input.count &- remaining
                    if remaining >= 2 && input[next] == 0x1f && input[next &+ 1] == 0x8b {
                        guard inflateReset(&stream) == Z_OK else { throw fail("zlib could not start the next gzip member") }
                        continue
                    }
                    throw fail("has \(remaining) bytes of trailing data after the end of the gzip stream (at byte \(next))")
                case Z_BUF_ERROR:
                    if produced == output.count { continue }  // grow and retry
                    if stream.avail_in == 0 && consumed < input.count { continue }  // feed the next piece
                    if remaining == 0 {
                        throw fail("is truncated: the gzip stream ends after \(input.count) bytes, before its end marker (\(produced) bytes decompressed)")
                    }
                    throw fail("is corrupt: zlib made no progress at byte \(input.count &- remaining)")
                case Z_NEED_DICT:
                    throw fail("is corrupt: the stream asks for a preset dictionary")
                case Z_DATA_ERROR:
                    throw fail("is corrupt at byte \(input.count &- remaining): \(message(stream))")
                case Z_MEM_ERROR:
                    throw fail("could not be decompressed: zlib ran out of memory")
                default:
                    throw fail("could not be decompressed: zlib error \(status) (\(message(stream)))")
                }
            }
        }
        output.removeSubrange(produced...)
        return output
    }

    /// Compresses `bytes` into one gzip member (zlib level `level`, 0–9).
    public static func compress(_ bytes: [UInt8], level: Int32 = 6) throws -> [UInt8] {
        precondition((0...9).contains(level), "Gzip.compress: level must be in 0...9, got \(level)")
        var stream = z_stream()
        let initStatus = deflateInit2_(&stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY,
                                       ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard initStatus == Z_OK else { throw DatasetError(path: "<memory>", problem: "zlib could not start deflating (\(initStatus))") }
        defer { deflateEnd(&stream) }
        precondition(bytes.count < Int(UInt32.max), "Gzip.compress: input of \(bytes.count) bytes exceeds 4 GiB")
        let bound = Int(deflateBound(&stream, uLong(bytes.count)))
        var output = [UInt8](repeating: 0, count: bound)
        let status: Int32 = bytes.withUnsafeBufferPointer { input in
            output.withUnsafeMutableBufferPointer { buffer in
                var empty: UInt8 = 0
                return withUnsafeMutablePointer(to: &empty) { emptyPointer in
                    stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress) ?? emptyPointer
                    stream.avail_in = uInt(input.count)
                    stream.next_out = buffer.baseAddress
                    stream.avail_out = uInt(buffer.count)
                    let result = deflate(&stream, Z_FINISH)
                    stream.next_in = nil
                    stream.next_out = nil
                    return result
                }
            }
        }
        guard status == Z_STREAM_END else {
            throw DatasetError(path: "<memory>", problem: "zlib could not compress (deflate returned \(status))")
        }
        output.removeSubrange(Int(stream.total_out)...)
        return output
    }

    /// A first output size: the gzip trailer's ISIZE (the size modulo 2³²) when it is
    /// plausible, else four times the input; the buffer grows as needed either way.
    private static func initialCapacity(for compressed: [UInt8], maximumSize: Int) -> Int {
        let fallback = Swift.max(4096, Swift.min(compressed.count &* 4, maximumSize))
        guard compressed.count >= 18 else { return Swift.min(fallback, maximumSize) }
        let n = compressed.count
        let isize = Int(compressed[n - 4]) | Int(compressed[n - 3]) << 8 | Int(compressed[n - 2]) << 16 | Int(compressed[n - 1]) << 24
        let ceiling = compressed.count.multipliedReportingOverflow(by: 1032)
        guard isize > 0, !ceiling.overflow, isize <= ceiling.partialValue else { return Swift.min(fallback, maximumSize) }
        return Swift.max(1, Swift.min(isize, maximumSize))
    }

    private static func message(_ stream: z_stream) -> String {
        guard let text = stream.msg else { return "no detail from zlib" }
        return String(cString: text)
    }
}

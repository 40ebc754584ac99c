#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Reading dataset files whole: plain or gzip-compressed (recognised by the gzip magic number,
/// whatever the file is called), and finding a file with or without its `.gz` suffix.
///
/// ```swift
/// let bytes = try DatasetFile.read("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz")
/// let path = try DatasetFile.locate("t10k-labels-idx1-ubyte", in: "/usr/share/datasets/fashion-mnist")
/// ```
public enum DatasetFile {
    /// The bytes of the file at `path`, decompressed when it is gzip.
    public static func read(_ path: String) throws -> [UInt8] {
        let raw = try readRaw(path)
        return Gzip.isCompressed(raw) ? try Gzip.decompress(raw, path: path) : raw
    }

    /// The bytes of the file at `path` as stored.
    public static func readRaw(_ path: String) throws -> [UInt8] {
        func fail(_ problem: String) -> DatasetError { DatasetError(path: path, problem: problem) }
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { throw fail("cannot be opened: \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw fail("cannot be examined: \(String(cString: strerror(errno)))") }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw fail("is not a regular file") }
        let size = Int(info.st_size)
        var failure: String?
        let bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
            var total = 0
            while total < size, let base = buffer.baseAddress {
                let result = systemRead(descriptor, base + total, size &- total)
                if result < 0 {
                    if errno == EINTR { continue }
                    failure = "read failed after \(total) of \(size) bytes: \(String(cString: strerror(errno)))"
                    break
                }
                if result == 0 {
                    failure = "ended after \(total) of its \(size) bytes while being read"
                    break
                }
                total &+= result
            }
            initialized = failure == nil ? total : 0
        }
        if let failure { throw fail(failure) }
        return bytes
    }

    /// Whether a regular file exists at `path`.
    public static func exists(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
    }

    /// Whether a directory exists at `path`.
    public static func directoryExists(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// The path of `name` or `name.gz` inside `directory` (the plain file first); throws naming
    /// both candidates when neither exists.
    public static func locate(_ name: String, in directory: String) throws -> String {
        let base = directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        let plain = "\(base)/\(name)", compressed = "\(base)/\(name).gz"
        if exists(plain) { return plain }
        if exists(compressed) { return compressed }
        throw DatasetError(path: compressed, problem: "not found (neither \(name) nor \(name).gz is in \(base))")
    }
}

/// The POSIX `read(2)` (named apart from `DatasetFile.read`).
private func systemRead(_ descriptor: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int {
    #if canImport(Glibc)
    return Glibc.read(descriptor, buffer, count)
    #elseif canImport(Musl)
    return Musl.read(descriptor, buffer, count)
    #else
    return Darwin.read(descriptor, buffer, count)
    #endif
}

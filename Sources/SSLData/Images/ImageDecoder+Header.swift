import CImageCodec

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension ImageDecoder {
    /// What an image file's header says, read without decoding a pixel.
    public struct Header: Sendable, Equatable {
        public let format: Format
        /// The size as stored (before any EXIF orientation turns it).
        public let width: Int
        public let height: Int
        /// The stored components: 1 (grey) to 4 (RGBA, or a CMYK JPEG).
        public let components: Int
    }

    /// How much of a file `header(ofFile:)` reads first: enough for the header of nearly every
    /// PNG and JPEG (a JPEG's Exif and ICC segments come before its first scan).
    static let headerPrefixBytes = 64 << 10

    /// Reads and checks the header of the image file at `path`: its first 64 KiB (the whole
    /// file when the header runs longer), parsed by libpng up to the first image data or by
    /// libjpeg up to the first scan, as `decode` would. Throws the error `decode` would throw
    /// for a file that is missing, unreadable, not a regular file, empty, not a PNG or JPEG, or
    /// whose header is corrupt, cut short, of an unconvertible kind or larger than
    /// `maximumPixels`. Damage after the header (a truncated or corrupt pixel stream) shows
    /// only when the file is decoded.
    ///
    /// ```swift
    /// let header = try ImageDecoder.header(ofFile: "photos/cat.jpg")   // .jpeg, 4032 × 3024
    /// ```
    public static func header(ofFile path: String, maximumPixels: Int = defaultMaximumPixels) throws -> Header {
        let (prefix, fileSize) = try readPrefix(path, count: headerPrefixBytes)
        do {
            return try readHeader(prefix, path: path, maximumPixels: maximumPixels)
        } catch let error as HeaderTruncation {
            guard fileSize > prefix.count else { throw error.error }
            return try header(of: try readFile(path), path: path, maximumPixels: maximumPixels)  // a longer header
        }
    }

    /// Checks the header of encoded bytes (see `header(ofFile:maximumPixels:)`); `path` names
    /// the source in errors.
    public static func header(of bytes: [UInt8], path: String = "<memory>",
                              maximumPixels: Int = defaultMaximumPixels) throws -> Header {
        do {
            return try readHeader(bytes, path: path, maximumPixels: maximumPixels)
        } catch let error as HeaderTruncation {
            throw error.error
        }
    }

    /// A header cut short: the error for a file that really ends there, caught by
    /// `header(ofFile:)` when only a prefix was read.
    private struct HeaderTruncation: Error {
        let error: DatasetError
    }

    private static func readHeader(_ bytes: [UInt8], path: String, maximumPixels: Int) throws -> Header {
        func fail(_ problem: String) -> DatasetError { DatasetError(path: path, problem: problem) }
        guard !bytes.isEmpty else { throw fail("is empty (0 bytes), not an image") }
        guard let format = format(of: bytes) else { throw fail(unrecognisedProblem(bytes)) }
        var image = ssl_decoded_image()
        let limit = maximumPixels > 0 ? maximumPixels : defaultMaximumPixels
        let code = bytes.withUnsafeBufferPointer { buffer in
            ssl_read_image_header(buffer.baseAddress, buffer.count, size_t(limit), &image)
        }
        guard code == Int32(SSL_IMAGE_OK) else {
            let error = fail(problem(code: code, format: format, image: &image))
            if code == Int32(SSL_IMAGE_TRUNCATED) { throw HeaderTruncation(error: error) }
            throw error
        }
        return Header(format: format, width: Int(image.width), height: Int(image.height), components: Int(image.channels))
    }

    /// The first `count` bytes of the regular file at `path` (fewer when it is shorter), and
    /// the file's size.
    static func readPrefix(_ path: String, count: Int) throws -> (bytes: [UInt8], fileSize: Int) {
        func fail(_ problem: String) -> DatasetError { DatasetError(path: path, problem: problem) }
        var info = stat()
        guard stat(path, &info) == 0 else { throw fail("cannot be opened: \(String(cString: strerror(errno)))") }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw fail("is not a regular file") }
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { throw fail("cannot be opened: \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        guard fstat(descriptor, &info) == 0 else { throw fail("cannot be examined: \(String(cString: strerror(errno)))") }
        let fileSize = Int(info.st_size), wanted = Swift.min(fileSize, count)
        var failure: String?
        let bytes = [UInt8](unsafeUninitializedCapacity: wanted) { buffer, initialized in
            var total = 0
            while total < wanted, let base = buffer.baseAddress {
                let result = pread(descriptor, base + total, wanted &- total, off_t(total))
                if result < 0 {
                    if errno == EINTR { continue }
                    failure = "read failed after \(total) bytes: \(String(cString: strerror(errno)))"
                    break
                }
                if result == 0 { break }  // shorter than fstat said: parse what there is
                total &+= result
            }
            initialized = failure == nil ? total : 0
        }
        if let failure { throw fail(failure) }
        return (bytes, fileSize)
    }
}

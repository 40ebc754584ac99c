import CImageCodec

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// PNG and JPEG decoding through the system libraries (libpng, libjpeg-turbo), into 1 or 3
/// 8-bit channels, as Pillow's `Image.open(path).convert("L" or "RGB")` gives them.
///
/// - Every PNG kind: grey (1–16 bits), grey + alpha, palette (with or without transparency),
///   RGB, RGBA, 16-bit, interlaced. Alpha is discarded (Pillow's `convert` drops it too), 16-bit
///   samples keep their high byte, RGB becomes grey with Rec. 601 weights (Pillow's `"L"`).
/// - Every JPEG kind: grey, YCbCr/RGB, CMYK and YCCK (Adobe's inverted convention, converted
///   to RGB as Pillow does), baseline and progressive. The EXIF orientation is applied.
/// - The format comes from the bytes, not the file name.
/// - Bad input throws a `DatasetError` naming the file: empty, not a PNG or JPEG (GIF, WebP,
///   BMP, TIFF and HEIF are named as such), corrupt, truncated, or larger than
///   `maximumPixels`. Nothing crashes or prints: the C layer catches the libraries' jumps.
///
/// ```swift
/// let picture = try ImageDecoder.decode(contentsOf: "photos/cat.jpg", channels: 3)
/// let small = try ImageDecoder.decodeResized(contentsOf: "photos/cat.jpg", imageSize: 96, channels: 3)
/// // small: 3 × 96 × 96 bytes (CHW), as ImageFolder stores them
/// ```
public enum ImageDecoder {
    /// The formats decoded.
    public enum Format: String, Sendable {
        case png, jpeg
    }

    /// The default limit on pixels in one image (2²⁸, about 16 384 × 16 384): larger files
    /// are refused before their pixels are allocated.
    public static let defaultMaximumPixels = 1 << 28

    /// The linked libraries' versions, for logs (`"libpng 1.6.39, libjpeg-turbo 2.1.5"`).
    public static var libraryVersions: String { String(cString: ssl_image_library_versions()) }

    /// The format of encoded bytes, from their signature; nil when neither.
    public static func format(of bytes: [UInt8]) -> Format? {
        if bytes.count >= 8 && bytes[0..<8].elementsEqual([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        if bytes.count >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF { return .jpeg }
        return nil
    }

    /// Decodes a PNG or JPEG into `channels` (1 or 3) channels, upright. `minimumSide` > 0 lets
    /// a JPEG decode at 1/2, 1/4 or 1/8 size (libjpeg's DCT scaling) while its shorter side
    /// stays at least `minimumSide`; `path` names the source in errors.
    public static func decode(_ bytes: [UInt8], channels: Int, minimumSide: Int = 0,
                              maximumPixels: Int = defaultMaximumPixels, path: String = "<memory>") throws -> DecodedImage {
        try withDecoded(bytes, channels: channels, minimumSide: minimumSide, maximumPixels: maximumPixels, path: path) { view in
            DecodedImage(width: view.width, height: view.height, channels: view.channels,
                         pixels: Array(UnsafeBufferPointer(start: view.pixels, count: view.width * view.height * view.channels)))
        }
    }

    /// Reads and decodes the file at `path` (see `decode(_:channels:minimumSide:maximumPixels:path:)`).
    public static func decode(contentsOf path: String, channels: Int, minimumSide: Int = 0,
                              maximumPixels: Int = defaultMaximumPixels) throws -> DecodedImage {
        try decode(try readFile(path), channels: channels, minimumSide: minimumSide,
                   maximumPixels: maximumPixels, path: path)
    }

    /// Decodes the file at `path` and returns the shorter side resized to `imageSize` and
    /// centre-cropped to `imageSize × imageSize`, as `channels × imageSize × imageSize` bytes
    /// (CHW), exactly what `ImageFolder` stores. Large JPEGs decode DCT-scaled.
    public static func decodeResized(contentsOf path: String, imageSize: Int, channels: Int,
                                     maximumPixels: Int = defaultMaximumPixels) throws -> [UInt8] {
        let bytes = try readFile(path)
        var scratch = CenterCropResize.Scratch()
        var failure: Error?
        let result = [UInt8](unsafeUninitializedCapacity: channels * imageSize * imageSize) { output, initialized in
            guard let base = output.baseAddress else { return }
            do {
                try decodeResized(bytes, path: path, imageSize: imageSize, channels: channels,
                                  maximumPixels: maximumPixels, into: base, scratch: &scratch)
                initialized = output.count
            } catch {
                failure = error
            }
        }
        if let failure { throw failure }
        return result
    }

    /// Decodes `bytes` and writes the resized centre crop (CHW) into `output`.
    static func decodeResized(_ bytes: [UInt8], path: String, imageSize: Int, channels: Int, maximumPixels: Int,
                              into output: UnsafeMutablePointer<UInt8>, scratch: inout CenterCropResize.Scratch) throws {
        precondition(imageSize > 0, "ImageDecoder.decodeResized: imageSize must be positive, got \(imageSize)")
        try withDecoded(bytes, channels: channels, minimumSide: imageSize, maximumPixels: maximumPixels, path: path) { view in
            CenterCropResize.resize(source: view.pixels, width: view.width, height: view.height, channels: view.channels,
                                    size: imageSize, into: output, scratch: &scratch)
        }
    }

    /// The bytes of the image file at `path`; anything but a regular file (after links) is
    /// refused before it is opened, so a named pipe cannot block the reader.
    static func readFile(_ path: String) throws -> [UInt8] {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw DatasetError(path: path, problem: "cannot be opened: \(String(cString: strerror(errno)))")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw DatasetError(path: path, problem: "is not a regular file") }
        return try DatasetFile.readRaw(path)
    }

    // MARK: - Decoding

    /// Decoded pixels borrowed for the duration of a closure.
    struct PixelView {
        let pixels: UnsafePointer<UInt8>
        let width: Int
        let height: Int
        let channels: Int
    }

    /// Decodes, converts CMYK, applies the EXIF orientation, and lends the result to `body`.
    static func withDecoded<Result>(_ bytes: [UInt8], channels: Int, minimumSide: Int, maximumPixels: Int, path: String,
                                    _ body: (PixelView) throws -> Result) throws -> Result {
        precondition(channels == 1 || channels == 3, "ImageDecoder: channels must be 1 or 3, got \(channels)")
        func fail(_ problem: String) -> DatasetError { DatasetError(path: path, problem: problem) }
        guard !bytes.isEmpty else { throw fail("is empty (0 bytes), not an image") }
        guard let format = format(of: bytes) else { throw fail(unrecognisedProblem(bytes)) }

        var image = ssl_decoded_image()
        defer { ssl_image_free(&image) }
        let limit = maximumPixels > 0 ? maximumPixels : defaultMaximumPixels
        let code: Int32 = bytes.withUnsafeBufferPointer { buffer in
            switch format {
            case .png: return ssl_decode_png(buffer.baseAddress, buffer.count, Int32(channels), size_t(limit), &image)
            case .jpeg: return ssl_decode_jpeg(buffer.baseAddress, buffer.count, Int32(channels), Int32(clamping: minimumSide), size_t(limit), &image)
            }
        }
        guard code == Int32(SSL_IMAGE_OK) else { throw fail(problem(code: code, format: format, image: &image)) }
        guard let decoded = image.pixels, image.width > 0, image.height > 0 else {
            throw fail("is a \(format.name) that decoded to no pixels")
        }
        let width = Int(image.width), height = Int(image.height)
        var pixels = UnsafePointer(decoded)
        var converted: [UInt8] = []
        if image.channels == 4 {
            converted = convertCMYK(pixels, count: width * height, inverted: image.adobe_inverted != 0, channels: channels)
        }
        var orientation = ExifOrientation.normal
        if let exif = image.exif, image.exif_length > 0 {
            let block = Array(UnsafeBufferPointer(start: exif, count: image.exif_length))
            orientation = ExifOrientation(exif: block) ?? .normal
        }
        if orientation == .normal && converted.isEmpty {
            return try body(PixelView(pixels: pixels, width: width, height: height, channels: channels))
        }
        if orientation != .normal {
            let unturned = converted, count = width * height * channels
            converted = [UInt8](unsafeUninitializedCapacity: count) { output, initialized in
                guard let target = output.baseAddress else { return }
                if unturned.isEmpty {
                    orientation.apply(source: pixels, width: width, height: height, channels: channels, into: target)
                } else {
                    unturned.withUnsafeBufferPointer { source in
                        guard let base = source.baseAddress else { return }
                        orientation.apply(source: base, width: width, height: height, channels: channels, into: target)
                    }
                }
                initialized = count
            }
        }
        let (finalWidth, finalHeight) = orientation.swapsSides ? (height, width) : (width, height)
        return try converted.withUnsafeBufferPointer { buffer in
            pixels = buffer.baseAddress ?? pixels
            return try body(PixelView(pixels: pixels, width: finalWidth, height: finalHeight, channels: channels))
        }
    }

    /// CMYK bytes (Adobe-inverted when `inverted`) to RGB or grey, with Pillow's arithmetic:
    /// each colour is `(255 − k) − (c · (255 − k)) / 255` (rounded), grey `(19595 r + 38470 g
    /// + 7471 b + 2¹⁵) >> 16`.
    static func convertCMYK(_ source: UnsafePointer<UInt8>, count: Int, inverted: Bool, channels: Int) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: count * channels) { output, initialized in
            @inline(__always) func scaled(_ a: Int, _ b: Int) -> Int {
                let product = a * b + 128
                return ((product >> 8) + product) >> 8
            }
            for index in 0..<count {
                var cyan = Int(source[index * 4]), magenta = Int(source[index * 4 + 1])
                var yellow = Int(source[index * 4 + 2]), black = Int(source[index * 4 + 3])
                if inverted { cyan = 255 - cyan; magenta = 255 - magenta; yellow = 255 - yellow; black = 255 - black }
                let white = 255 - black
                let red = white - scaled(cyan, white)
                let green = white - scaled(magenta, white)
                let blue = white - scaled(yellow, white)
                if channels == 3 {
                    output[index * 3] = UInt8(red)
                    output[index * 3 + 1] = UInt8(green)
                    output[index * 3 + 2] = UInt8(blue)
                } else {
                    let weighted = 19595 * red + 38470 * green + 7471 * blue + 0x8000
                    output[index] = UInt8(weighted >> 16)
                }
            }
            initialized = count * channels
        }
    }

    /// The error text for a failed library call.
    static func problem(code: Int32, format: Format, image: inout ssl_decoded_image) -> String {
        let message = withUnsafeBytes(of: &image.message) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        let library = format == .png ? "libpng" : "libjpeg"
        switch Int(code) {
        case Int(SSL_IMAGE_TRUNCATED): return "is a truncated \(format.name): it ends before the image does (\(library): \(message))"
        case Int(SSL_IMAGE_TOO_LARGE): return "is a \(format.name) too large to decode: \(message)"
        case Int(SSL_IMAGE_OUT_OF_MEMORY): return "could not be decoded for lack of memory (\(library): \(message))"
        case Int(SSL_IMAGE_UNSUPPORTED): return "is a \(format.name) of a kind that cannot be converted (\(library): \(message))"
        default: return "is a corrupt \(format.name) (\(library): \(message))"
        }
    }

    /// What a file that is neither PNG nor JPEG seems to be.
    static func unrecognisedProblem(_ bytes: [UInt8]) -> String {
        func starts(_ prefix: String, at offset: Int = 0) -> Bool {
            let signature = Array(prefix.utf8)
            return bytes.count >= offset + signature.count && bytes[offset..<(offset + signature.count)].elementsEqual(signature)
        }
        let known: String?
        if starts("GIF8") { known = "GIF" }
        else if starts("RIFF") && starts("WEBP", at: 8) { known = "WebP" }
        else if starts("BM") { known = "BMP" }
        else if starts("II*\u{0}") || starts("MM\u{0}*") { known = "TIFF" }
        else if starts("ftyp", at: 4) { known = "HEIF/AVIF (or another ISO media file)" }
        else { known = nil }
        if let known { return "is a \(known) image; only PNG and JPEG are decoded" }
        let head = bytes.prefix(8).map { byte in
            let digits = String(byte, radix: 16)
            return digits.count == 1 ? "0" + digits : digits
        }.joined(separator: " ")
        return "is not a PNG or JPEG image (it starts with \(head))"
    }
}

extension ImageDecoder.Format {
    /// "PNG" or "JPEG", for messages.
    var name: String { self == .png ? "PNG" : "JPEG" }
}

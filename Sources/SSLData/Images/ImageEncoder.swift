import CImageCodec

/// PNG and JPEG encoding through the system libraries: for thumbnails and galleries, and for
/// tests that need image files of every kind.
///
/// ```swift
/// let png = try ImageEncoder.png(DecodedImage(width: 2, height: 1, channels: 3, pixels: [255, 0, 0, 0, 0, 255]))
/// let jpeg = try ImageEncoder.jpeg(pixels: grey, width: 64, height: 48, components: 1, quality: 90)
/// let palette = try ImageEncoder.png(rows: indices, width: 4, height: 4, color: .palette,
///                                    palette: [0, 0, 0, 255, 255, 255])
/// ```
public enum ImageEncoder {
    /// PNG colour types.
    public enum PNGColor: Int32, Sendable {
        case grey = 0
        case rgb = 2
        case palette = 3
        case greyAlpha = 4
        case rgba = 6

        /// Samples per pixel.
        public var samples: Int {
            switch self {
            case .grey, .palette: return 1
            case .greyAlpha: return 2
            case .rgb: return 3
            case .rgba: return 4
            }
        }
    }

    /// Encodes a PNG from rows exactly as PNG stores them unfiltered: `height` rows of
    /// `(width · samples · bitDepth + 7) / 8` bytes (samples packed below 8 bits, big-endian at
    /// 16). `palette` holds RGB triples, `transparency` one alpha per palette entry.
    public static func png(rows: [UInt8], width: Int, height: Int, color: PNGColor, bitDepth: Int = 8,
                           interlaced: Bool = false, palette: [UInt8] = [], transparency: [UInt8] = [],
                           compressionLevel: Int = 6) throws -> [UInt8] {
        let rowBytes = (width * color.samples * bitDepth + 7) / 8
        guard width > 0, height > 0, rows.count == rowBytes * height else {
            throw DatasetError(path: "<png>", problem: "\(rows.count) bytes given for \(height) rows of \(rowBytes) bytes (\(width) pixels, \(color), \(bitDepth) bits)")
        }
        guard palette.count % 3 == 0, palette.count <= 768, transparency.count <= 256 else {
            throw DatasetError(path: "<png>", problem: "a palette holds at most 256 RGB triples and as many alphas")
        }
        var output = ssl_encoded_data()
        defer { ssl_encoded_free(&output) }
        let code = rows.withUnsafeBufferPointer { rowBuffer in
            palette.withUnsafeBufferPointer { paletteBuffer in
                transparency.withUnsafeBufferPointer { transparencyBuffer in
                    ssl_encode_png(rowBuffer.baseAddress, Int32(width), Int32(height), color.rawValue, Int32(bitDepth),
                                   interlaced ? 1 : 0, paletteBuffer.baseAddress, Int32(palette.count / 3),
                                   transparencyBuffer.baseAddress, Int32(transparency.count), Int32(compressionLevel), &output)
                }
            }
        }
        return try result(code: code, output: &output, format: "PNG")
    }

    /// Encodes a grey or RGB picture as an 8-bit PNG.
    public static func png(_ image: DecodedImage, compressionLevel: Int = 6) throws -> [UInt8] {
        guard image.channels == 1 || image.channels == 3 else {
            throw DatasetError(path: "<png>", problem: "only 1 or 3 channels are written, not \(image.channels)")
        }
        return try png(rows: image.pixels, width: image.width, height: image.height,
                       color: image.channels == 1 ? .grey : .rgb, compressionLevel: compressionLevel)
    }

    /// Encodes a JPEG from `components` (1 grey, 3 RGB, 4 CMYK) interleaved 8-bit channels.
    /// CMYK is written as libjpeg writes it, with an Adobe marker (so readers take the values
    /// as inverted, Photoshop's convention): pass inverted values for the usual meaning, and
    /// `ycck: true` for YCCK. `app1` is written as an APP1 segment (an Exif block starts
    /// "Exif\0\0").
    public static func jpeg(pixels: [UInt8], width: Int, height: Int, components: Int, quality: Int = 90,
                            progressive: Bool = false, ycck: Bool = false, app1: [UInt8]? = nil) throws -> [UInt8] {
        guard width > 0, height > 0, [1, 3, 4].contains(components), pixels.count == width * height * components else {
            throw DatasetError(path: "<jpeg>", problem: "\(pixels.count) bytes given for \(width)×\(height) pixels of \(components) components")
        }
        var output = ssl_encoded_data()
        defer { ssl_encoded_free(&output) }
        let segment = app1 ?? []
        let code = pixels.withUnsafeBufferPointer { pixelBuffer in
            segment.withUnsafeBufferPointer { segmentBuffer in
                ssl_encode_jpeg(pixelBuffer.baseAddress, Int32(width), Int32(height), Int32(components), Int32(quality),
                                progressive ? 1 : 0, ycck ? 1 : 0, segment.isEmpty ? nil : segmentBuffer.baseAddress,
                                segment.count, &output)
            }
        }
        return try result(code: code, output: &output, format: "JPEG")
    }

    /// Encodes a grey or RGB picture as a JPEG.
    public static func jpeg(_ image: DecodedImage, quality: Int = 90, progressive: Bool = false) throws -> [UInt8] {
        try jpeg(pixels: image.pixels, width: image.width, height: image.height, components: image.channels,
                 quality: quality, progressive: progressive)
    }

    private static func result(code: Int32, output: inout ssl_encoded_data, format: String) throws -> [UInt8] {
        guard code == Int32(SSL_IMAGE_OK), let bytes = output.bytes else {
            let message = withUnsafeBytes(of: &output.message) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            throw DatasetError(path: "<\(format.lowercased())>", problem: "could not be encoded: \(message)")
        }
        return Array(UnsafeBufferPointer(start: bytes, count: output.length))
    }
}

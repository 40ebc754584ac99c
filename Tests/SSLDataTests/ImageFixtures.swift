import Foundation
import SSLData
import SSLTensor

/// Image files written in the tests by the same libraries that decode them (libpng,
/// libjpeg-turbo through `ImageEncoder`), with pixel values known exactly.
enum ImageFixtures {
    /// Eight RGB colours of a 4 × 2 test picture, row-major.
    static let colours: [[UInt8]] = [
        [255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255],
        [0, 0, 0], [128, 64, 32], [10, 200, 90], [77, 77, 77],
    ]
    /// Eight grey levels of a 4 × 2 test picture.
    static let greys: [UInt8] = [0, 17, 51, 102, 153, 204, 238, 255]

    /// The RGB picture as interleaved bytes.
    static var rgbPixels: [UInt8] { colours.flatMap { $0 } }

    /// Pillow's RGB → L (ITU-R 601-2 luma): `(19595 r + 38470 g + 7471 b + 2¹⁵) >> 16`.
    static func pillowLuma(_ rgb: [UInt8]) -> UInt8 {
        let weighted = 19595 * Int(rgb[0]) + 38470 * Int(rgb[1]) + 7471 * Int(rgb[2]) + 0x8000
        return UInt8(weighted >> 16)
    }

    /// The kinds of PNG written by `png(kind:)`: every colour type and bit depth of the
    /// format, plus interlacing.
    enum PNGKind: String, CaseIterable {
        case grey1, grey2, grey4, grey8, grey16, greyAlpha8, greyAlpha16
        case palette1, palette2, palette4, palette8, paletteTransparent
        case rgb8, rgb16, rgba8, rgba16, rgbInterlaced, greyInterlaced
    }

    /// A 4 × 2 PNG of `kind`, and its expected RGB pixels (interleaved) when decoded.
    static func png(_ kind: PNGKind) throws -> (bytes: [UInt8], expectedRGB: [UInt8]) {
        let width = 4, height = 2
        func greyExpected(_ levels: [UInt8]) -> [UInt8] { levels.flatMap { [$0, $0, $0] } }
        func packed(_ values: [Int], bits: Int) -> [UInt8] {
            // Rows of `width` samples of `bits` bits, most significant first, rows padded to bytes.
            var rows: [UInt8] = []
            for row in 0..<height {
                var byte = 0, used = 0
                for column in 0..<width {
                    byte = byte << bits | values[row * width + column]
                    used += bits
                    if used == 8 { rows.append(UInt8(byte)); byte = 0; used = 0 }
                }
                if used > 0 { rows.append(UInt8(byte << (8 - used))) }
            }
            return rows
        }
        switch kind {
        case .grey1, .grey2, .grey4:
            let bits = kind == .grey1 ? 1 : (kind == .grey2 ? 2 : 4)
            let maximum = (1 << bits) - 1
            let values = (0..<8).map { ($0 * 5 + 1) % (maximum + 1) }
            let levels = values.map { UInt8($0 * 255 / maximum) }
            return (try ImageEncoder.png(rows: packed(values, bits: bits), width: width, height: height, color: .grey, bitDepth: bits),
                    greyExpected(levels))
        case .grey8:
            return (try ImageEncoder.png(rows: greys, width: width, height: height, color: .grey), greyExpected(greys))
        case .grey16:
            let rows = greys.flatMap { level -> [UInt8] in [level, 0xA5] }  // the low byte is dropped
            return (try ImageEncoder.png(rows: rows, width: width, height: height, color: .grey, bitDepth: 16), greyExpected(greys))
        case .greyAlpha8:
            let rows = greys.enumerated().flatMap { index, level -> [UInt8] in [level, UInt8(index * 30)] }
            return (try ImageEncoder.png(rows: rows, width: width, height: height, color: .greyAlpha), greyExpected(greys))
        case .greyAlpha16:
            let rows = greys.enumerated().flatMap { index, level -> [UInt8] in [level, 0x11, UInt8(index * 30), 0x22] }
            return (try ImageEncoder.png(rows: rows, width: width, height: height, color: .greyAlpha, bitDepth: 16),
                    greyExpected(greys))
        case .palette1, .palette2, .palette4:
            let bits = kind == .palette1 ? 1 : (kind == .palette2 ? 2 : 4)
            let entries = Swift.min(8, 1 << bits)
            let values = (0..<8).map { ($0 * 3 + 1) % entries }
            let palette = colours.prefix(entries).flatMap { $0 }
            return (try ImageEncoder.png(rows: packed(values, bits: bits), width: width, height: height, color: .palette,
                                         bitDepth: bits, palette: palette),
                    values.flatMap { colours[$0] })
        case .palette8, .paletteTransparent:
            let values: [UInt8] = [7, 6, 5, 4, 3, 2, 1, 0]
            let transparency: [UInt8] = kind == .paletteTransparent ? [0, 40, 80, 120, 160, 200, 240, 255] : []
            return (try ImageEncoder.png(rows: values, width: width, height: height, color: .palette,
                                         palette: rgbPixels, transparency: transparency),
                    values.flatMap { colours[Int($0)] })
        case .rgb8:
            return (try ImageEncoder.png(rows: rgbPixels, width: width, height: height, color: .rgb), rgbPixels)
        case .rgb16:
            let rows = rgbPixels.flatMap { sample -> [UInt8] in [sample, 0xC3] }
            return (try ImageEncoder.png(rows: rows, width: width, height: height, color: .rgb, bitDepth: 16), rgbPixels)
        case .rgba8:
            let rows = colours.enumerated().flatMap { index, colour -> [UInt8] in colour + [UInt8(255 - index * 31)] }
            return (try ImageEncoder.png(rows: rows, width: width, height: height, color: .rgba), rgbPixels)
        case .rgba16:
            let rows = colours.enumerated().flatMap { index, colour -> [UInt8] in
                colour.flatMap { sample -> [UInt8] in [sample, 0x7E] } + [UInt8(index * 20), 0]
            }
            return (try ImageEncoder.png(rows: rows, width: width, height: height, color: .rgba, bitDepth: 16), rgbPixels)
        case .rgbInterlaced:
            return (try ImageEncoder.png(rows: rgbPixels, width: width, height: height, color: .rgb, interlaced: true), rgbPixels)
        case .greyInterlaced:
            return (try ImageEncoder.png(rows: greys, width: width, height: height, color: .grey, interlaced: true),
                    greyExpected(greys))
        }
    }

    /// A `width × height` RGB picture with smooth gradients and a few shapes, like a photo
    /// compresses (for speed and Pillow checks).
    static func photoLike(width: Int, height: Int, seed: UInt64) -> [UInt8] {
        var generator = RandomGenerator(seed: seed)
        let phase = Double(generator.nextInt(below: 100)) / 10
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                let u = Double(x) / Double(width), v = Double(y) / Double(height)
                let red = 128 + 100 * sin(6 * u + phase) * cos(3 * v)
                let green = 255 * u * (1 - v) + 20 * sin(Double(x * y) / 500)
                let blue = 255 * v
                let inDisk = (u - 0.6) * (u - 0.6) + (v - 0.4) * (v - 0.4) < 0.04
                let noise = Double(generator.nextInt(below: 9)) - 4
                let index = (y * width + x) * 3
                pixels[index] = UInt8(clamping: Int(inDisk ? 240 : red + noise))
                pixels[index + 1] = UInt8(clamping: Int(inDisk ? 30 : green + noise))
                pixels[index + 2] = UInt8(clamping: Int(blue + noise))
            }
        }
        return pixels
    }

    /// The four grey levels of the orientation picture's quadrants: top-left, top-right,
    /// bottom-left, bottom-right.
    static let quadrantLevels: [UInt8] = [30, 90, 160, 230]

    /// A 32 × 16 picture (RGB, equal channels) of four 16 × 8 quadrants.
    static func quadrants(channels: Int) -> [UInt8] {
        var pixels: [UInt8] = []
        for y in 0..<16 {
            for x in 0..<32 {
                let level = quadrantLevels[(y < 8 ? 0 : 2) + (x < 16 ? 0 : 1)]
                pixels += [UInt8](repeating: level, count: channels)
            }
        }
        return pixels
    }

    /// An APP1 payload: "Exif\0\0", a TIFF header in the given byte order and IFD0 holding an
    /// image-width tag and the orientation tag.
    static func exifBlock(orientation: Int, bigEndian: Bool) -> [UInt8] {
        func u16(_ value: Int) -> [UInt8] {
            bigEndian ? [UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)] : [UInt8(value & 0xFF), UInt8(value >> 8 & 0xFF)]
        }
        func u32(_ value: Int) -> [UInt8] {
            bigEndian ? u16(value >> 16) + u16(value & 0xFFFF) : u16(value & 0xFFFF) + u16(value >> 16)
        }
        var tiff: [UInt8] = bigEndian ? [0x4D, 0x4D] : [0x49, 0x49]
        tiff += u16(42) + u32(8)
        tiff += u16(2)                                    // two entries
        tiff += u16(0x0100) + u16(4) + u32(1) + u32(32)   // ImageWidth, LONG
        tiff += u16(0x0112) + u16(3) + u32(1) + u16(orientation) + u16(0)
        tiff += u32(0)                                    // no next IFD
        return Array("Exif".utf8) + [0, 0] + tiff
    }
}

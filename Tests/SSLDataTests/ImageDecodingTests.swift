import Foundation
@testable import SSLData
import SSLTensor
import XCTest

/// PNG and JPEG decoding through libpng and libjpeg-turbo: every kind of file, CMYK, DCT
/// scaling, bad input (which throws, never crashes) and Pillow's pixels. The EXIF orientations
/// and the resize: `ImageOrientationAndResizeTests`.
final class ImageDecodingTests: XCTestCase {
    // MARK: - PNG

    func testEveryPNGKindDecodesToItsExactPixelsInRGBAndGrey() throws {
        for kind in ImageFixtures.PNGKind.allCases {
            let (bytes, expected) = try ImageFixtures.png(kind)
            XCTAssertEqual(ImageDecoder.format(of: bytes), .png, "\(kind)")
            let rgb = try ImageDecoder.decode(bytes, channels: 3)
            XCTAssertEqual([rgb.width, rgb.height, rgb.channels], [4, 2, 3], "\(kind)")
            XCTAssertEqual(rgb.pixels, expected, "\(kind): RGB pixels (alpha dropped, 16 bits to the high byte)")
            let grey = try ImageDecoder.decode(bytes, channels: 1)
            XCTAssertEqual([grey.width, grey.height, grey.channels], [4, 2, 1], "\(kind)")
            for index in 0..<8 {
                let colour = Array(expected[(index * 3)..<(index * 3 + 3)])
                let luma = Int(ImageFixtures.pillowLuma(colour))
                XCTAssertLessThanOrEqual(abs(Int(grey.pixels[index]) - luma), 1,
                                         "\(kind) pixel \(index): grey \(grey.pixels[index]) vs Pillow's \(luma)")
                if colour[0] == colour[1] && colour[1] == colour[2] {
                    XCTAssertEqual(grey.pixels[index], colour[0], "\(kind) pixel \(index): grey stays exact")
                }
            }
        }
    }

    func testRGBToGreyMatchesCommittedValues() throws {
        // libpng's rgb_to_gray with Rec. 601 weights on the eight test colours (red, green,
        // blue, white, black, (128,64,32), (10,200,90), grey 77). libpng truncates where
        // Pillow's "L" rounds: Pillow gives 76 150 29 255 0 79 131 77.
        let (bytes, _) = try ImageFixtures.png(.rgb8)
        XCTAssertEqual(try ImageDecoder.decode(bytes, channels: 1).pixels, [76, 149, 29, 255, 0, 79, 130, 77])
    }

    func testInterlacedPNGOfManyPassesEqualsTheProgressiveOne() throws {
        let width = 37, height = 23
        let pixels = ImageFixtures.photoLike(width: width, height: height, seed: 3)
        let plain = try ImageEncoder.png(rows: pixels, width: width, height: height, color: .rgb)
        let interlaced = try ImageEncoder.png(rows: pixels, width: width, height: height, color: .rgb, interlaced: true)
        XCTAssertNotEqual(plain, interlaced)
        XCTAssertEqual(try ImageDecoder.decode(interlaced, channels: 3).pixels, pixels)
        XCTAssertEqual(try ImageDecoder.decode(plain, channels: 3).pixels, pixels)
    }

    // MARK: - JPEG

    func testJPEGKindsDecodeCloseToTheirColours() throws {
        let width = 24, height = 16
        let colour: [UInt8] = [200, 60, 120]
        let rgb = [UInt8]((0..<(width * height)).flatMap { _ in colour })
        let grey = [UInt8](repeating: 140, count: width * height)
        // CMYK for (200, 60, 120) with K = 0: C = 55, M = 195, Y = 135, stored inverted (Adobe).
        let cmyk = [UInt8]((0..<(width * height)).flatMap { _ in [255 - 55, 255 - 195, 255 - 135, 255] as [UInt8] })
        let cases: [(name: String, bytes: [UInt8], expected: [UInt8])] = [
            ("grey", try ImageEncoder.jpeg(pixels: grey, width: width, height: height, components: 1), [140, 140, 140]),
            ("rgb", try ImageEncoder.jpeg(pixels: rgb, width: width, height: height, components: 3), colour),
            ("progressive", try ImageEncoder.jpeg(pixels: rgb, width: width, height: height, components: 3, progressive: true), colour),
            ("cmyk", try ImageEncoder.jpeg(pixels: cmyk, width: width, height: height, components: 4), colour),
            ("ycck", try ImageEncoder.jpeg(pixels: cmyk, width: width, height: height, components: 4, ycck: true), colour),
        ]
        for (name, bytes, expected) in cases {
            XCTAssertEqual(ImageDecoder.format(of: bytes), .jpeg, name)
            let decoded = try ImageDecoder.decode(bytes, channels: 3)
            XCTAssertEqual([decoded.width, decoded.height, decoded.channels], [width, height, 3], name)
            for index in 0..<(width * height) {
                for channel in 0..<3 {
                    let difference = abs(Int(decoded.pixels[index * 3 + channel]) - Int(expected[channel]))
                    XCTAssertLessThanOrEqual(difference, 3, "\(name) pixel \(index) channel \(channel)")
                    if difference > 3 { return }
                }
            }
            let luma = try ImageDecoder.decode(bytes, channels: 1)
            XCTAssertEqual(luma.channels, 1, name)
            XCTAssertLessThanOrEqual(abs(Int(luma.pixels[0]) - Int(ImageFixtures.pillowLuma(expected))), 3, name)
        }
    }

    func testCMYKConversionFollowsPillow() {
        // (C, M, Y, K) = (0, 255, 255, 0) is red; K = 255 is black; inverted storage (Adobe) flips it.
        let plain: [UInt8] = [0, 255, 255, 0, 0, 0, 0, 255, 100, 50, 0, 60]
        let rgb = plain.withUnsafeBufferPointer { ImageDecoder.convertCMYK($0.baseAddress!, count: 3, inverted: false, channels: 3) }
        // Pillow: (255 − k) − c·(255 − k)/255 rounded: (100, 50, 0, 60) → 195 − 76, 195 − 38, 195.
        XCTAssertEqual(rgb, [255, 0, 0, 0, 0, 0, 119, 157, 195])
        let inverted = plain.map { 255 - $0 }
        XCTAssertEqual(inverted.withUnsafeBufferPointer { ImageDecoder.convertCMYK($0.baseAddress!, count: 3, inverted: true, channels: 3) }, rgb)
        let grey = plain.withUnsafeBufferPointer { ImageDecoder.convertCMYK($0.baseAddress!, count: 3, inverted: false, channels: 1) }
        XCTAssertEqual(grey, [76, 0, ImageFixtures.pillowLuma([119, 157, 195])])
    }

    func testLargeJPEGDecodesDCTScaledButNeverBelowTheTargetSide() throws {
        let width = 800, height = 600
        let bytes = try ImageEncoder.jpeg(pixels: ImageFixtures.photoLike(width: width, height: height, seed: 1),
                                          width: width, height: height, components: 3, quality: 85)
        let full = try ImageDecoder.decode(bytes, channels: 3)
        XCTAssertEqual([full.width, full.height], [800, 600])
        // 600 / 8 = 75 < 96, 600 / 4 = 150 ≥ 96: a quarter.
        let quarter = try ImageDecoder.decode(bytes, channels: 3, minimumSide: 96)
        XCTAssertEqual([quarter.width, quarter.height], [200, 150])
        let half = try ImageDecoder.decode(bytes, channels: 3, minimumSide: 151)
        XCTAssertEqual([half.width, half.height], [400, 300])
        let eighth = try ImageDecoder.decode(bytes, channels: 1, minimumSide: 75)
        XCTAssertEqual([eighth.width, eighth.height], [100, 75])
        XCTAssertEqual(try ImageDecoder.decode(bytes, channels: 3, minimumSide: 301).width, 800)
        // The scaled decode and the full decode resized agree closely.
        let scaled = quarter.resizedCenterCrop(size: 96), reference = full.resizedCenterCrop(size: 96)
        let meanDifference = zip(scaled, reference).map { abs(Int($0) - Int($1)) }.reduce(0, +) / scaled.count
        XCTAssertLessThanOrEqual(meanDifference, 2)
    }

    // MARK: - Bad input

    func testBadBytesThrowErrorsThatNameTheFileAndTheProblem() throws {
        let (png, _) = try ImageFixtures.png(.rgb8)
        let jpeg = try ImageEncoder.jpeg(pixels: ImageFixtures.photoLike(width: 40, height: 30, seed: 2), width: 40, height: 30, components: 3)
        var corruptPNG = png
        corruptPNG[20] ^= 0x40  // inside IHDR: its CRC no longer matches
        var corruptJPEG = jpeg
        for index in 4..<40 { corruptJPEG[index] = 0x00 }  // the APP0 length and what follows are gone
        let cases: [(name: String, bytes: [UInt8], words: String)] = [
            ("empty.png", [], "empty (0 bytes)"),
            ("text.jpg", Array("hello, world".utf8), "not a PNG or JPEG image (it starts with 68 65 6c 6c"),
            ("anim.png", Array("GIF89a".utf8) + [0, 0, 0, 0], "is a GIF image"),
            ("photo.jpg", Array("RIFF".utf8) + [0, 0, 0, 0] + Array("WEBPVP8 ".utf8), "is a WebP image"),
            ("cut.png", Array(png.prefix(png.count / 2)), "is a truncated PNG"),
            ("end.png", Array(png.dropLast(12)), "is a truncated PNG"),
            ("cut.jpg", Array(jpeg.prefix(jpeg.count / 2)), "is a truncated JPEG"),
            ("end.jpg", Array(jpeg.dropLast(2)), "is a truncated JPEG"),
            ("signature.png", Array(png.prefix(8)), "is a truncated PNG"),
            ("crc.png", corruptPNG, "is a corrupt PNG (libpng: IHDR: CRC error)"),
            ("markers.jpg", corruptJPEG, "is a corrupt JPEG (libjpeg:"),
        ]
        for (name, bytes, words) in cases {
            do {
                _ = try ImageDecoder.decode(bytes, channels: 3, path: "/data/\(name)")
                XCTFail("\(name) decoded")
            } catch let error as DatasetError {
                XCTAssertEqual(error.path, "/data/\(name)")
                XCTAssertTrue(error.problem.contains(words), "\(name): \(error.problem)")
                XCTAssertTrue(error.description.hasPrefix("cannot load /data/\(name): "))
            }
        }
        XCTAssertThrowsError(try ImageDecoder.decode(png, channels: 3, maximumPixels: 7)) { error in
            XCTAssertTrue("\(error)".contains("too large to decode: 4×2 pixels is more than the limit of 7"), "\(error)")
        }
    }

    func testAThousandMutatedPNGAndJPEGFilesDecodeOrThrowNeverCrash() throws {
        var originals: [(name: String, bytes: [UInt8], headerLength: Int)] = []
        for kind in ImageFixtures.PNGKind.allCases { originals.append(("\(kind).png", try ImageFixtures.png(kind).bytes, 33)) }
        let photo = ImageFixtures.photoLike(width: 24, height: 16, seed: 9)
        let grey = stride(from: 0, to: photo.count, by: 3).map { photo[$0] }
        let cmyk = stride(from: 0, to: photo.count, by: 3).flatMap { [photo[$0], photo[$0 + 1], photo[$0 + 2], 200] as [UInt8] }
        originals += [
            ("rgb.jpg", try ImageEncoder.jpeg(pixels: photo, width: 24, height: 16, components: 3), 200),
            ("progressive.jpg", try ImageEncoder.jpeg(pixels: photo, width: 24, height: 16, components: 3, progressive: true), 200),
            ("grey.jpg", try ImageEncoder.jpeg(pixels: grey, width: 24, height: 16, components: 1), 200),
            ("cmyk.jpg", try ImageEncoder.jpeg(pixels: cmyk, width: 24, height: 16, components: 4, progressive: true), 200),
            ("exif.jpg", try ImageEncoder.jpeg(pixels: photo, width: 24, height: 16, components: 3,
                                               app1: ImageFixtures.exifBlock(orientation: 6, bigEndian: true)), 80),
        ]
        var generator = RandomGenerator(seed: 2026)
        var decoded = 0, thrown = 0
        let clock = ContinuousClock()
        let started = clock.now
        for round in 0..<1_000 {
            let original = originals[round % originals.count]
            let mutated = Fixtures.mutate(original.bytes, generator: &generator, headerLength: original.headerLength)
            let path = "/mutated/\(round)-\(original.name)"
            let channels = round % 3 == 0 ? 1 : 3
            do {
                // At most 2²⁴ pixels: a mutated size field may claim a huge picture.
                let picture = try ImageDecoder.decode(mutated, channels: channels, minimumSide: round % 2 == 0 ? 0 : 8,
                                                      maximumPixels: 1 << 24, path: path)
                XCTAssertEqual(picture.pixels.count, picture.width * picture.height * channels)
                _ = picture.resizedCenterCrop(size: 8)
                decoded += 1
            } catch let error as DatasetError {
                XCTAssertEqual(error.path, path)
                XCTAssertFalse(error.problem.isEmpty)
                thrown += 1
            }
        }
        let seconds = Double((clock.now - started).components.seconds)
        XCTAssertEqual(decoded + thrown, 1_000)
        XCTAssertGreaterThan(thrown, 300, "most mutations break the file")
        XCTAssertGreaterThan(decoded, 50, "pixel-data changes still decode")
        XCTAssertLessThan(seconds, 120, "no mutation makes decoding hang")
        print("mutated images: \(decoded) decoded, \(thrown) refused with an error")
    }

    // MARK: - Pillow

    func testDecodedPixelsMatchPillow() throws {
        guard let python = pythonWithPillow() else {
            throw XCTSkip("python3 with Pillow is not installed (pip install pillow); committed expected values cover decoding")
        }
        let directory = try TemporaryDirectory("pillow")
        defer { directory.remove() }
        var files: [(path: String, tolerance: Int)] = []
        for kind in ImageFixtures.PNGKind.allCases where kind != .grey16 && kind != .greyAlpha16 {
            // Pillow reads 16-bit grey as "I;16" and clips it to 255 when converting to "L".
            files.append((try directory.write(try ImageFixtures.png(kind).bytes, to: "\(kind).png"), 1))
        }
        let photo = ImageFixtures.photoLike(width: 64, height: 48, seed: 4)
        let cmyk = stride(from: 0, to: photo.count, by: 3).flatMap { [255 - photo[$0] / 2, 255 - photo[$0 + 1] / 2, 255 - photo[$0 + 2] / 2, 230] as [UInt8] }
        files.append((try directory.write(try ImageEncoder.png(rows: photo, width: 64, height: 48, color: .rgb), to: "photo.png"), 1))
        files.append((try directory.write(try ImageEncoder.jpeg(pixels: photo, width: 64, height: 48, components: 3), to: "photo.jpg"), 2))
        files.append((try directory.write(try ImageEncoder.jpeg(pixels: photo, width: 64, height: 48, components: 3, progressive: true),
                                          to: "progressive.jpg"), 2))
        files.append((try directory.write(try ImageEncoder.jpeg(pixels: cmyk, width: 64, height: 48, components: 4), to: "cmyk.jpg"), 2))
        for orientation in [3, 6, 8] {
            files.append((try directory.write(try ImageEncoder.jpeg(pixels: photo, width: 64, height: 48, components: 3,
                                                                    app1: ImageFixtures.exifBlock(orientation: orientation, bigEndian: false)),
                                              to: "exif\(orientation).jpg"), 2))
        }
        let script = """
            import sys
            from PIL import Image, ImageOps
            for path in sys.argv[1:]:
                for mode in ("RGB", "L"):
                    image = ImageOps.exif_transpose(Image.open(path)).convert(mode)
                    print(path, mode, image.size[0], image.size[1], image.tobytes().hex())
            """
        let (status, output) = run(python, ["-c", script] + files.map(\.path))
        XCTAssertEqual(status, 0, output)
        var compared = 0
        for line in output.split(separator: "\n") {
            let fields = line.split(separator: " ").map(String.init)
            guard fields.count == 5, let file = files.first(where: { $0.path == fields[0] }) else { continue }
            let channels = fields[1] == "RGB" ? 3 : 1
            let ours = try ImageDecoder.decode(contentsOf: file.path, channels: channels)
            XCTAssertEqual([ours.width, ours.height], [Int(fields[2]), Int(fields[3])], line.prefix(80).description)
            let theirs = hexBytes(fields[4])
            XCTAssertEqual(theirs.count, ours.pixels.count, fields[0])
            let worst = zip(ours.pixels, theirs).map { abs(Int($0) - Int($1)) }.max() ?? 0
            // libpng's grey conversion rounds differently from Pillow's by at most 1; JPEGs
            // may come from another libjpeg-turbo build in Pillow's wheel.
            XCTAssertLessThanOrEqual(worst, file.tolerance, "\(fields[0]) \(fields[1]): largest difference from Pillow \(worst)")
            compared += 1
        }
        XCTAssertEqual(compared, files.count * 2)
    }

    /// A Python interpreter with Pillow: `SSL_PYTHON` if set, else python3.
    private func pythonWithPillow() -> String? {
        let candidates = [ProcessInfo.processInfo.environment["SSL_PYTHON"], "python3"].compactMap { $0 }
        return candidates.first { run($0, ["-c", "import PIL.Image, PIL.ImageOps"]).status == 0 }
    }

    private func run(_ executable: String, _ arguments: [String]) -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [executable] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        do { try process.run() } catch { return (-1, "\(error)") }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    private func hexBytes(_ text: String) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count / 2)
        var high: UInt8?
        for character in text.utf8 {
            let digit: UInt8 = character >= 97 ? character - 87 : character - 48
            if let first = high { bytes.append(first << 4 | digit); high = nil } else { high = digit }
        }
        return bytes
    }
}

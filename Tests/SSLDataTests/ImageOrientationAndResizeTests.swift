import Foundation
@testable import SSLData
import SSLTensor
import XCTest

/// What happens to a decoded picture before it is stored: the EXIF orientations (1–8, both byte
/// orders, CMYK JPEGs too) and the resize (area averaging when shrinking, bilinear when
/// enlarging, centre crop).
final class ImageOrientationAndResizeTests: XCTestCase {
    // MARK: - EXIF orientation

    func testEXIFOrientationsOneToEightTurnThePictureUpright() throws {
        // Quadrant levels [top-left, top-right, bottom-left, bottom-right] of the upright
        // picture for each orientation of the stored 32 × 16 picture (a, b, c, d).
        let a = ImageFixtures.quadrantLevels[0], b = ImageFixtures.quadrantLevels[1]
        let c = ImageFixtures.quadrantLevels[2], d = ImageFixtures.quadrantLevels[3]
        let expected: [Int: (width: Int, height: Int, quadrants: [UInt8])] = [
            1: (32, 16, [a, b, c, d]), 2: (32, 16, [b, a, d, c]), 3: (32, 16, [d, c, b, a]), 4: (32, 16, [c, d, a, b]),
            5: (16, 32, [a, c, b, d]), 6: (16, 32, [c, a, d, b]), 7: (16, 32, [d, b, c, a]), 8: (16, 32, [b, d, a, c]),
        ]
        for channels in [1, 3] {
            for bigEndian in [false, true] {
                for orientation in 1...8 {
                    let bytes = try ImageEncoder.jpeg(pixels: ImageFixtures.quadrants(channels: channels), width: 32, height: 16,
                                                      components: channels, quality: 95,
                                                      app1: ImageFixtures.exifBlock(orientation: orientation, bigEndian: bigEndian))
                    let picture = try ImageDecoder.decode(bytes, channels: channels)
                    let want = try XCTUnwrap(expected[orientation])
                    let label = "orientation \(orientation), \(bigEndian ? "MM" : "II"), \(channels) channels"
                    XCTAssertEqual([picture.width, picture.height], [want.width, want.height], label)
                    let halfWidth = picture.width / 2, halfHeight = picture.height / 2
                    let centres = [(halfWidth / 2, halfHeight / 2), (halfWidth + halfWidth / 2, halfHeight / 2),
                                   (halfWidth / 2, halfHeight + halfHeight / 2), (halfWidth + halfWidth / 2, halfHeight + halfHeight / 2)]
                    for (quadrant, (x, y)) in centres.enumerated() {
                        for channel in 0..<channels {
                            let value = Int(picture[x: x, y: y, channel: channel])
                            XCTAssertLessThanOrEqual(abs(value - Int(want.quadrants[quadrant])), 4,
                                                     "\(label): quadrant \(quadrant) is \(value)")
                        }
                    }
                }
            }
        }
    }

    func testEXIFOrientationAppliesToCMYKJPEGsToo() throws {
        // Inverted CMYK of the grey quadrants: (255 − level) removed by K alone, stored inverted.
        let cmyk = ImageFixtures.quadrants(channels: 1).flatMap { level -> [UInt8] in [255, 255, 255, level] }
        let bytes = try ImageEncoder.jpeg(pixels: cmyk, width: 32, height: 16, components: 4, quality: 95,
                                          app1: ImageFixtures.exifBlock(orientation: 6, bigEndian: true))
        let picture = try ImageDecoder.decode(bytes, channels: 3)
        XCTAssertEqual([picture.width, picture.height], [16, 32])
        let levels = ImageFixtures.quadrantLevels
        for (x, y, level) in [(4, 8, levels[2]), (12, 8, levels[0]), (4, 24, levels[3]), (12, 24, levels[1])] {
            XCTAssertLessThanOrEqual(abs(Int(picture[x: x, y: y, channel: 1]) - Int(level)), 4, "(\(x), \(y))")
        }
    }

    func testEXIFParserReadsBothByteOrdersAndRejectsMalformedBlocks() {
        for orientation in 1...8 {
            for bigEndian in [false, true] {
                let block = Array(ImageFixtures.exifBlock(orientation: orientation, bigEndian: bigEndian).dropFirst(6))
                XCTAssertEqual(ExifOrientation(exif: block)?.rawValue, orientation)
            }
        }
        let good = Array(ImageFixtures.exifBlock(orientation: 6, bigEndian: false).dropFirst(6))
        XCTAssertNil(ExifOrientation(exif: Array(ImageFixtures.exifBlock(orientation: 9, bigEndian: false).dropFirst(6))))
        XCTAssertNil(ExifOrientation(exif: Array(ImageFixtures.exifBlock(orientation: 0, bigEndian: true).dropFirst(6))))
        XCTAssertNil(ExifOrientation(exif: []))
        XCTAssertNil(ExifOrientation(exif: [0x49, 0x49, 42, 0, 0xFF, 0xFF, 0xFF, 0x7F]))  // IFD offset far outside
        var wrongMagic = good; wrongMagic[2] = 43
        XCTAssertNil(ExifOrientation(exif: wrongMagic))
        var wrongType = good; wrongType[24] = 4  // LONG instead of SHORT
        XCTAssertNil(ExifOrientation(exif: wrongType))
        var manyEntries = good; manyEntries[8] = 0xFF; manyEntries[9] = 0xFF  // 65535 entries claimed
        XCTAssertEqual(ExifOrientation(exif: manyEntries), .rotated90Clockwise, "the tag comes before the block ends")
        var missing = good; missing[22] = 0x13  // tag 0x0113: no orientation, and the rest is past the end
        XCTAssertNil(ExifOrientation(exif: missing))
        missing[8] = 0xFF
        XCTAssertNil(ExifOrientation(exif: missing))
        for length in 0..<good.count {
            _ = ExifOrientation(exif: Array(good.prefix(length)))  // every truncation: no crash
        }
        var generator = RandomGenerator(seed: 5)
        for _ in 0..<2_000 {
            var block = good
            for _ in 0...generator.nextInt(below: 4) { block[generator.nextInt(below: block.count)] = UInt8(truncatingIfNeeded: generator.next()) }
            if let value = ExifOrientation(exif: block) { XCTAssertTrue((1...8).contains(value.rawValue)) }
        }
    }

    func testOrientedAppliesTheEightTransformsToPixels() {
        // 3 × 2 picture 0 1 2 / 3 4 5 (grey); the upright pictures, row-major.
        let picture = DecodedImage(width: 3, height: 2, channels: 1, pixels: [0, 1, 2, 3, 4, 5])
        let expected: [ExifOrientation: [UInt8]] = [
            .normal: [0, 1, 2, 3, 4, 5], .mirrored: [2, 1, 0, 5, 4, 3], .rotated180: [5, 4, 3, 2, 1, 0],
            .flipped: [3, 4, 5, 0, 1, 2], .transposed: [0, 3, 1, 4, 2, 5], .rotated90Clockwise: [3, 0, 4, 1, 5, 2],
            .transversed: [5, 2, 4, 1, 3, 0], .rotated90Anticlockwise: [2, 5, 1, 4, 0, 3],
        ]
        for orientation in ExifOrientation.allCases {
            let upright = picture.oriented(orientation)
            XCTAssertEqual(upright.pixels, expected[orientation], "\(orientation)")
            XCTAssertEqual(upright.width, orientation.swapsSides ? 2 : 3, "\(orientation)")
        }
        let rgb = DecodedImage(width: 2, height: 1, channels: 3, pixels: [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(rgb.planes(), [1, 4, 2, 5, 3, 6])
        XCTAssertEqual(rgb.oriented(.rotated90Clockwise).pixels, [1, 2, 3, 4, 5, 6], "pixels move whole")
        XCTAssertEqual(rgb.oriented(.mirrored).pixels, [4, 5, 6, 1, 2, 3])
    }

    // MARK: - Resize

    func testResizeAveragesAreasWhenShrinkingAndInterpolatesWhenEnlarging() {
        // 8 × 8 gradient 32x + 4y shrunk to 4 × 4: each output is its 2 × 2 block's mean 64i + 8j + 18.
        func picture(_ width: Int, _ height: Int, _ value: (_ x: Int, _ y: Int) -> Int) -> DecodedImage {
            var pixels: [UInt8] = []
            for index in 0..<(width * height) { pixels.append(UInt8(value(index % width, index / width))) }
            return DecodedImage(width: width, height: height, channels: 1, pixels: pixels)
        }
        let gradient = picture(8, 8) { x, y in 32 * x + 4 * y }
        XCTAssertEqual(gradient.resizedCenterCrop(size: 4),
                       [18, 82, 146, 210, 26, 90, 154, 218, 34, 98, 162, 226, 42, 106, 170, 234])
        // 2 × 2 enlarged to 4 × 4, bilinear with aligned pixel centres (Pillow's BILINEAR).
        let small = DecodedImage(width: 2, height: 2, channels: 1, pixels: [0, 100, 200, 40])
        XCTAssertEqual(small.resizedCenterCrop(size: 4), [0, 25, 75, 100, 50, 59, 76, 85, 150, 126, 79, 55, 200, 160, 80, 40])
        // 6 × 4 to 2: resized to 3 × 2 (area), crop left = round(0.5) = 0 (half to even), so
        // columns {0,1} and {2,3} of the source, rows {0,1} and {2,3}: 10x + 40y averaged.
        let wide = picture(6, 4) { x, y in 10 * x + 40 * y }
        XCTAssertEqual(wide.resizedCenterCrop(size: 2), [25, 45, 105, 125])
        // 10 × 4 to 2: resized to 5 × 2, crop left = round(1.5) = 2: source columns 4–7.
        let wider = picture(10, 4) { x, y in 10 * x + 40 * y }
        XCTAssertEqual(wider.resizedCenterCrop(size: 2), [65, 85, 145, 165])
        // A solid colour stays exact at any size, and the output is CHW.
        let colour: [UInt8] = [9, 130, 251]
        let solid = DecodedImage(width: 7, height: 5, channels: 3, pixels: Array([[UInt8]](repeating: colour, count: 35).joined()))
        for size in [1, 3, 5, 9, 16] {
            let planes = solid.resizedCenterCrop(size: size)
            XCTAssertEqual(planes, [UInt8](repeating: 9, count: size * size) + [UInt8](repeating: 130, count: size * size)
                           + [UInt8](repeating: 251, count: size * size), "size \(size)")
        }
        // Non-integer shrink factors still average: 3 × 3 to 2 × 2 covers 1.5 pixels per output.
        let odd = DecodedImage(width: 3, height: 3, channels: 1, pixels: [0, 90, 180, 0, 90, 180, 0, 90, 180])
        XCTAssertEqual(odd.resizedCenterCrop(size: 2), [30, 150, 30, 150])
    }
}

/// The EXIF orientation tag (0x0112): how a camera's stored pixels must be turned to stand
/// upright. Phones store most photos sideways and set this tag (6 for a phone held upright);
/// `ImageDecoder` reads it from a JPEG's APP1 block and applies it, as Pillow's
/// `ImageOps.exif_transpose` does.
///
/// ```swift
/// let orientation = ExifOrientation(exif: payload) ?? .normal   // payload: the TIFF block
/// let upright = picture.oriented(orientation)
/// ```
public enum ExifOrientation: Int, Sendable, CaseIterable {
    /// 1: stored upright.
    case normal = 1
    /// 2: mirrored left to right.
    case mirrored = 2
    /// 3: upside down (turn 180°).
    case rotated180 = 3
    /// 4: mirrored top to bottom.
    case flipped = 4
    /// 5: mirrored along the main diagonal (transpose).
    case transposed = 5
    /// 6: stored turned 90° anticlockwise: turn 90° clockwise to show.
    case rotated90Clockwise = 6
    /// 7: mirrored along the other diagonal (transverse).
    case transversed = 7
    /// 8: stored turned 90° clockwise: turn 90° anticlockwise to show.
    case rotated90Anticlockwise = 8

    /// Whether turning the picture upright swaps its width and height.
    public var swapsSides: Bool { rawValue >= 5 }

    /// The orientation stored in an Exif block (the bytes after "Exif\0\0": a TIFF header and
    /// IFD0), or nil when the block is malformed or has no valid orientation tag.
    public init?(exif bytes: [UInt8]) {
        guard let value = ExifOrientation.tagValue(in: bytes), let orientation = ExifOrientation(rawValue: value) else {
            return nil
        }
        self = orientation
    }

    /// The value of tag 0x0112 in IFD0, read with bounds checks on every offset.
    static func tagValue(in bytes: [UInt8]) -> Int? {
        guard bytes.count >= 8 else { return nil }
        let littleEndian: Bool
        switch (bytes[0], bytes[1]) {
        case (0x49, 0x49): littleEndian = true    // "II"
        case (0x4D, 0x4D): littleEndian = false   // "MM"
        default: return nil
        }
        func read16(_ offset: Int) -> Int? {
            guard offset >= 0, offset <= bytes.count - 2 else { return nil }
            let first = Int(bytes[offset]), second = Int(bytes[offset + 1])
            return littleEndian ? first | second << 8 : first << 8 | second
        }
        func read32(_ offset: Int) -> Int? {
            guard let low = read16(littleEndian ? offset : offset + 2),
                  let high = read16(littleEndian ? offset + 2 : offset) else { return nil }
            return low | high << 16
        }
        guard read16(2) == 42, let directory = read32(4), let entryCount = read16(directory) else { return nil }
        for entry in 0..<entryCount {
            let offset = directory + 2 + entry * 12
            guard let tag = read16(offset) else { return nil }
            guard tag == 0x0112 else { continue }
            // Type SHORT (3), count 1: the value sits in the first two bytes of the value field.
            guard read16(offset + 2) == 3, read32(offset + 4) == 1 else { return nil }
            return read16(offset + 8)
        }
        return nil
    }

    /// Writes the upright picture (width and height swapped when `swapsSides`) from `source`
    /// (`width × height × channels`, interleaved) into `output` (the same number of bytes).
    func apply(source: UnsafePointer<UInt8>, width: Int, height: Int, channels: Int, into output: UnsafeMutablePointer<UInt8>) {
        let outputWidth = swapsSides ? height : width, outputHeight = swapsSides ? width : height
        // The source pixel of output column c, row r is
        // (originX + c·xPerColumn + r·xPerRow, originY + c·yPerColumn + r·yPerRow).
        let (originX, originY, xPerColumn, yPerColumn, xPerRow, yPerRow): (Int, Int, Int, Int, Int, Int)
        switch self {
        case .normal: (originX, originY, xPerColumn, yPerColumn, xPerRow, yPerRow) = (0, 0, 1, 0, 0, 1)
        case .mirrored: (originX, originY, xPerColumn, yPerColumn, xPerRow, yPerRow) = (width - 1, 0, -1, 0, 0, 1)
        case .rotated180: (originX, originY, xPerColumn, yPerColumn, xPerRow, yPerRow) = (width - 1, height - 1, -1, 0, 0, -1)
        case .flipped: (originX, originY, xPerColumn, yPerColumn, xPerRow, yPerRow) = (0, height - 1, 1, 0, 0, -1)
        case .transposed: (originX, originY, xPerColumn, yPerColumn, xPerRow, yPerRow) = (0, 0, 0, 1, 1, 0)
        case .rotated90Clockwise: (originX, originY, xPerColumn, yPerColumn, xPerRow, yPerRow) = (0, height - 1, 0, -1, 1, 0)
        case .transversed: (originX, originY, xPerColumn, yPerColumn, xPerRow, yPerRow) = (width - 1, height - 1, 0, -1, -1, 0)
        case .rotated90Anticlockwise: (originX, originY, xPerColumn, yPerColumn, xPerRow, yPerRow) = (width - 1, 0, 0, 1, -1, 0)
        }
        let columnStep = (yPerColumn * width + xPerColumn) * channels
        for y in 0..<outputHeight {
            let rowStartX = originX + y * xPerRow, rowStartY = originY + y * yPerRow
            var sourceOffset = (rowStartY * width + rowStartX) * channels
            var target = output + y * outputWidth * channels
            for _ in 0..<outputWidth {
                for channel in 0..<channels { target[channel] = source[sourceOffset + channel] }
                target += channels
                sourceOffset += columnStep
            }
        }
    }
}

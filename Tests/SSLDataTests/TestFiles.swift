import Foundation
import SSLData
import SSLTensor

/// A fresh directory under the system's temporary folder, removed by `remove()`.
struct TemporaryDirectory {
    let path: String

    init(_ label: String) throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("ssldata-\(label)-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> String { "\(path)/\(name)" }

    func write(_ bytes: [UInt8], to name: String) throws -> String {
        let target = file(name)
        try Data(bytes).write(to: URL(fileURLWithPath: target))
        return target
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// Small deterministic test data.
enum Fixtures {
    /// `count` images of `height` × `width` bytes and labels cycling through `classCount`.
    static func idxPair(count: Int, height: Int, width: Int, classCount: Int = 10, seed: UInt64 = 1)
        -> (images: [UInt8], labels: [UInt8], pixels: [UInt8], labelValues: [Int])
    {
        var generator = RandomGenerator(seed: seed)
        let pixels = (0..<(count * height * width)).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        let labelValues = (0..<count).map { ($0 * 7 + 3) % classCount }
        return (IDXFile.encode(dimensions: [count, height, width], bytes: pixels),
                IDXFile.encode(dimensions: [count], bytes: labelValues.map(UInt8.init)),
                pixels, labelValues)
    }

    /// A CIFAR batch: `labelBytes` label bytes then 3072 pixel bytes per record.
    static func cifarRecords(count: Int, labels: [[Int]], seed: UInt64 = 2) -> (bytes: [UInt8], pixels: [UInt8]) {
        var generator = RandomGenerator(seed: seed)
        var bytes = [UInt8](), pixels = [UInt8]()
        for record in 0..<count {
            for labelList in labels { bytes.append(UInt8(labelList[record])) }
            let image = (0..<3072).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            bytes += image
            pixels += image
        }
        return (bytes, pixels)
    }

    /// A random mutation of `bytes`: flipped, overwritten, inserted or deleted bytes, a
    /// truncation, appended garbage, or a header field set to an extreme value.
    static func mutate(_ bytes: [UInt8], generator: inout RandomGenerator, headerLength: Int) -> [UInt8] {
        var result = bytes
        switch generator.nextInt(below: 8) {
        case 0:  // flip bits in a few bytes
            for _ in 0...generator.nextInt(below: 4) where !result.isEmpty {
                result[generator.nextInt(below: result.count)] ^= UInt8(1 << generator.nextInt(below: 8))
            }
        case 1:  // overwrite a few bytes with random values
            for _ in 0...generator.nextInt(below: 4) where !result.isEmpty {
                result[generator.nextInt(below: result.count)] = UInt8(truncatingIfNeeded: generator.next())
            }
        case 2:  // truncate
            result = Array(result.prefix(generator.nextInt(below: result.count + 1)))
        case 3:  // append garbage
            result += (0..<(1 + generator.nextInt(below: 40))).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        case 4:  // insert bytes
            let at = generator.nextInt(below: result.count + 1)
            result.insert(contentsOf: (0..<(1 + generator.nextInt(below: 8))).map { _ in UInt8(truncatingIfNeeded: generator.next()) }, at: at)
        case 5:  // delete a range
            if !result.isEmpty {
                let at = generator.nextInt(below: result.count)
                result.removeSubrange(at..<min(result.count, at + 1 + generator.nextInt(below: 16)))
            }
        case 6:  // extreme values in the header
            let limit = min(headerLength, result.count)
            if limit > 0 {
                let at = generator.nextInt(below: limit)
                result[at] = [0x00, 0xFF, 0x7F, 0x80][generator.nextInt(below: 4)]
            }
        default:  // mutate the header heavily
            for i in 0..<min(headerLength, result.count) where generator.nextUniform() < 0.3 {
                result[i] = UInt8(truncatingIfNeeded: generator.next())
            }
        }
        return result
    }
}

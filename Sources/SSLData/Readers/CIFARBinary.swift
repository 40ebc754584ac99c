/// The record format shared by CIFAR-10 and CIFAR-100 binary batches: each record is some label
/// bytes followed by a 32 × 32 RGB image stored channel after channel (1024 red, 1024 green,
/// 1024 blue bytes, each row-major), which is already CHW.
struct CIFARBinary {
    static let imageSize = 3 * 32 * 32

    /// The number of label bytes before each image (1 for CIFAR-10, 2 for CIFAR-100).
    let labelBytes: Int
    /// The number of classes of each label byte, in order.
    let classCounts: [Int]
    /// The names of each label byte, for messages.
    let labelNames: [String]

    var recordSize: Int { labelBytes + Self.imageSize }

    /// Appends the records of the file at `path` to `pixels` and `labels` (one array per label
    /// byte). Throws when the file's length is not a whole number of records, differs from
    /// `expectedRecords`, or a label is out of range; nothing is appended then.
    func read(_ path: String, expectedRecords: Int?, pixels: inout [UInt8], labels: inout [[Int]]) throws {
        let bytes = try DatasetFile.read(path)
        let records = bytes.count / recordSize
        guard bytes.count > 0, bytes.count % recordSize == 0 else {
            throw DatasetError(path: path, problem: "is \(bytes.count) bytes long, not a positive multiple of the \(recordSize)-byte record (\(labelBytes) label byte\(labelBytes == 1 ? "" : "s") + 3072 pixels)")
        }
        if let expectedRecords, records != expectedRecords {
            throw DatasetError(path: path, problem: "holds \(records) records (\(bytes.count) bytes) but a CIFAR batch of this name holds \(expectedRecords)")
        }
        var fileLabels = [[Int]](repeating: [], count: labelBytes)
        for record in 0..<records {
            for k in 0..<labelBytes {
                let label = Int(bytes[record * recordSize + k])
                guard label < classCounts[k] else {
                    throw DatasetError(path: path, problem: "record \(record) has \(labelNames[k]) \(label), outside 0..<\(classCounts[k])")
                }
                fileLabels[k].append(label)
            }
        }
        pixels.reserveCapacity(pixels.count + records * Self.imageSize)
        for record in 0..<records {
            let start = record * recordSize + labelBytes
            pixels.append(contentsOf: bytes[start..<(start + Self.imageSize)])
        }
        for k in 0..<labelBytes { labels[k].append(contentsOf: fileLabels[k]) }
    }

    /// The first existing folder among `directory` and `directory/<subfolder>` that holds
    /// `probe`.
    static func folder(_ directory: String, subfolder: String, probe: String) -> String {
        let base = directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        if (try? DatasetFile.locate(probe, in: base)) == nil,
           (try? DatasetFile.locate(probe, in: "\(base)/\(subfolder)")) != nil {
            return "\(base)/\(subfolder)"
        }
        return base
    }
}

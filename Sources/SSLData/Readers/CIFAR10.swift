/// [CIFAR-10](https://www.cs.toronto.edu/~kriz/cifar.html) from its binary batches: 60 000
/// colour 32 × 32 images in 10 classes.
///
/// The directory holds `data_batch_1.bin` … `data_batch_5.bin` (train) and `test_batch.bin`
/// (test), directly or in `cifar-10-batches-bin/`; each file may be gzip-compressed. Every
/// batch must hold exactly 10 000 records of 3073 bytes.
///
/// ```swift
/// let train = try CIFAR10.load(split: .train, directory: "/data/cifar10")   // 50 000 × 3 × 32 × 32
/// let one = try CIFAR10.read(files: ["my_batch.bin"])                        // any record count
/// ```
public enum CIFAR10 {
    /// The class names, by label.
    public static let classNames = [
        "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
    ]

    static let format = CIFARBinary(labelBytes: 1, classCounts: [10], labelNames: ["label"])

    /// One split from the standard batch files in `directory`.
    public static func load(split: DatasetSplit, directory: String) throws -> InMemoryImageDataset {
        guard DatasetFile.directoryExists(directory) else {
            throw DatasetError(path: directory, problem: "CIFAR-10 directory does not exist (it should hold data_batch_1.bin … data_batch_5.bin and test_batch.bin)")
        }
        let names = split == .train ? (1...5).map { "data_batch_\($0).bin" } : ["test_batch.bin"]
        let folder = CIFARBinary.folder(directory, subfolder: "cifar-10-batches-bin", probe: names[0])
        let paths = try names.map { try DatasetFile.locate($0, in: folder) }
        return try read(files: paths, expectedRecordsPerFile: 10_000, name: "cifar10-\(split.rawValue)")
    }

    /// The records of the given batch files, in order. With `expectedRecordsPerFile`, a file
    /// holding another number of records is an error.
    public static func read(files: [String], expectedRecordsPerFile: Int? = nil, name: String = "cifar10") throws -> InMemoryImageDataset {
        precondition(!files.isEmpty, "CIFAR10.read: no files given")
        var pixels = [UInt8](), labels: [[Int]] = [[]]
        for path in files {
            try format.read(path, expectedRecords: expectedRecordsPerFile, pixels: &pixels, labels: &labels)
        }
        return InMemoryImageDataset(name: name, channels: 3, height: 32, width: 32, pixels: pixels,
                                    labels: labels[0], classCount: 10)
    }
}

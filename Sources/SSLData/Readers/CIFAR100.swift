/// [CIFAR-100](https://www.cs.toronto.edu/~kriz/cifar.html) from its binary files: 60 000
/// colour 32 × 32 images with a fine label (100 classes) and a coarse label (20 superclasses).
///
/// The directory holds `train.bin` (50 000 records) and `test.bin` (10 000), directly or in
/// `cifar-100-binary/`; each record is the coarse label byte, the fine label byte and 3072
/// pixel bytes. The chosen label becomes `"label"`; the other is kept as `"coarse_label"` or
/// `"fine_label"`.
///
/// ```swift
/// let train = try CIFAR100.load(split: .train, directory: "/data/cifar100")
/// let coarse = try CIFAR100.load(split: .test, directory: "/data/cifar100", labels: .coarse)
/// ```
public enum CIFAR100 {
    /// Which label becomes the class label.
    ///
    /// ```swift
    /// let superclasses = try CIFAR100.load(split: .train, directory: folder, labels: .coarse)
    /// ```
    public enum LabelKind: Sendable {
        case fine
        case coarse
    }

    static let format = CIFARBinary(labelBytes: 2, classCounts: [20, 100], labelNames: ["coarse label", "fine label"])

    /// One split from `train.bin` / `test.bin` in `directory`.
    public static func load(split: DatasetSplit, directory: String, labels: LabelKind = .fine) throws -> InMemoryImageDataset {
        guard DatasetFile.directoryExists(directory) else {
            throw DatasetError(path: directory, problem: "CIFAR-100 directory does not exist (it should hold train.bin and test.bin)")
        }
        let name = split == .train ? "train.bin" : "test.bin"
        let folder = CIFARBinary.folder(directory, subfolder: "cifar-100-binary", probe: name)
        return try read(files: [DatasetFile.locate(name, in: folder)], labels: labels,
                        expectedRecordsPerFile: split == .train ? 50_000 : 10_000, name: "cifar100-\(split.rawValue)")
    }

    /// The records of the given files, in order. With `expectedRecordsPerFile`, a file holding
    /// another number of records is an error.
    public static func read(files: [String], labels kind: LabelKind = .fine, expectedRecordsPerFile: Int? = nil,
                            name: String = "cifar100") throws -> InMemoryImageDataset {
        precondition(!files.isEmpty, "CIFAR100.read: no files given")
        var pixels = [UInt8](), labels: [[Int]] = [[], []]
        for path in files {
            try format.read(path, expectedRecords: expectedRecordsPerFile, pixels: &pixels, labels: &labels)
        }
        let (coarse, fine) = (labels[0], labels[1])
        switch kind {
        case .fine:
            return InMemoryImageDataset(name: name, channels: 3, height: 32, width: 32, pixels: pixels,
                                        labels: fine, classCount: 100, auxiliaryLabels: ["coarse_label": coarse])
        case .coarse:
            return InMemoryImageDataset(name: name, channels: 3, height: 32, width: 32, pixels: pixels,
                                        labels: coarse, classCount: 20, auxiliaryLabels: ["fine_label": fine])
        }
    }
}

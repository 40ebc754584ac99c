/// MNIST (handwritten digits) from its four IDX files, plain or gzip, and the IDX image/label
/// pair reader that Fashion-MNIST shares.
///
/// The folder holds `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
/// `t10k-images-idx3-ubyte` and `t10k-labels-idx1-ubyte`, each possibly ending in `.gz`.
///
/// ```swift
/// let train = try MNIST.load(split: .train, directory: "/data/mnist")   // 60 000 × 1 × 28 × 28
/// let pair = try MNIST.load(imagesPath: "imgs.idx", labelsPath: "labels.idx", name: "mine")
/// ```
public enum MNIST {
    /// The digits' class names.
    public static let classNames = (0..<10).map(String.init)

    /// The base names (without `.gz`) of a split's image and label files.
    public static func fileNames(split: DatasetSplit) -> (images: String, labels: String) {
        let prefix = split == .train ? "train" : "t10k"
        return ("\(prefix)-images-idx3-ubyte", "\(prefix)-labels-idx1-ubyte")
    }

    /// One split of MNIST from `directory`.
    public static func load(split: DatasetSplit, directory: String) throws -> InMemoryImageDataset {
        guard DatasetFile.directoryExists(directory) else {
            throw DatasetError(path: directory, problem: "MNIST directory does not exist (it should hold the four IDX files, plain or .gz)")
        }
        let names = fileNames(split: split)
        return try load(imagesPath: DatasetFile.locate(names.images, in: directory),
                        labelsPath: DatasetFile.locate(names.labels, in: directory),
                        name: "mnist-\(split.rawValue)")
    }

    /// Images (`uint8`, dimensions N × H × W) and labels (`uint8`, dimension N) from two IDX
    /// files. Throws when either file is malformed, the counts disagree, a label is outside
    /// `0..<classCount`, or there are no images.
    public static func load(imagesPath: String, labelsPath: String, classCount: Int = 10,
                            name: String = "idx") throws -> InMemoryImageDataset {
        precondition(classCount > 0 && classCount <= 256, "MNIST.load: classCount must be in 1...256, got \(classCount)")
        let images = try IDXFile.read(from: imagesPath)
        guard images.dataType == .uint8 else {
            throw DatasetError(path: imagesPath, problem: "holds \(images.dataType) values; image files must hold unsigned bytes (type 08)")
        }
        guard images.dimensions.count == 3 else {
            throw DatasetError(path: imagesPath, problem: "has \(images.dimensions.count) dimensions \(images.dimensions); image files have 3 (count × rows × columns)")
        }
        let (count, height, width) = (images.dimensions[0], images.dimensions[1], images.dimensions[2])
        guard count > 0, height > 0, width > 0 else {
            throw DatasetError(path: imagesPath, problem: "declares \(count) images of \(height)×\(width) pixels; every dimension must be positive")
        }
        let labels = try IDXFile.read(from: labelsPath)
        guard labels.dataType == .uint8, labels.dimensions.count == 1 else {
            throw DatasetError(path: labelsPath, problem: "holds \(labels.dataType) values with dimensions \(labels.dimensions); label files hold unsigned bytes with 1 dimension")
        }
        guard labels.dimensions[0] == count else {
            throw DatasetError(path: labelsPath, problem: "holds \(labels.dimensions[0]) labels but \(imagesPath) holds \(count) images")
        }
        let values = try labels.data.withUnsafeBufferPointer { buffer -> [Int] in
            var values = [Int](repeating: 0, count: count)
            for i in 0..<count {
                let label = Int(buffer[i])
                guard label < classCount else {
                    throw DatasetError(path: labelsPath, problem: "label \(label) of image \(i) is outside 0..<\(classCount)")
                }
                values[i] = label
            }
            return values
        }
        return InMemoryImageDataset(name: name, channels: 1, height: height, width: width,
                                    pixels: images.data, labels: values, classCount: classCount)
    }
}

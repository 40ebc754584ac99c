/// [Fashion-MNIST](https://github.com/zalandoresearch/fashion-mnist): 70 000 grayscale 28 × 28
/// images of clothing in 10 classes (60 000 train, 10 000 test), read from its IDX files.
///
/// By default the files are taken from `/usr/share/datasets/fashion-mnist`, where Debian's
/// `dataset-fashion-mnist` package installs them (gzip-compressed); pass `directory:` to read
/// another copy. When they are missing the error says how to install or where to point.
///
/// ```swift
/// let train = try FashionMNIST.load(split: .train)                    // the Debian package
/// let test = try FashionMNIST.load(split: .test, directory: "/data/fashion-mnist")
/// print(FashionMNIST.classNames[train.labels[0]])
/// ```
public enum FashionMNIST {
    /// Where Debian's `dataset-fashion-mnist` package puts the files.
    public static let defaultDirectory = "/usr/share/datasets/fashion-mnist"

    /// The class names, by label.
    public static let classNames = [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ]

    /// Whether the files of `split` are present in `directory` (default: the Debian location).
    public static func isAvailable(split: DatasetSplit = .train, directory: String? = nil) -> Bool {
        let folder = directory ?? defaultDirectory
        let names = MNIST.fileNames(split: split)
        return (try? DatasetFile.locate(names.images, in: folder)) != nil
            && (try? DatasetFile.locate(names.labels, in: folder)) != nil
    }

    /// One split of Fashion-MNIST from `directory` (default: the Debian location).
    public static func load(split: DatasetSplit, directory: String? = nil) throws -> InMemoryImageDataset {
        let folder = directory ?? defaultDirectory
        let names = MNIST.fileNames(split: split)
        let howToGetIt = directory == nil
            ? "install Debian's package with `apt-get install dataset-fashion-mnist`, or pass `directory:` pointing at a folder holding the four IDX files (train-images-idx3-ubyte.gz, …)"
            : "point `directory:` at a folder holding \(names.images)(.gz) and \(names.labels)(.gz), or leave it out to use Debian's `dataset-fashion-mnist` package (`apt-get install dataset-fashion-mnist`)"
        guard DatasetFile.directoryExists(folder) else {
            throw DatasetError(path: folder, problem: "Fashion-MNIST not found: the directory does not exist; \(howToGetIt)")
        }
        let imagesPath: String, labelsPath: String
        do {
            imagesPath = try DatasetFile.locate(names.images, in: folder)
            labelsPath = try DatasetFile.locate(names.labels, in: folder)
        } catch let error as DatasetError {
            throw DatasetError(path: error.path, problem: "Fashion-MNIST \(error.problem); \(howToGetIt)")
        }
        return try MNIST.load(imagesPath: imagesPath, labelsPath: labelsPath, name: "fashion-mnist-\(split.rawValue)")
    }
}

import Foundation
import SSLData
import SSLTensor
import SSLTraining
import Synchronization

extension RecipeSetup {
    /// A recipe's image folder: decoded once into memory (with a line saying how much it will
    /// take, and a progress line), or streamed when that is more than `--memory-budget` (or with
    /// `--stream`: the loader's workers decode the files every epoch), then split by a seeded
    /// permutation into the images trained on and `--val-fraction` held out for validation and
    /// the final evaluation; or, with `--val-dir`, all of it trained on and the second folder
    /// (within what the first left of the budget) evaluated on.
    struct FolderSplits {
        let train: any ImageDataset
        let test: any ImageDataset
        let isLabelled: Bool
        let classNames: [String]
    }

    static func loadFolder(_ options: RecipeOptions) throws -> FolderSplits {
        guard let directory = options.dataDirectory else {
            throw TrainingError.invalidConfiguration("--dataset folder needs --data-dir PATH: a folder of .png/.jpg/.jpeg images (sub-folders as classes)")
        }
        let budget = options.memoryBudgetGiB.map { Int(($0 * Double(1 << 30)).rounded()) }
        let folder = try decodeFolder(directory, options, memoryBudget: budget)
        guard folder.count >= 2 || (options.validationDirectory != nil && folder.count >= 1) else {
            throw TrainingError.invalidConfiguration("\(directory) holds \(folder.count) image: a folder needs at least two (one to train on, one to evaluate)")
        }
        if !folder.isLabelled {
            writeLine("the folder has no class sub-folders: training is unlabelled; kNN and linear-probe evaluation are skipped")
        }
        if let validationDirectory = options.validationDirectory {
            // A separate evaluation folder (as torchvision's train/ and val/ folders): its class
            // sub-folders must be the training folder's, so that labels mean the same classes.
            let used = folder.isStreaming ? 0 : ImageFolder.estimatedBytes(imageCount: folder.count, imageSize: folder.imageSize,
                                                                             channels: folder.channels)
            let validation = try decodeFolder(validationDirectory, options,
                                              memoryBudget: Swift.max(0, (budget ?? ImageFolder.defaultMemoryBudget) - used))
            guard validation.classNames == folder.classNames, validation.count >= 1 else {
                throw TrainingError.invalidConfiguration(
                    "--val-dir \(validationDirectory) must hold images in the same class sub-folders as --data-dir \(directory) "
                    + "(has \(validation.classNames.isEmpty ? "none" : validation.classNames.joined(separator: ", ")); "
                    + "expected \(folder.classNames.isEmpty ? "none" : folder.classNames.joined(separator: ", ")))")
            }
            return FolderSplits(train: folder.images, test: validation.images, isLabelled: folder.isLabelled, classNames: folder.classNames)
        }
        // The held-out images: a seeded permutation, the same for every run with this seed.
        var generator = RandomGenerator(seed: options.seed &+ 0x5eed_f01d)
        var order = Array(0..<folder.count)
        for index in stride(from: order.count - 1, to: 0, by: -1) {
            order.swapAt(index, generator.nextInt(below: index + 1))
        }
        let held = Swift.min(folder.count - 1, Swift.max(1, Int((Double(folder.count) * options.validationFraction).rounded())))
        let test = folder.images.subset(Array(order.prefix(held)).sorted())
        let train = folder.images.subset(Array(order.dropFirst(held)).sorted())
        return FolderSplits(train: train, test: test, isLabelled: folder.isLabelled, classNames: folder.classNames)
    }

    /// Decodes one folder into memory, with a line saying how much it will take and progress
    /// lines; or, when it is to be streamed, checks every file's header, saying why it streams.
    private static func decodeFolder(_ directory: String, _ options: RecipeOptions, memoryBudget: Int?) throws -> ImageFolder {
        let size = options.imageSize ?? 64, channels = options.channels ?? 3
        let listing = try ImageFolder.scan(directory: directory)
        let count = listing.files.count
        let storage: ImageFolder.Storage = options.stream ? .streaming : .automatic
        let streaming = ImageFolder.streamingReason(imageCount: count, imageSize: size, channels: channels,
                                                    storage: storage, memoryBudget: memoryBudget)
        let done: String
        if let streaming {
            writeLine("reading the headers of \(count) images from \(directory) (\(streaming); "
                      + "the loader's workers decode them at \(channels)×\(size)×\(size) every epoch)")
            done = "checked"
        } else {
            let bytes = ImageFolder.estimatedBytes(imageCount: count, imageSize: size, channels: channels)
            writeLine("decoding \(count) images from \(directory) at \(channels)×\(size)×\(size) "
                      + "(about \(String(format: "%.1f", Double(bytes) / 1_048_576)) MB in memory)")
            done = "decoded"
        }
        let terminal = isatty(STDOUT_FILENO) == 1
        let folder = try ImageFolder.load(listing, imageSize: size, channels: channels, skipBadFiles: options.skipBadFiles,
                                          storage: storage, memoryBudget: memoryBudget) { finished, total in
            if terminal {
                FileHandle.standardOutput.write(Data("\r\(done) \(finished)/\(total)".utf8))
            } else if finished == total || finished * 4 / total != (finished - 1) * 4 / total {
                writeLine("\(done) \(finished)/\(total)")
            }
        }
        if terminal { FileHandle.standardOutput.write(Data("\r".utf8)) }
        writeLine("dataset: " + folder.summary)
        return folder
    }

    /// The most images of a streamed folder decoded to measure its mean and standard deviation.
    static let streamedStatisticsLimit = 10_000

    /// All of `0..<count`, or `limit` indices evenly spread over it.
    static func statisticsSample(count: Int, limit: Int) -> [Int] {
        count <= limit ? Array(0..<count) : (0..<limit).map { $0 * count / limit }
    }

    /// Reads the images at `indices` on every core, a block at a time, and hands their bytes to
    /// `body` in the order given (so sums come out the same as over the bytes in memory).
    static func forEachDecoded(_ dataset: any ImageDataset, _ indices: [Int], _ body: ([UInt8]) -> Void) throws {
        if indices.count > 1_000 { writeLine("measuring the mean and standard deviation on \(indices.count) streamed images") }
        let block = 256
        for start in stride(from: 0, to: indices.count, by: block) {
            let part = Array(indices[start..<Swift.min(start + block, indices.count)])
            let decoded = Mutex([Result<[UInt8], any Error>](repeating: .success([]), count: part.count))
            Parallel.forEachChunk(count: part.count, minimumChunk: 8) { chunk in
                for position in chunk {
                    let result = Result { try dataset.imageBytes(at: part[position]) }
                    decoded.withLock { $0[position] = result }
                }
            }
            for result in decoded.withLock({ $0 }) { body(try result.get()) }
        }
    }
}

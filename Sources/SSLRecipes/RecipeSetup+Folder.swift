import Foundation
import SSLData
import SSLTensor
import SSLTraining

extension RecipeSetup {
    /// A recipe's image folder: decoded once into memory (with a line saying how much it will
    /// take, and a progress line), then split by a seeded permutation into the images trained on
    /// and `--val-fraction` held out for validation and the final evaluation; or, with
    /// `--val-dir`, all of it trained on and the second folder evaluated on.
    struct FolderSplits {
        let train: InMemoryImageDataset
        let test: InMemoryImageDataset
        let isLabelled: Bool
        let classNames: [String]
    }

    static func loadFolder(_ options: RecipeOptions) throws -> FolderSplits {
        guard let directory = options.dataDirectory else {
            throw TrainingError.invalidConfiguration("--dataset folder needs --data-dir PATH: a folder of .png/.jpg/.jpeg images (sub-folders as classes)")
        }
        let folder = try decodeFolder(directory, options)
        guard folder.count >= 2 || (options.validationDirectory != nil && folder.count >= 1) else {
            throw TrainingError.invalidConfiguration("\(directory) holds \(folder.count) image: a folder needs at least two (one to train on, one to evaluate)")
        }
        if !folder.isLabelled {
            writeLine("the folder has no class sub-folders: training is unlabelled; kNN and linear-probe evaluation are skipped")
        }
        if let validationDirectory = options.validationDirectory {
            // A separate evaluation folder (as torchvision's train/ and val/ folders): its class
            // sub-folders must be the training folder's, so that labels mean the same classes.
            let validation = try decodeFolder(validationDirectory, options)
            guard validation.classNames == folder.classNames, validation.count >= 1 else {
                throw TrainingError.invalidConfiguration(
                    "--val-dir \(validationDirectory) must hold images in the same class sub-folders as --data-dir \(directory) "
                    + "(has \(validation.classNames.isEmpty ? "none" : validation.classNames.joined(separator: ", ")); "
                    + "expected \(folder.classNames.isEmpty ? "none" : folder.classNames.joined(separator: ", ")))")
            }
            return FolderSplits(train: folder.dataset, test: validation.dataset, isLabelled: folder.isLabelled, classNames: folder.classNames)
        }
        // The held-out images: a seeded permutation, the same for every run with this seed.
        var generator = RandomGenerator(seed: options.seed &+ 0x5eed_f01d)
        var order = Array(0..<folder.count)
        for index in stride(from: order.count - 1, to: 0, by: -1) {
            order.swapAt(index, generator.nextInt(below: index + 1))
        }
        let held = Swift.min(folder.count - 1, Swift.max(1, Int((Double(folder.count) * options.validationFraction).rounded())))
        let test = folder.dataset.subset(Array(order.prefix(held)).sorted())
        let train = folder.dataset.subset(Array(order.dropFirst(held)).sorted())
        return FolderSplits(train: train, test: test, isLabelled: folder.isLabelled, classNames: folder.classNames)
    }

    /// Decodes one folder into memory, with a line saying how much it will take and progress lines.
    private static func decodeFolder(_ directory: String, _ options: RecipeOptions) throws -> ImageFolder {
        let size = options.imageSize ?? 64, channels = options.channels ?? 3
        let listing = try ImageFolder.scan(directory: directory)
        let bytes = ImageFolder.estimatedBytes(imageCount: listing.files.count, imageSize: size, channels: channels)
        writeLine("decoding \(listing.files.count) images from \(directory) at \(channels)×\(size)×\(size) "
                  + "(about \(String(format: "%.1f", Double(bytes) / 1_048_576)) MB in memory)")
        let terminal = isatty(STDOUT_FILENO) == 1
        let folder = try ImageFolder.load(listing, imageSize: size, channels: channels, skipBadFiles: options.skipBadFiles) { done, total in
            if terminal {
                FileHandle.standardOutput.write(Data("\rdecoded \(done)/\(total)".utf8))
            } else if done == total || done * 4 / total != (done - 1) * 4 / total {
                writeLine("decoded \(done)/\(total)")
            }
        }
        if terminal { FileHandle.standardOutput.write(Data("\r".utf8)) }
        writeLine("dataset: " + folder.summary)
        return folder
    }
}

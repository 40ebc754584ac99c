import SSLTensor

/// A folder of PNG and JPEG files as a dataset: each image decoded (libpng, libjpeg-turbo),
/// turned upright, resized so its shorter side is `imageSize` and centre-cropped to
/// `imageSize × imageSize`, either once into memory (an `InMemoryImageDataset` of bytes) or,
/// when that would take more than the memory budget, every time it is read
/// (`StreamingImageDataset`: the loader's workers decode the files each epoch).
///
/// Labels, as torchvision's `ImageFolder`: a folder with sub-folders is labelled by them
/// (`classNames` sorted; label `i` is `classNames[i]`); a flat folder is unlabelled
/// (`isLabelled` false, every label 0 and `classCount` 1, so that the dataset stays valid:
/// evaluations that need labels must check `isLabelled`). `paths[i]` is the file of image `i`.
///
/// Storage (`storage:`): `.automatic` (the default) decodes into memory when the images take
/// at most `memoryBudget` bytes (default: half the machine's memory) and streams otherwise;
/// `.inMemory` refuses a folder above the budget before decoding anything; `.streaming`
/// always streams. A streamed image is byte for byte the in-memory one, so training is the
/// same either way; `summary` says which was chosen and why.
///
/// Decoding (or, when streaming, reading every file's header) runs on every core (or
/// `threads`) and reports progress. A bad file (empty, unreadable, not an image, corrupt,
/// truncated) throws a `DatasetError` naming it; with `skipBadFiles` it is left out and listed
/// in `skippedFiles`. A streamed file damaged past its header is found only when it is decoded
/// in training: see `StreamingImageDataset`.
///
/// ```swift
/// let folder = try ImageFolder.load(directory: "photos", imageSize: 96, channels: 3, skipBadFiles: true)
/// print(folder.summary)            // "photos: 1204 images in 3 classes (3×96×96, 33.3 MB); 2 bad files skipped: …"
/// let loader = DataLoader(folder.images, batchSize: 256, views: views, shuffle: true, seed: 0)
/// let name = folder.classNames[folder.images.labels[0]]
/// let file = folder.paths[0]       // for embeddings and galleries
/// ```
public struct ImageFolder: Dataset {
    /// A file left out by `skipBadFiles`, and why.
    public struct SkippedFile: Sendable, Equatable, CustomStringConvertible {
        public let path: String
        public let problem: String
        public var description: String { "\(path) \(problem)" }
    }

    /// Where the decoded images are kept.
    public enum Storage: Sendable, Equatable {
        /// In memory when they fit in the memory budget, else streamed.
        case automatic
        /// In memory; a folder above the memory budget is refused.
        case inMemory
        /// Decoded from the files whenever they are read.
        case streaming
    }

    /// The folder loaded.
    public let directory: String
    /// The images and labels: an `InMemoryImageDataset` or a `StreamingImageDataset`.
    public let images: any ImageDataset
    /// The file of each image.
    public let paths: [String]
    /// The class names (sub-folder names, sorted); empty for an unlabelled folder.
    public let classNames: [String]
    /// The files that could not be decoded and were skipped (`skipBadFiles`), in file order.
    public let skippedFiles: [SkippedFile]
    /// Files that were not decoded because they are not images by name, or lie directly in a
    /// labelled folder (see `Listing.ignoredFileCount`).
    public let ignoredFileCount: Int
    /// Why the images are streamed (`"streaming: 12.3 GB decoded would exceed the memory budget
    /// of 8.0 GiB"`); nil when they are in memory.
    public let streamingReason: String?

    /// Whether the images are decoded from their files whenever they are read.
    public var isStreaming: Bool { streamingReason != nil }
    /// The decoded images, when they are held in memory; reading this on a streaming folder
    /// (`isStreaming`) is a programmer error that stops with a message: use `images`.
    public var dataset: InMemoryImageDataset {
        guard let inMemory = images as? InMemoryImageDataset else {
            preconditionFailure("ImageFolder(\(directory)).dataset: the folder is streamed (\(streamingReason ?? "")); "
                                + "use `images`, or load with storage: .inMemory")
        }
        return inMemory
    }
    /// Whether the images have labels from sub-folders.
    public var isLabelled: Bool { !classNames.isEmpty }
    /// The number of images.
    public var count: Int { images.count }
    /// The side of every (square) image.
    public var imageSize: Int { images.height }
    /// The channels of every image (1 or 3).
    public var channels: Int { images.channels }

    public func sample(at index: Int) -> Sample { images.sample(at: index) }
    public func loadSample(at index: Int) throws -> Sample { try images.loadSample(at: index) }

    /// One line for logs: what was loaded, its size in memory (or why it is streamed), and the
    /// skipped files (the first five named).
    public var summary: String {
        let classes = isLabelled ? "in \(classNames.count) class\(classNames.count == 1 ? "" : "es")" : "unlabelled"
        let bytes = ImageFolder.estimatedBytes(imageCount: count, imageSize: imageSize, channels: channels)
        var line = "\(images.name): \(count) image\(count == 1 ? "" : "s") \(classes) "
            + "(\(channels)×\(imageSize)×\(imageSize), \(streamingReason ?? ImageFolder.formatBytes(bytes)))"
        if !skippedFiles.isEmpty {
            let named = skippedFiles.prefix(5).map { "\($0.path) (\($0.problem))" }.joined(separator: "; ")
            let more = skippedFiles.count > 5 ? "; and \(skippedFiles.count - 5) more" : ""
            line += "; \(skippedFiles.count) bad file\(skippedFiles.count == 1 ? "" : "s") skipped: \(named)\(more)"
        }
        if ignoredFileCount > 0 { line += "; \(ignoredFileCount) other file\(ignoredFileCount == 1 ? "" : "s") ignored" }
        return line
    }

    // MARK: - Loading

    /// The bytes the decoded images of a folder take in memory.
    public static func estimatedBytes(imageCount: Int, imageSize: Int, channels: Int) -> Int {
        let (perImage, overflow1) = (channels * imageSize).multipliedReportingOverflow(by: imageSize)
        let (total, overflow2) = perImage.multipliedReportingOverflow(by: imageCount)
        return overflow1 || overflow2 ? Int.max : total
    }

    /// The default memory budget: half the machine's memory (or of the container's limit,
    /// when that is lower).
    public static var defaultMemoryBudget: Int { SystemMemory.availableBytes / 2 }

    /// Whether a folder of `imageCount` images is streamed under `storage` and `memoryBudget`
    /// (default `defaultMemoryBudget`), and why: the line `summary` shows, or nil for memory.
    /// `.inMemory` gives nil (the load refuses a folder above the budget).
    public static func streamingReason(imageCount: Int, imageSize: Int, channels: Int, storage: Storage,
                                       memoryBudget: Int?) -> String? {
        let estimate = estimatedBytes(imageCount: imageCount, imageSize: imageSize, channels: channels)
        switch storage {
        case .inMemory:
            return nil
        case .streaming:
            return "streaming, as asked: \(formatBytes(estimate)) decoded"
        case .automatic:
            let budget = memoryBudget ?? defaultMemoryBudget
            guard estimate > budget else { return nil }
            return "streaming: \(formatBytes(estimate)) decoded would exceed the memory budget of \(formatBytes(budget))"
                + (memoryBudget == nil ? " (half of this machine's memory)" : "")
        }
    }

    /// Walks `directory` (see `scan(directory:labels:)`) and decodes every image, or checks
    /// every header when the images are to be streamed.
    ///
    /// - Parameters:
    ///   - imageSize: the side of the stored square images.
    ///   - channels: 1 (grey) or 3 (RGB); default 3.
    ///   - labels: where labels come from; default `.automatic` (sub-folders when there are).
    ///   - skipBadFiles: leave out files that cannot be decoded (listed in `skippedFiles`)
    ///     instead of throwing; default false.
    ///   - storage: in memory, streamed, or (default `.automatic`) whichever the budget allows.
    ///   - memoryBudget: the most bytes the decoded images may take in memory; default
    ///     `defaultMemoryBudget`.
    ///   - threads: decoding threads; default every core of the current `ComputeContext`.
    ///   - progress: called with (images done, total) from the decoding threads, one call at a
    ///     time, about a hundred times over the load.
    public static func load(directory: String, imageSize: Int, channels: Int = 3, labels: LabelSource = .automatic,
                            skipBadFiles: Bool = false, storage: Storage = .automatic, memoryBudget: Int? = nil,
                            threads: Int? = nil,
                            progress: (@Sendable (_ done: Int, _ total: Int) -> Void)? = nil) throws -> ImageFolder {
        let listing = try scan(directory: directory, labels: labels)
        return try load(listing, imageSize: imageSize, channels: channels, skipBadFiles: skipBadFiles, storage: storage,
                        memoryBudget: memoryBudget, threads: threads, progress: progress)
    }

    /// Decodes the files of a listing (see `load(directory:…)`).
    public static func load(_ listing: Listing, imageSize: Int, channels: Int = 3, skipBadFiles: Bool = false,
                            storage: Storage = .automatic, memoryBudget: Int? = nil, threads: Int? = nil,
                            progress: (@Sendable (_ done: Int, _ total: Int) -> Void)? = nil) throws -> ImageFolder {
        precondition(imageSize > 0, "ImageFolder.load: imageSize must be positive, got \(imageSize)")
        precondition(channels == 1 || channels == 3, "ImageFolder.load: channels must be 1 or 3, got \(channels)")
        precondition((threads ?? 1) > 0, "ImageFolder.load: threads must be positive, got \(threads ?? 0)")
        let files = listing.files
        let total = files.count
        guard total > 0 else {
            throw DatasetError(path: listing.directory, problem: "holds no .png, .jpg or .jpeg files (hidden files are skipped)")
        }
        let name = datasetName(listing.directory), classCount = Swift.max(1, listing.classNames.count)
        let maximumPixels = ImageDecoder.defaultMaximumPixels
        func folder(_ images: any ImageDataset, kept: [Int], failures: [Failure], streamingReason: String?) -> ImageFolder {
            ImageFolder(directory: listing.directory, images: images, paths: kept.map { files[$0] }, classNames: listing.classNames,
                        skippedFiles: failures.map { SkippedFile(path: files[$0.index], problem: $0.problem) },
                        ignoredFileCount: listing.ignoredFileCount, streamingReason: streamingReason)
        }

        if let reason = streamingReason(imageCount: total, imageSize: imageSize, channels: channels, storage: storage,
                                        memoryBudget: memoryBudget) {
            let failures = forEachFile(total: total, threads: threads, skipBadFiles: skipBadFiles, progress: progress) { index, _ in
                _ = try ImageDecoder.header(ofFile: files[index], maximumPixels: maximumPixels)
            }
            let kept = try keptIndices(listing, failures: failures, skipBadFiles: skipBadFiles)
            let images = StreamingImageDataset(name: name, paths: kept.map { files[$0] }, labels: kept.map { listing.labels[$0] },
                                               classCount: classCount, imageSize: imageSize, channels: channels,
                                               maximumPixels: maximumPixels)
            return folder(images, kept: kept, failures: failures, streamingReason: reason)
        }

        let imageBytes = channels * imageSize * imageSize
        let estimate = estimatedBytes(imageCount: total, imageSize: imageSize, channels: channels)
        let budget = memoryBudget ?? defaultMemoryBudget
        guard estimate <= budget else {
            throw DatasetError(path: listing.directory, problem:
                "its \(total) images would take \(formatBytes(estimate)) decoded (\(channels)×\(imageSize)×\(imageSize) bytes each), "
                + "more than the memory budget of \(formatBytes(budget))\(memoryBudget == nil ? " (half of this machine's memory)" : ""); "
                + "use a smaller image size or fewer channels, raise the budget (memoryBudget:), or stream the files (storage: .automatic)")
        }
        var failures: [Failure] = []
        var pixels = [UInt8](unsafeUninitializedCapacity: total * imageBytes) { buffer, initialized in
            initialized = 0
            guard let base = buffer.baseAddress else { return }
            let store = UnsafeSendablePointer(base)
            failures = forEachFile(total: total, threads: threads, skipBadFiles: skipBadFiles, progress: progress) { index, scratch in
                let bytes = try ImageDecoder.readFile(files[index])
                try ImageDecoder.decodeResized(bytes, path: files[index], imageSize: imageSize, channels: channels,
                                               maximumPixels: maximumPixels, into: store.base + index * imageBytes, scratch: &scratch)
            }
            initialized = total * imageBytes
        }
        let kept = try keptIndices(listing, failures: failures, skipBadFiles: skipBadFiles)
        if kept.count < total {
            pixels.withUnsafeMutableBufferPointer { buffer in
                guard let base = buffer.baseAddress else { return }
                for (position, index) in kept.enumerated() where position != index {
                    (base + position * imageBytes).update(from: base + index * imageBytes, count: imageBytes)
                }
            }
            pixels.removeLast((total - kept.count) * imageBytes)
        }
        let dataset = InMemoryImageDataset(name: name, channels: channels, height: imageSize, width: imageSize, pixels: pixels,
                                           labels: kept.map { listing.labels[$0] }, classCount: classCount)
        return folder(dataset, kept: kept, failures: failures, streamingReason: nil)
    }

    /// The folder's last path component (`"photos"` for `"data/photos/"`).
    static func datasetName(_ directory: String) -> String {
        let trimmed = directory.split(separator: "/", omittingEmptySubsequences: true)
        return trimmed.last.map(String.init) ?? directory
    }

    /// "512 B", "34.1 MB", "2.0 GiB".
    static func formatBytes(_ bytes: Int) -> String {
        if bytes < 1_000 { return "\(bytes) B" }
        if bytes < 1 << 30 {
            let megabytes = Double(bytes) / 1e6
            return megabytes < 0.1 ? "\(bytes / 1_000) kB" : "\((megabytes * 10).rounded() / 10) MB"
        }
        return "\((Double(bytes) / Double(1 << 30) * 10).rounded() / 10) GiB"
    }
}

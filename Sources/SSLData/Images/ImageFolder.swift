import SSLTensor
import Synchronization

/// A folder of PNG and JPEG files as a dataset: each image decoded once (libpng,
/// libjpeg-turbo), turned upright, resized so its shorter side is `imageSize`, centre-cropped
/// to `imageSize × imageSize` and kept as bytes in an `InMemoryImageDataset`.
///
/// Labels, as torchvision's `ImageFolder`: a folder with sub-folders is labelled by them
/// (`classNames` sorted; label `i` is `classNames[i]`); a flat folder is unlabelled
/// (`isLabelled` false, every label 0 and `classCount` 1, so that the dataset stays valid:
/// evaluations that need labels must check `isLabelled`). `paths[i]` is the file of image `i`.
///
/// Decoding runs on every core (or `threads`) and reports progress. A bad file (empty,
/// unreadable, not an image, corrupt, truncated) throws a `DatasetError` naming it; with
/// `skipBadFiles` it is left out and listed in `skippedFiles`. A folder whose images would
/// take more than `memoryBudget` bytes (default: half the machine's memory) is refused before
/// anything is decoded.
///
/// ```swift
/// let folder = try ImageFolder.load(directory: "photos", imageSize: 96, channels: 3, skipBadFiles: true)
/// print(folder.summary)            // "photos: 1204 images in 3 classes (3×96×96, 33.3 MB); 2 bad files skipped: …"
/// let loader = DataLoader(folder.dataset, batchSize: 256, views: views, shuffle: true, seed: 0)
/// let name = folder.classNames[folder.dataset.labels[0]]
/// let file = folder.paths[0]       // for embeddings and galleries
/// ```
public struct ImageFolder: Dataset {
    /// A file left out by `skipBadFiles`, and why.
    public struct SkippedFile: Sendable, Equatable, CustomStringConvertible {
        public let path: String
        public let problem: String
        public var description: String { "\(path) \(problem)" }
    }

    /// The folder loaded.
    public let directory: String
    /// The decoded images (CHW bytes, `channels × imageSize × imageSize` each) and labels.
    public let dataset: InMemoryImageDataset
    /// The file of each image.
    public let paths: [String]
    /// The class names (sub-folder names, sorted); empty for an unlabelled folder.
    public let classNames: [String]
    /// The files that could not be decoded and were skipped (`skipBadFiles`), in file order.
    public let skippedFiles: [SkippedFile]
    /// Files that were not decoded because they are not images by name, or lie directly in a
    /// labelled folder (see `Listing.ignoredFileCount`).
    public let ignoredFileCount: Int

    /// Whether the images have labels from sub-folders.
    public var isLabelled: Bool { !classNames.isEmpty }
    /// The number of images.
    public var count: Int { dataset.count }
    /// The side of every (square) image.
    public var imageSize: Int { dataset.height }
    /// The channels of every image (1 or 3).
    public var channels: Int { dataset.channels }

    public func sample(at index: Int) -> Sample { dataset.sample(at: index) }

    /// One line for logs: what was loaded, its size in memory, and the skipped files (the first
    /// five named).
    public var summary: String {
        let classes = isLabelled ? "in \(classNames.count) class\(classNames.count == 1 ? "" : "es")" : "unlabelled"
        var line = "\(dataset.name): \(count) image\(count == 1 ? "" : "s") \(classes) "
            + "(\(channels)×\(imageSize)×\(imageSize), \(ImageFolder.formatBytes(dataset.pixels.count)))"
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

    /// Walks `directory` (see `scan(directory:labels:)`) and decodes every image.
    ///
    /// - Parameters:
    ///   - imageSize: the side of the stored square images.
    ///   - channels: 1 (grey) or 3 (RGB); default 3.
    ///   - labels: where labels come from; default `.automatic` (sub-folders when there are).
    ///   - skipBadFiles: leave out files that cannot be decoded (listed in `skippedFiles`)
    ///     instead of throwing; default false.
    ///   - memoryBudget: the most bytes the decoded images may take; default
    ///     `defaultMemoryBudget`.
    ///   - threads: decoding threads; default every core of the current `ComputeContext`.
    ///   - progress: called with (images done, total) from the decoding threads, one call at a
    ///     time, about a hundred times over the load.
    public static func load(directory: String, imageSize: Int, channels: Int = 3, labels: LabelSource = .automatic,
                            skipBadFiles: Bool = false, memoryBudget: Int? = nil, threads: Int? = nil,
                            progress: (@Sendable (_ done: Int, _ total: Int) -> Void)? = nil) throws -> ImageFolder {
        let listing = try scan(directory: directory, labels: labels)
        return try load(listing, imageSize: imageSize, channels: channels, skipBadFiles: skipBadFiles,
                        memoryBudget: memoryBudget, threads: threads, progress: progress)
    }

    /// Decodes the files of a listing (see `load(directory:…)`).
    public static func load(_ listing: Listing, imageSize: Int, channels: Int = 3, skipBadFiles: Bool = false,
                            memoryBudget: Int? = nil, threads: Int? = nil,
                            progress: (@Sendable (_ done: Int, _ total: Int) -> Void)? = nil) throws -> ImageFolder {
        precondition(imageSize > 0, "ImageFolder.load: imageSize must be positive, got \(imageSize)")
        precondition(channels == 1 || channels == 3, "ImageFolder.load: channels must be 1 or 3, got \(channels)")
        precondition((threads ?? 1) > 0, "ImageFolder.load: threads must be positive, got \(threads ?? 0)")
        let files = listing.files
        let total = files.count
        guard total > 0 else {
            throw DatasetError(path: listing.directory, problem: "holds no .png, .jpg or .jpeg files (hidden files are skipped)")
        }
        let imageBytes = channels * imageSize * imageSize
        let estimate = estimatedBytes(imageCount: total, imageSize: imageSize, channels: channels)
        let budget = memoryBudget ?? defaultMemoryBudget
        guard estimate <= budget else {
            throw DatasetError(path: listing.directory, problem:
                "its \(total) images would take \(formatBytes(estimate)) decoded (\(channels)×\(imageSize)×\(imageSize) bytes each), "
                + "more than the memory budget of \(formatBytes(budget))\(memoryBudget == nil ? " (half of this machine's memory)" : ""); "
                + "use a smaller image size or fewer channels, or raise the budget (memoryBudget:)")
        }

        let state = LoadState(total: total, progress: progress)
        let maximumPixels = ImageDecoder.defaultMaximumPixels
        var pixels = [UInt8](unsafeUninitializedCapacity: total * imageBytes) { buffer, initialized in
            initialized = 0
            guard let base = buffer.baseAddress else { return }
            let store = UnsafeSendablePointer(base)
            let context = threads.map { ComputeContext(threadCount: $0) } ?? ComputeContext.current
            let workers = Swift.min(context.threadCount, total)
            ComputeContext.$current.withValue(context) {
                Parallel.forEachChunk(count: workers, minimumChunk: 1) { chunk in
                    for _ in chunk {
                        var scratch = CenterCropResize.Scratch()
                        while let index = state.claim(stopOnFailure: !skipBadFiles) {
                            do {
                                let bytes = try ImageDecoder.readFile(files[index])
                                try ImageDecoder.decodeResized(bytes, path: files[index], imageSize: imageSize, channels: channels,
                                                               maximumPixels: maximumPixels,
                                                               into: store.base + index * imageBytes, scratch: &scratch)
                                state.finished(index, problem: nil)
                            } catch {
                                state.finished(index, problem: (error as? DatasetError)?.problem ?? "\(error)")
                            }
                        }
                    }
                }
            }
            initialized = total * imageBytes
        }

        let failures = state.failures
        guard skipBadFiles || failures.isEmpty else {
            let (first, problem) = failures[0]
            let others = failures.count > 1 ? " (\(failures.count - 1) other bad file\(failures.count == 2 ? "" : "s") found before the load stopped)" : ""
            throw DatasetError(path: files[first], problem: "\(problem)\(others); skipBadFiles: true (--skip-bad-files) leaves bad files out")
        }
        var keptPaths = files, keptLabels = listing.labels
        if !failures.isEmpty {
            guard failures.count < total else {
                throw DatasetError(path: listing.directory, problem:
                    "none of its \(total) image files could be decoded; the first, \(files[failures[0].index]), \(failures[0].problem)")
            }
            let bad = Set(failures.map(\.index))
            var kept = 0
            keptPaths = []
            keptLabels = []
            pixels.withUnsafeMutableBufferPointer { buffer in
                guard let base = buffer.baseAddress else { return }
                for index in 0..<total where !bad.contains(index) {
                    if kept != index { (base + kept * imageBytes).update(from: base + index * imageBytes, count: imageBytes) }
                    keptPaths.append(files[index])
                    keptLabels.append(listing.labels[index])
                    kept += 1
                }
            }
            pixels.removeLast((total - kept) * imageBytes)
        }
        let dataset = InMemoryImageDataset(
            name: datasetName(listing.directory), channels: channels, height: imageSize, width: imageSize, pixels: pixels,
            labels: keptLabels, classCount: Swift.max(1, listing.classNames.count))
        return ImageFolder(directory: listing.directory, dataset: dataset, paths: keptPaths, classNames: listing.classNames,
                           skippedFiles: failures.map { SkippedFile(path: files[$0.index], problem: $0.problem) },
                           ignoredFileCount: listing.ignoredFileCount)
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

/// The shared bookkeeping of one load: the next file to claim, failures, progress.
private final class LoadState: Sendable {
    private let total: Int
    private let next = Atomic<Int>(0)
    private let stopped = Atomic<Bool>(false)
    private let problems = Mutex<[(index: Int, problem: String)]>([])
    /// Images done, and the count last reported to `progress` (reported under the lock).
    private let done = Mutex<(count: Int, reported: Int)>((0, 0))
    private let progress: (@Sendable (Int, Int) -> Void)?
    private let reportEvery: Int

    init(total: Int, progress: (@Sendable (Int, Int) -> Void)?) {
        self.total = total
        self.progress = progress
        reportEvery = Swift.max(1, total / 100)
    }

    /// The next file index to decode, or nil when all are claimed (or a failure stops the load).
    func claim(stopOnFailure: Bool) -> Int? {
        if stopOnFailure && stopped.load(ordering: .relaxed) { return nil }
        let index = next.wrappingAdd(1, ordering: .relaxed).oldValue
        return index < total ? index : nil
    }

    /// Records that file `index` is done (`problem` when it failed) and reports progress.
    func finished(_ index: Int, problem: String?) {
        if let problem {
            problems.withLock { $0.append((index, problem)) }
            stopped.store(true, ordering: .relaxed)
        }
        guard let progress else { return }
        done.withLock { state in
            state.count += 1
            if state.count == total || state.count - state.reported >= reportEvery {
                state.reported = state.count
                progress(state.count, total)
            }
        }
    }

    /// The failures, by file index.
    var failures: [(index: Int, problem: String)] {
        problems.withLock { $0 }.sorted { $0.index < $1.index }
    }
}

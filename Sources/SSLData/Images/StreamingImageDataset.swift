/// Image files decoded whenever a sample is asked for, instead of once into memory: what
/// `ImageFolder.load` gives for a folder whose decoded images would exceed the memory budget.
/// Each read decodes, turns upright, resizes and centre-crops the file exactly as the in-memory
/// load does (`ImageDecoder.decodeResized`), so a streamed image is byte for byte the stored
/// one and training is the same; only the time differs: every epoch decodes every file again,
/// in the loader's worker threads (give it enough `workers`).
///
/// Bad files. `ImageFolder.load` reads every file's header before training (libpng up to the
/// image data, libjpeg up to the first scan: a fraction of a decode) and treats files that fail
/// as the in-memory load does: an error naming the first, or left out with `skipBadFiles`.
/// Damage past the header (a cut or corrupt pixel stream), or a file changed or removed after
/// the load, shows only when the file is decoded. Then `loadSample(at:)` throws a
/// `DatasetError` naming the file; `DataLoader` passes it to whoever iterates its batches
/// (`throwingBatches`), so `Trainer.fit` ends with that error after the batches before it,
/// never with a crash, and never with another image in its place (which would change the run
/// without saying so). Remove or replace the file and run again. `sample(at:)`, which cannot
/// throw, stops the program with the same message.
///
/// ```swift
/// let folder = try ImageFolder.load(directory: "photos", imageSize: 224, memoryBudget: 8 << 30)
/// print(folder.summary)    // "photos: 1281167 images in 1000 classes (3×224×224, streaming: 179.6 GiB decoded …)"
/// let streamed = StreamingImageDataset(name: "two", paths: ["a.png", "b.jpg"], labels: [0, 1],
///                                      classCount: 2, imageSize: 64, channels: 3)
/// let bytes = try streamed.imageBytes(at: 1)    // 3 × 64 × 64 bytes, decoded now
/// ```
public struct StreamingImageDataset: ImageDataset {
    /// A name for messages and logs (the folder's).
    public let name: String
    /// The file of each image.
    public let paths: [String]
    /// The label of each image.
    public let labels: [Int]
    /// The number of classes; every label is in `0..<classCount`.
    public let classCount: Int
    /// Channels per image (1 or 3).
    public let channels: Int
    /// The side of every (square) image.
    public let imageSize: Int
    /// The most pixels a file may have (see `ImageDecoder.defaultMaximumPixels`).
    public let maximumPixels: Int

    /// Images read from `paths`, `channels × imageSize × imageSize` each, with their labels.
    public init(name: String, paths: [String], labels: [Int], classCount: Int, imageSize: Int, channels: Int,
                maximumPixels: Int = ImageDecoder.defaultMaximumPixels) {
        precondition(imageSize > 0, "StreamingImageDataset(\(name)): imageSize must be positive, got \(imageSize)")
        precondition(channels == 1 || channels == 3, "StreamingImageDataset(\(name)): channels must be 1 or 3, got \(channels)")
        precondition(paths.count == labels.count,
                     "StreamingImageDataset(\(name)): \(paths.count) paths for \(labels.count) labels")
        precondition(classCount > 0, "StreamingImageDataset(\(name)): classCount must be positive, got \(classCount)")
        if let bad = labels.firstIndex(where: { $0 < 0 || $0 >= classCount }) {
            preconditionFailure("StreamingImageDataset(\(name)): label \(labels[bad]) of image \(bad) is outside 0..<\(classCount)")
        }
        self.name = name
        self.paths = paths
        self.labels = labels
        self.classCount = classCount
        self.channels = channels
        self.imageSize = imageSize
        self.maximumPixels = maximumPixels
    }

    /// The number of images.
    public var count: Int { paths.count }
    /// Rows per image (`imageSize`).
    public var height: Int { imageSize }
    /// Columns per image (`imageSize`).
    public var width: Int { imageSize }

    /// Decodes image `index` from its file: `channels × imageSize × imageSize` bytes (CHW).
    /// Throws a `DatasetError` naming the file when it cannot be read or decoded.
    public func imageBytes(at index: Int) throws -> [UInt8] {
        precondition(index >= 0 && index < count, "StreamingImageDataset(\(name)): index \(index) is outside 0..<\(count)")
        do {
            return try ImageDecoder.decodeResized(contentsOf: paths[index], imageSize: imageSize, channels: channels,
                                                  maximumPixels: maximumPixels)
        } catch let error as DatasetError {
            throw DatasetError(path: error.path, problem: error.problem
                + " (found while streaming: its header was checked when the folder was loaded; remove or replace the file and run again)")
        }
    }

    public func loadSample(at index: Int) throws -> Sample {
        let bytes = try imageBytes(at: index)
        let image = bytes.withUnsafeBufferPointer { Image(channels: channels, height: imageSize, width: imageSize, bytes: $0) }
        return Sample(image: image, label: labels[index], index: index)
    }

    /// The sample at `index`; stops the program with the error's message when its file cannot
    /// be decoded (read through `DataLoader` or `loadSample(at:)` to have it thrown instead).
    public func sample(at index: Int) -> Sample {
        do {
            return try loadSample(at: index)
        } catch {
            preconditionFailure("StreamingImageDataset(\(name)).sample(at: \(index)): \(error) "
                                + "(loadSample(at:) and DataLoader.throwingBatches throw this instead)")
        }
    }

    /// The images at `indices` (repeats allowed), in that order; nothing is read.
    public func subset(_ indices: [Int]) -> StreamingImageDataset {
        for index in indices {
            precondition(index >= 0 && index < count, "StreamingImageDataset(\(name)).subset: index \(index) is outside 0..<\(count)")
        }
        return StreamingImageDataset(name: name, paths: indices.map { paths[$0] }, labels: indices.map { labels[$0] },
                                     classCount: classCount, imageSize: imageSize, channels: channels,
                                     maximumPixels: maximumPixels)
    }
}

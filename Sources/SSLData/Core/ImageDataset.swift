/// Labelled images of one shape as bytes (CHW, one `UInt8` per value, ÷ 255 when read): held
/// in memory (`InMemoryImageDataset`) or decoded from image files whenever a sample is asked
/// for (`StreamingImageDataset`). What recipes and evaluations need beyond `Dataset`: the
/// shape, the labels, one image's bytes and subsets, whichever way the images are kept.
///
/// ```swift
/// func describe(_ images: any ImageDataset) throws -> String {
///     let first = try images.imageBytes(at: 0)      // channels × height × width bytes
///     let held = images.subset([0, 2])               // the same kind of dataset
///     return "\(images.name): \(images.count) of \(images.channels)×\(images.height)×\(images.width), \(first.count) B, \(held.count)"
/// }
/// ```
public protocol ImageDataset: Dataset {
    /// A name for messages and logs.
    var name: String { get }
    /// Channels per image.
    var channels: Int { get }
    /// Rows per image.
    var height: Int { get }
    /// Columns per image.
    var width: Int { get }
    /// The number of classes; every label is in `0..<classCount`.
    var classCount: Int { get }
    /// The label of each image.
    var labels: [Int] { get }
    /// The bytes of image `index` (CHW); throws when they cannot be read (a damaged file).
    func imageBytes(at index: Int) throws -> [UInt8]
    /// The images at `indices` (repeats allowed), in that order.
    func subset(_ indices: [Int]) -> Self
}

extension ImageDataset {
    /// The first `length` images (all of them when there are fewer).
    public func prefix(_ length: Int) -> Self {
        subset(Array(0..<Swift.min(Swift.max(length, 0), count)))
    }
}

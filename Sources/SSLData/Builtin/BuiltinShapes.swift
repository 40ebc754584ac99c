import Dispatch
import SSLTensor

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The built-in dataset: procedurally generated, labelled images that need nothing downloaded,
/// so a recipe runs on a fresh machine.
///
/// Ten classes of shapes and textures (`classNames`): disk, ring, square, square frame,
/// triangle, plus, striped disk, checkerboard, star and crescent. Each image places one at a
/// random position, scale, rotation and intensity over a shaded background, with a few faint
/// distractor strokes and pixel noise, so raw pixels are a poor representation (nearest
/// neighbours on pixels are far from perfect) while the classes stay easy for a learned
/// encoder. Labels cycle 0, 1, …, 9, so every prefix is balanced.
///
/// Image i of a split is drawn from `RandomGenerator(seed: seed, stream: [split, i])`: the data
/// are the same for any thread count, and the test split never repeats a training image.
/// Generation runs on all cores (20 000 + 5 000 images of 28 × 28 in well under 2 s in a
/// release build).
///
/// ```swift
/// let train = BuiltinShapes.load(split: .train)                          // 20 000 × 1 × 28 × 28
/// let test = BuiltinShapes.load(split: .test, count: 1_000, variant: .color32, seed: 7)
/// ```
public enum BuiltinShapes {
    /// Image size and channels.
    ///
    /// ```swift
    /// let colour = BuiltinShapes.load(split: .train, variant: .color32)   // 3 × 32 × 32
    /// ```
    public enum Variant: String, Sendable, CaseIterable {
        /// One channel, 28 × 28 (like Fashion-MNIST).
        case grayscale28
        /// Three channels, 32 × 32 (like CIFAR-10), with random colours.
        case color32

        public var channels: Int { self == .grayscale28 ? 1 : 3 }
        public var size: Int { self == .grayscale28 ? 28 : 32 }
    }

    /// The class names, by label.
    public static let classNames = [
        "disk", "ring", "square", "frame", "triangle", "plus", "stripes", "checkerboard", "star", "crescent",
    ]

    /// The default number of training images.
    public static let defaultTrainCount = 20_000
    /// The default number of test images.
    public static let defaultTestCount = 5_000

    /// `count` images of `split` (default 20 000 train / 5 000 test), generated on `threads`
    /// threads (default: every core).
    public static func load(split: DatasetSplit, count: Int? = nil, variant: Variant = .grayscale28,
                            seed: UInt64 = 0, threads: Int? = nil) -> InMemoryImageDataset {
        let total = count ?? (split == .train ? defaultTrainCount : defaultTestCount)
        precondition(total >= 0, "BuiltinShapes.load: count must be non-negative, got \(total)")
        precondition((threads ?? 1) > 0, "BuiltinShapes.load: threads must be positive, got \(threads ?? 0)")
        let renderer = ShapeRenderer(size: variant.size, channels: variant.channels)
        let imageSize = variant.channels * variant.size * variant.size
        let workers = Swift.max(1, Swift.min(threads ?? Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))), Swift.max(1, total / 64)))
        let splitTag: UInt64 = split == .train ? 0 : 1
        let pixels = [UInt8](unsafeUninitializedCapacity: total * imageSize) { buffer, initialized in
            guard let address = buffer.baseAddress else {
                initialized = 0
                return
            }
            let base = GenerationBuffer(pointer: address)
            let perWorker = (total + workers - 1) / Swift.max(workers, 1)
            let work: @Sendable (Int) -> Void = { worker in
                let start = worker * perWorker, end = Swift.min(total, start + perWorker)
                guard start < end else { return }
                for index in start..<end {
                    var generator = RandomGenerator(seed: seed, stream: [splitTag, UInt64(index)])
                    let image = UnsafeMutableBufferPointer(start: base.pointer + index * imageSize, count: imageSize)
                    renderer.render(label: index % 10, generator: &generator, into: image)
                }
            }
            if workers == 1 {
                work(0)
            } else {
                DispatchQueue.concurrentPerform(iterations: workers, execute: work)
            }
            initialized = total * imageSize
        }
        return InMemoryImageDataset(
            name: "builtin-shapes-\(variant.rawValue)-\(split.rawValue)", channels: variant.channels,
            height: variant.size, width: variant.size, pixels: pixels,
            labels: (0..<total).map { $0 % 10 }, classCount: 10)
    }
}

/// The output buffer shared by the generation workers, each writing its own images.
private struct GenerationBuffer: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<UInt8>
}

import SSLTensor

/// One value of a `Sample`: the image, an integer (labels, indices) or floats. Extras are
/// collated by kind: integers into integer tensors, scalars and tensors into float tensors.
///
/// ```swift
/// let sample = Sample(image: image, label: 3, index: 0, extras: ["weight": .scalar(0.5)])
/// if case .scalar(let weight)? = sample["weight"] { print(weight) }
/// ```
public enum SampleValue: Sendable {
    case image(Image)
    case integer(Int)
    case scalar(Float)
    case tensor(Tensor)
}

/// One item of a `Dataset`: a dictionary with `"image"`, `"label"` and `"sample_idx"`, plus any
/// extra named values (a second label, a weight, …) that the loader collates alongside.
///
/// The three standard entries are stored fields; extras live in `extras`. The subscript reads
/// any of them by name.
///
/// ```swift
/// let sample = dataset.sample(at: 7)
/// print(sample.label, sample.index)          // the class and 7
/// if case .integer(let coarse)? = sample["coarse_label"] { print(coarse) }
/// ```
public struct Sample: Sendable {
    /// The image (CHW, values in [0, 1]).
    public var image: Image
    /// The class label.
    public var label: Int
    /// The index of the sample in its dataset (`"sample_idx"`).
    public var index: Int
    /// Further named values. Keys must not be `"image"`, `"label"` or `"sample_idx"`.
    public var extras: [String: SampleValue]

    public init(image: Image, label: Int, index: Int, extras: [String: SampleValue] = [:]) {
        precondition(extras["image"] == nil && extras["label"] == nil && extras["sample_idx"] == nil,
                     "Sample: extras may not use the reserved keys image, label or sample_idx (got \(extras.keys.sorted()))")
        self.image = image
        self.label = label
        self.index = index
        self.extras = extras
    }

    /// The keys present: `"image"`, `"label"`, `"sample_idx"` and the extras, sorted.
    public var keys: [String] { (["image", "label", "sample_idx"] + extras.keys).sorted() }

    /// The value under `key`, or nil when absent.
    public subscript(key: String) -> SampleValue? {
        switch key {
        case "image": return .image(image)
        case "label": return .integer(label)
        case "sample_idx": return .integer(index)
        default: return extras[key]
        }
    }
}

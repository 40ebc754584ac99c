import SSLTensor

/// N augmentation pipelines, one per view: each image of a batch yields N views, the v-th made
/// by the v-th pipeline. The loader collates them view-major (all view-0 images, then all
/// view-1, …) and `foldViews` splits them back, aligned by sample.
///
/// Each view draws from its own stream, `RandomGenerator(seed: seed, stream: [epoch, sample
/// index, view])`, so the views are independent and do not depend on which thread makes them.
///
/// **Multi-crop.** Views of different sizes (DINO's global and local crops) come in groups:
/// each group's views are collated into their own keys, `"image"` for the first group and
/// `"image_<name>"` for the others (with `"sample_idx_<name>"`, `"view_idx_<name>"` and
/// `"label_<name>"`), so every tensor holds one size. Views are numbered across the groups
/// (the two global crops are views 0 and 1, six local crops views 2…7), and that number is
/// the view of the random stream and of `"view_idx"`.
///
/// ```swift
/// let simclr = Compose([RandomResizedCrop(size: 28), RandomHorizontalFlip(),
///                       RandomApply([ColorJitter(brightness: 0.4, contrast: 0.4)], p: 0.8)])
/// let views = MultiViewTransform([simclr, simclr])        // two views per image
/// let asymmetric = MultiViewTransform([withBlur, withSolarize])
/// let crops = MultiViewTransform([global, global], local: Array(repeating: local, count: 6))
/// // batch["image"] [2B, 1, 28, 28], batch["image_local"] [6B, 1, 12, 12]
/// ```
public struct MultiViewTransform: Sendable {
    /// Views collated into one tensor: their pipelines and the name their keys end in.
    public struct Group: Sendable {
        /// "" for the first group (`"image"`), else the key suffix (`"local"` → `"image_local"`).
        public let name: String
        public let transforms: [any ImageTransform]

        public init(name: String, _ transforms: [any ImageTransform]) {
            precondition(!transforms.isEmpty, "MultiViewTransform.Group \"\(name)\": at least one view transform is needed")
            self.name = name
            self.transforms = transforms
        }

        /// This group's key for `base`: `base` itself for the first group, else `base_name`
        /// (`key("image")` is `"image_local"` for the group "local").
        public func key(_ base: String) -> String { name.isEmpty ? base : "\(base)_\(name)" }
    }

    /// The groups, the first one named "" (its views are `"image"`).
    public let groups: [Group]
    /// One pipeline per view, every group's in order (view v is made by `transforms[v]`).
    public let transforms: [any ImageTransform]

    public init(_ transforms: [any ImageTransform]) {
        precondition(!transforms.isEmpty, "MultiViewTransform: at least one view transform is needed")
        self.init(groups: [Group(name: "", transforms)])
    }

    /// `count` views made by the same pipeline.
    public init(_ transform: any ImageTransform, count: Int) {
        precondition(count > 0, "MultiViewTransform: count must be positive, got \(count)")
        self.init(Array(repeating: transform, count: count))
    }

    /// Multi-crop: `global` views in `"image"` and `local` views (another size) in
    /// `"image_local"`; no local group when `local` is empty.
    public init(_ global: [any ImageTransform], local: [any ImageTransform]) {
        self.init(groups: [Group(name: "", global)] + (local.isEmpty ? [] : [Group(name: "local", local)]))
    }

    /// Views in groups; the first group must be named "" and the names must differ.
    public init(groups: [Group]) {
        precondition(groups.first?.name == "",
                     "MultiViewTransform: the first group must be named \"\" (its views are \"image\"), got \(groups.map(\.name))")
        precondition(Set(groups.map(\.name)).count == groups.count,
                     "MultiViewTransform: group names must differ, got \(groups.map(\.name))")
        for group in groups.dropFirst() {
            precondition(!group.name.isEmpty && group.name.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" },
                         "MultiViewTransform: group name \"\(group.name)\" must be letters, digits or underscores")
        }
        self.groups = groups
        self.transforms = groups.flatMap(\.transforms)
    }

    /// The number of views per image, over all groups.
    public var viewCount: Int { transforms.count }

    /// The views (numbered across groups) of each group, in group order.
    public var groupViews: [Range<Int>] {
        var start = 0
        return groups.map { group in
            defer { start += group.transforms.count }
            return start..<(start + group.transforms.count)
        }
    }

    /// The generator of one view of one sample in one epoch.
    public static func generator(seed: UInt64, epoch: Int, sampleIndex: Int, view: Int) -> RandomGenerator {
        RandomGenerator(seed: seed, stream: [UInt64(truncatingIfNeeded: epoch), UInt64(truncatingIfNeeded: sampleIndex),
                                             UInt64(truncatingIfNeeded: view)])
    }

    /// The views of `image` for a sample, in view order (every group's).
    public func views(of image: Image, seed: UInt64, epoch: Int, sampleIndex: Int) -> [Image] {
        transforms.enumerated().map { view, transform in
            var generator = Self.generator(seed: seed, epoch: epoch, sampleIndex: sampleIndex, view: view)
            return transform(image, generator: &generator)
        }
    }
}

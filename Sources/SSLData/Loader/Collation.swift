import SSLTensor

/// Stacks samples into a `Batch`: `"image"` a float tensor `[V·B, C, H, W]` ordered view-major
/// (the B view-0 images, then the B view-1 images, …), `"label"` and `"sample_idx"` integers
/// `[V·B]`, and each extra value stacked the same way (integers → integers `[V·B]`, scalars →
/// `[V·B]`, tensors → `[V·B, …]`). With one view `"image"` is simply `[B, C, H, W]`.
///
/// ```swift
/// // views[v][b]: view v of the b-th sample
/// let batch = Collation.collate(views: [[a0, b0], [a1, b1]])
/// let halves = foldViews(batch["image"], sampleIndex: batch[integers: "sample_idx"])
/// ```
///
/// Multi-crop (`collate(views:groups:)`): each group of views is collated as above into its
/// own keys (`"image"`, `"label"`, `"sample_idx"` for the first group; `"image_local"`,
/// `"label_local"`, `"sample_idx_local"` for a group "local"; extras likewise), and each group
/// also gets its view numbers, `"view_idx"`, `"view_idx_local"` (integers, one per row).
public enum Collation {
    /// Collates `views[v][b]`. Every view list has the same length, every image the same shape
    /// and every sample the same extra keys.
    public static func collate(views: [[Sample]]) -> Batch {
        precondition(!views.isEmpty, "Collation.collate: no views given")
        let batchSize = views[0].count
        precondition(batchSize > 0, "Collation.collate: empty batch")
        for (view, samples) in views.enumerated() {
            precondition(samples.count == batchSize,
                         "Collation.collate: view \(view) has \(samples.count) samples but view 0 has \(batchSize)")
        }
        let first = views[0][0]
        let shape = first.image.shape
        let imageSize = first.image.pixels.count
        let rows = views.count * batchSize
        let images = Tensor.zeros([rows] + shape)
        var labels = [Int](), indices = [Int]()
        labels.reserveCapacity(rows)
        indices.reserveCapacity(rows)
        images.withUnsafeMutableElements { output in
            var row = 0
            for (view, samples) in views.enumerated() {
                for (position, sample) in samples.enumerated() {
                    precondition(sample.image.channels == shape[0] && sample.image.height == shape[1] && sample.image.width == shape[2],
                                 "Collation.collate: view \(view) of sample \(sample.index) (batch position \(position)) has shape \(sample.image.shape) but the first image has \(shape); add a crop or resize so every view has one size")
                    sample.image.pixels.withUnsafeBufferPointer { pixels in
                        guard let source = pixels.baseAddress, let target = output.baseAddress else { return }
                        (target + row &* imageSize).update(from: source, count: imageSize)
                    }
                    labels.append(sample.label)
                    indices.append(sample.index)
                    row &+= 1
                }
            }
        }
        var batch = Batch()
        batch["image"] = images
        batch[integers: "label"] = IntTensor(labels)
        batch[integers: "sample_idx"] = IntTensor(indices)
        for key in first.extras.keys.sorted() {
            let values: [SampleValue] = views.flatMap { samples in
                samples.map { sample -> SampleValue in
                    guard let value = sample.extras[key] else {
                        preconditionFailure("Collation.collate: sample \(sample.index) has no \"\(key)\" but sample \(first.index) has; every sample needs the same extra keys")
                    }
                    return value
                }
            }
            batch = batch.merging(Batch([key: stack(values, key: key)]))
        }
        return batch
    }

    /// Collates `views[v][b]` made by `groups` (views numbered across the groups, as
    /// `MultiViewTransform.transforms`): with one group exactly `collate(views:)`, else each
    /// group into its own keys with its `"view_idx"` (see the type's notes).
    ///
    /// ```swift
    /// let batch = Collation.collate(views: views, groups: crops.groups)
    /// let locals = foldViews(batch["image_local"], sampleIndex: batch[integers: "sample_idx_local"])
    /// ```
    public static func collate(views: [[Sample]], groups: [MultiViewTransform.Group]) -> Batch {
        let total = groups.reduce(0) { $0 + $1.transforms.count }
        precondition(total == views.count,
                     "Collation.collate: the groups hold \(total) views (\(groups.map { "\"\($0.name)\" \($0.transforms.count)" }.joined(separator: ", "))) but \(views.count) view lists were given")
        guard groups.count > 1 else { return collate(views: views) }
        var batch = Batch()
        var start = 0
        for group in groups {
            let range = start..<(start + group.transforms.count)
            start = range.upperBound
            let part = collate(views: Array(views[range]))
            for key in part.keys {
                guard let value = part.value(key) else { continue }
                batch = batch.merging(Batch([group.key(key): value]))
            }
            let batchSize = views[range.lowerBound].count
            batch[integers: group.key("view_idx")] = IntTensor(range.flatMap { Array(repeating: $0, count: batchSize) })
        }
        return batch
    }

    /// One extra value of every row stacked into a batch value.
    private static func stack(_ values: [SampleValue], key: String) -> BatchValue {
        switch values[0] {
        case .integer:
            return .integers(IntTensor(values.map { value -> Int in
                guard case .integer(let x) = value else { mixed(key) }
                return x
            }))
        case .scalar:
            return .tensor(Tensor(values.map { value -> Float in
                guard case .scalar(let x) = value else { mixed(key) }
                return x
            }))
        case .tensor:
            return .tensor(Tensor.stack(values.map { value -> Tensor in
                guard case .tensor(let x) = value else { mixed(key) }
                return x
            }))
        case .image:
            return .tensor(Tensor.stack(values.map { value -> Tensor in
                guard case .image(let x) = value else { mixed(key) }
                return x.tensor()
            }))
        }
    }

    private static func mixed(_ key: String) -> Never {
        preconditionFailure("Collation.collate: extra \"\(key)\" holds values of different kinds across samples")
    }
}

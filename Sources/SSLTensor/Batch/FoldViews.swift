
/// Splits a flat batch of views back into one tensor per view, aligned by sample: the rows of
/// `tensor` are grouped by `sampleIndex` (groups in order of first appearance, rows within a
/// group in order), and view v is the v-th row of every group. For the loader's view-major
/// collation this returns `[view0Rows, view1Rows, …]`, each `[B, …]` in batch order.
///
/// Built from `indexSelect(axis: 0, indices:)`, so gradients flow back to `tensor`. Stops with
/// a message if samples have differing numbers of views.
///
/// ```swift
/// let z = projector(backbone(batch["image"]))                        // [2B, D]
/// let views = foldViews(z, sampleIndex: batch[integers: "sample_idx"])
/// let loss = ntXent(views[0], views[1])
/// ```
public func foldViews(_ tensor: Tensor, sampleIndex: IntTensor) -> [Tensor] {
    precondition(tensor.rank >= 1, "foldViews: tensor has shape \(tensor.shape); it needs a leading batch axis")
    precondition(sampleIndex.count == tensor.shape[0],
                 "foldViews: tensor has \(tensor.shape[0]) rows (shape \(tensor.shape)) but sampleIndex has \(sampleIndex.count) entries (shape \(sampleIndex.shape))")
    guard sampleIndex.count > 0 else { return [] }
    var groupOf: [Int: Int] = [:]
    var groups: [[Int]] = []
    for (row, sample) in sampleIndex.scalars.enumerated() {
        if let group = groupOf[sample] {
            groups[group].append(row)
        } else {
            groupOf[sample] = groups.count
            groups.append([row])
        }
    }
    let viewCount = groups[0].count
    if let odd = groups.firstIndex(where: { $0.count != viewCount }) {
        let firstSample = sampleIndex.scalars[groups[0][0]], oddSample = sampleIndex.scalars[groups[odd][0]]
        preconditionFailure("foldViews: sample \(firstSample) has \(viewCount) view\(viewCount == 1 ? "" : "s") but sample \(oddSample) has \(groups[odd].count); every sample needs the same number of views")
    }
    return (0..<viewCount).map { view in tensor.indexSelect(axis: 0, indices: groups.map { $0[view] }) }
}

/// `foldViews` with the sample indices as a float tensor (as `batch["sample_idx"]` reads them);
/// values are rounded to the nearest integer.
public func foldViews(_ tensor: Tensor, sampleIndex: Tensor) -> [Tensor] {
    foldViews(tensor, sampleIndex: IntTensor(shape: [sampleIndex.count], scalars: sampleIndex.scalars.map { Int($0.rounded()) }))
}

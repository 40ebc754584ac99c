import SSLDistributed
import SSLTensor
import SSLTraining

/// What the online monitors (kNN, probes, RankMe) share in a data-parallel fit: their rows
/// (detached embeddings with labels) gathered from every rank in the order one process would
/// have them, so a monitor fed the gathered rows is the one-process monitor.
///
/// One process orders a batch's rows view-major (`Collation`): every sample's view 0, then every
/// view 1, and so on. Rank r's shard is the r-th contiguous part of each batch, view-major
/// within the shard. So the global order is: by view, then by rank, then by position, and a
/// stable sort of the rank-after-rank gather by view restores it. A row's view is found from
/// `"sample_idx"` (the k-th row of a sample is its view k); without it every row is view 0.
enum ProbeRows {
    /// The features of `outputs[inputKey]` (detached, flattened to `[rows, features]`).
    static func features(_ outputs: Batch, inputKey: String) -> Tensor {
        let x = outputs[inputKey].detach()
        return x.rank > 2 ? x.flatten() : x
    }

    /// The view of each of `rows` rows of `outputs`, from `"sample_idx"`.
    static func views(_ outputs: Batch, rows: Int) -> [Int] {
        guard let samples = outputs.integersIfPresent("sample_idx")?.scalars, samples.count == rows else {
            return [Int](repeating: 0, count: rows)
        }
        var seen: [Int: Int] = [:]
        return samples.map { sample in
            let view = seen[sample, default: 0]
            seen[sample] = view + 1
            return view
        }
    }

    /// Every rank's training rows and labels in one process's order (see the type's notes); the
    /// rows and labels as they are with one rank. Every rank must call it at the same step.
    static func gatherTraining(_ features: Tensor, labels: [Int], outputs: Batch,
                               communicator: any Communicator) -> (features: Tensor, labels: [Int]) {
        guard communicator.worldSize > 1 else { return (features, labels) }
        let rows = features.shape[0]
        precondition(labels.count == rows, "online monitor: \(labels.count) labels for \(rows) embeddings")
        let views = self.views(outputs, rows: rows)
        var pairs: [Int] = []
        pairs.reserveCapacity(2 * rows)
        for (label, view) in zip(labels, views) { pairs += [label, view] }
        let keyed = communicator.allGatherRows(pairs, columns: 2).values
        let gathered = communicator.allGatherRows(features)
        let order = (0 ..< keyed.count / 2).sorted { (a: Int, b: Int) -> Bool in
            let viewA = keyed[2 * a + 1], viewB = keyed[2 * b + 1]
            return viewA != viewB ? viewA < viewB : a < b
        }
        let reordered = order.elementsEqual(order.indices) ? gathered : gathered.indexSelect(axis: 0, indices: order)
        return (reordered, order.map { keyed[2 * $0] })
    }
}

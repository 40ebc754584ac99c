import SSLTensor

extension DataLoader: ShardableBatchSource {
    /// This loader's batches split over `count` data-parallel ranks: every rank draws the same
    /// seeded order and augmentations, and rank `index` takes the `index`-th of `count` equal
    /// contiguous parts of each batch, so `batchSize` stays the global number of images per
    /// step. Throws when `batchSize` (or, without `dropLast`, the last batch) does not divide
    /// by `count`.
    ///
    /// ```swift
    /// let loader = DataLoader(train, batchSize: 256, views: views, seed: 0)
    /// let rankLoader = try loader.shard(rank, of: 4)   // 64 images of each 256-image batch
    /// ```
    public func shard(_ index: Int, of count: Int) throws -> BatchSource {
        precondition(shardCount == 1, "DataLoader.shard: this loader is already shard \(shardIndex) of \(shardCount)")
        precondition(count >= 1 && index >= 0 && index < count, "DataLoader.shard: \(index) is not a shard of \(count)")
        guard batchSize % count == 0 else {
            throw ShardingError("the batch size \(batchSize) does not divide over \(count) ranks: --batch-size is the global batch; use a multiple of \(count)")
        }
        let last = dataset.count % batchSize
        guard dropLast || last % count == 0 else {
            throw ShardingError("the last batch of \(last) images does not divide over \(count) ranks: drop it (dropLast) or use a dataset size that divides")
        }
        return DataLoader(dataset, batchSize: batchSize, views: views, shuffle: shuffle, dropLast: dropLast, seed: seed,
                          workers: workers, prefetch: prefetch, shard: (index, count))
    }

    /// This loader's batches split over `count` ranks for evaluation: every batch's `index`-th
    /// of `count` contiguous parts whose sizes differ by at most one (equal when the batch
    /// divides, as `shard`), so together the ranks see every sample exactly once whatever the
    /// batch and dataset sizes. Throws when a batch has fewer samples than `count`.
    ///
    /// ```swift
    /// let mine = try validationLoader.evaluationShard(rank, of: 3)   // 512 → 170, 171, 171 images
    /// ```
    public func evaluationShard(_ index: Int, of count: Int) throws -> BatchSource {
        precondition(shardCount == 1, "DataLoader.evaluationShard: this loader is already shard \(shardIndex) of \(shardCount)")
        precondition(count >= 1 && index >= 0 && index < count, "DataLoader.evaluationShard: \(index) is not a shard of \(count)")
        let last = dataset.count % batchSize
        let smallest = batchesPerEpoch == 0 ? count : (dropLast || last == 0 ? batchSize : last)
        guard smallest >= count else {
            throw ShardingError("a batch of \(smallest) images cannot be split over \(count) ranks (each needs at least one)")
        }
        return DataLoader(dataset, batchSize: batchSize, views: views, shuffle: shuffle, dropLast: dropLast, seed: seed,
                          workers: workers, prefetch: prefetch, shard: (index, count))
    }
}

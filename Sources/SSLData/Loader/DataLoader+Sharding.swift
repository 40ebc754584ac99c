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
}

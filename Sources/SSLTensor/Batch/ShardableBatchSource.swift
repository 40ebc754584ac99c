/// A `BatchSource` whose batches can be split over the ranks of data-parallel training: shard
/// `index` of `count` yields, for every batch of this source, its `index`-th equal contiguous
/// part, so the `count` shards together see exactly this source's batches (same order, same
/// augmentations) and `batchSize` keeps meaning the global batch.
///
/// ```swift
/// let mine = try loader.shard(communicator.rank, of: communicator.worldSize)   // 256 / 4 = 64 images a batch
/// ```
public protocol ShardableBatchSource: BatchSource {
    /// The number of shards this source is already one of (1 when not sharded).
    var shardCount: Int { get }
    /// Shard `index` of `count`; throws `ShardingError` when a batch does not divide into
    /// `count` equal parts.
    func shard(_ index: Int, of count: Int) throws -> BatchSource
    /// Shard `index` of `count` for evaluation (validation in a data-parallel fit): the same
    /// batches per epoch on every shard, each batch split into contiguous parts whose sizes
    /// differ by at most one (equal when the batch divides), so no sample is dropped or
    /// repeated and the metrics over all shards are those of the whole source. Throws
    /// `ShardingError` when a batch has fewer samples than `count`. The default is `shard`.
    func evaluationShard(_ index: Int, of count: Int) throws -> BatchSource
}

extension ShardableBatchSource {
    public func evaluationShard(_ index: Int, of count: Int) throws -> BatchSource {
        try shard(index, of: count)
    }
}

/// A batch that cannot be split evenly over the ranks.
public struct ShardingError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

import SSLTensor

/// Batches of augmented views from a dataset: seeded shuffling, drop-last, worker threads with
/// a bounded prefetch queue, and collation into a `Batch` (`"image"`, `"label"`,
/// `"sample_idx"`; see `Collation`).
///
/// Everything random is a function of the seed and the position in the data, never of thread
/// scheduling: the order of epoch e is a permutation drawn from its own stream of (seed, e),
/// and view v of sample i in epoch e is augmented with `RandomGenerator(seed: seed, stream:
/// [e, i, v])`. So the batches, pixel for pixel, are identical for 0, 1 or any number of
/// workers, and `batches(epoch: e, startingAt: k)` yields exactly batches k… of an
/// uninterrupted epoch e; the position a checkpoint stores is just (epoch, batch index).
///
/// `batchSize` counts images, not views: a batch holds `batchSize × viewCount` views.
/// `workers: 0` builds batches on the calling thread when they are asked for; otherwise that
/// many threads build them ahead, at most `prefetch` batches ahead of the consumer. Dropping
/// the iterator stops its threads (they finish the batch in hand) and waits for them.
///
/// A sample that cannot be read (`Dataset.loadSample(at:)` throws: a streamed image file
/// damaged since its folder was loaded) makes `throwingBatches` throw that error when the
/// batch holding it is due, after every batch before it; the `Trainer` iterates that way, so
/// the fit ends with the error. `batches` and `batch(epoch:index:)`, which cannot throw, stop
/// the program with its message.
///
/// ```swift
/// let augment = Compose([RandomResizedCrop(size: 28), RandomHorizontalFlip()])
/// let loader = DataLoader(train, batchSize: 256, views: MultiViewTransform([augment, augment]),
///                         seed: 42, workers: 2)
/// for batch in loader.batches(epoch: 0, startingAt: 0) {
///     let views = foldViews(batch["image"], sampleIndex: batch[integers: "sample_idx"])   // 2 × [256, 1, 28, 28]
/// }
/// ```
public final class DataLoader: BatchSource, Sendable {
    /// The samples.
    public let dataset: any Dataset
    /// Images (not views) per batch.
    public let batchSize: Int
    /// The view pipelines.
    public let views: MultiViewTransform
    /// Whether each epoch visits the samples in a fresh random order.
    public let shuffle: Bool
    /// Whether a last, smaller batch is left out.
    public let dropLast: Bool
    /// The seed of the order and of every augmentation.
    public let seed: UInt64
    /// Worker threads (0: build batches on the calling thread).
    public let workers: Int
    /// The most batches built (or being built) ahead of the consumer.
    public let prefetch: Int
    /// Data-parallel shard: this loader yields part `shardIndex` of `shardCount` contiguous
    /// parts of every batch, equal for training (see `shard(_:of:)`), differing by at most one
    /// sample for evaluation (`evaluationShard(_:of:)`); (0, 1) when not sharded.
    public let shardIndex: Int
    public let shardCount: Int
    private let liveThreads = LiveThreadCounter()

    /// A loader producing `views.viewCount` views of every image.
    public init(_ dataset: any Dataset, batchSize: Int, views: MultiViewTransform, shuffle: Bool = true,
                dropLast: Bool = true, seed: UInt64 = 0, workers: Int = 2, prefetch: Int? = nil,
                shard: (index: Int, count: Int) = (0, 1)) {
        precondition(batchSize > 0, "DataLoader: batchSize must be positive, got \(batchSize)")
        precondition(workers >= 0, "DataLoader: workers must be 0 or more, got \(workers)")
        precondition((prefetch ?? 1) > 0, "DataLoader: prefetch must be positive, got \(prefetch ?? 0)")
        self.dataset = dataset
        self.batchSize = batchSize
        self.views = views
        self.shuffle = shuffle
        self.dropLast = dropLast
        self.seed = seed
        self.workers = workers
        self.prefetch = prefetch ?? Swift.max(2, 2 * workers)
        precondition(shard.count >= 1 && shard.index >= 0 && shard.index < shard.count,
                     "DataLoader: shard \(shard.index) of \(shard.count) is not a valid shard")
        shardIndex = shard.index
        shardCount = shard.count
    }

    /// A loader producing one view of every image (`"image"` is `[B, C, H, W]`); the default
    /// transform leaves images as they are.
    public convenience init(_ dataset: any Dataset, batchSize: Int, transform: any ImageTransform = Compose([]),
                            shuffle: Bool = true, dropLast: Bool = true, seed: UInt64 = 0, workers: Int = 2,
                            prefetch: Int? = nil) {
        self.init(dataset, batchSize: batchSize, views: MultiViewTransform([transform]), shuffle: shuffle,
                  dropLast: dropLast, seed: seed, workers: workers, prefetch: prefetch)
    }

    /// Views per image.
    public var viewCount: Int { views.viewCount }

    public var batchesPerEpoch: Int {
        dropLast ? dataset.count / batchSize : (dataset.count + batchSize - 1) / batchSize
    }

    /// The number of worker threads running now, across this loader's iterators.
    public var runningWorkerThreads: Int { liveThreads.count }

    /// The order in which epoch `epoch` visits the dataset's indices.
    public func order(epoch: Int) -> [Int] {
        guard shuffle else { return Array(0..<dataset.count) }
        var generator = RandomGenerator(seed: seed, stream: [UInt64(truncatingIfNeeded: epoch), Self.shuffleStream])
        return generator.permutation(dataset.count)
    }

    /// Tags the shuffling stream apart from the per-sample streams [epoch, sample, view].
    private static let shuffleStream: UInt64 = 0x5348_5546_464C_4521  // "SHUFFLE!"

    /// Batch `index` of epoch `epoch`, built on the calling thread.
    public func batch(epoch: Int, index: Int) -> Batch {
        do {
            return try makeBatch(epoch: epoch, index: index, order: order(epoch: epoch))
        } catch {
            preconditionFailure("DataLoader.batch(epoch: \(epoch), index: \(index)): \(error)")
        }
    }

    public func batches(epoch: Int, startingAt start: Int) -> AnyIterator<Batch> {
        let iterator = throwingBatches(epoch: epoch, startingAt: start)
        return AnyIterator {
            do {
                return try iterator.next()
            } catch {
                preconditionFailure("DataLoader.batches(epoch: \(epoch)): \(error) (throwingBatches throws this instead)")
            }
        }
    }

    public func throwingBatches(epoch: Int, startingAt start: Int) -> ThrowingBatchIterator {
        let total = batchesPerEpoch
        precondition(start >= 0 && start <= total,
                     "DataLoader.batches: start \(start) is outside 0...\(total) (batches per epoch)")
        let order = self.order(epoch: epoch)
        if workers == 0 {
            var index = start
            return ThrowingBatchIterator { [self] in
                guard index < total else { return nil }
                let current = index
                index = total  // until the batch is made: nothing follows a failure
                let batch = try makeBatch(epoch: epoch, index: current, order: order)
                index = current + 1
                return batch
            }
        }
        let pipeline = PrefetchPipeline(range: start..<total, workers: workers, window: prefetch,
                                        context: ComputeContext.current, liveThreads: liveThreads) { [self] index in
            try makeBatch(epoch: epoch, index: index, order: order)
        }
        let iterator = PrefetchIterator(pipeline)
        return ThrowingBatchIterator { try iterator.next() }
    }

    /// Loads, augments and collates batch `index` of an epoch visiting `order`.
    private func makeBatch(epoch: Int, index: Int, order: [Int]) throws -> Batch {
        let globalStart = index * batchSize
        let globalEnd = Swift.min(globalStart + batchSize, order.count)
        precondition(globalStart < globalEnd, "DataLoader: batch \(index) is past the end of the epoch (\(batchesPerEpoch) batches)")
        let size = globalEnd - globalStart  // shards: contiguous parts, equal when the batch divides
        let start = globalStart + size * shardIndex / shardCount, end = globalStart + size * (shardIndex + 1) / shardCount
        let viewCount = views.viewCount
        var collected = [[Sample]](repeating: [], count: viewCount)
        for v in 0..<viewCount { collected[v].reserveCapacity(end - start) }
        for position in start..<end {
            let sampleIndex = order[position]
            var sample = try dataset.loadSample(at: sampleIndex)
            sample.index = sampleIndex
            for (view, transform) in views.transforms.enumerated() {
                var generator = MultiViewTransform.generator(seed: seed, epoch: epoch, sampleIndex: sampleIndex, view: view)
                var augmented = sample
                transform.apply(&augmented.image, generator: &generator)
                collected[view].append(augmented)
            }
        }
        return Collation.collate(views: collected, groups: views.groups)
    }
}

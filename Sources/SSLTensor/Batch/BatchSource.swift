/// A source of batches the `Trainer` iterates: a fixed number of batches per epoch, produced in
/// a deterministic order for a given epoch, and able to start mid-epoch (for resuming).
///
/// `DataLoader` (in SSLData) is the usual one; `BatchList` serves batches held in memory.
public protocol BatchSource: AnyObject {
    /// The number of batches one epoch yields.
    var batchesPerEpoch: Int { get }
    /// The batches of `epoch` from batch index `start` on (0 starts the epoch).
    func batches(epoch: Int, startingAt start: Int) -> AnyIterator<Batch>
    /// The same batches, through an iterator whose `next()` throws when a batch cannot be made
    /// (an image file damaged since its folder was loaded). The `Trainer` iterates this way, so
    /// such a failure ends a fit with the error. The default wraps `batches(epoch:startingAt:)`,
    /// for sources that cannot fail.
    func throwingBatches(epoch: Int, startingAt start: Int) -> ThrowingBatchIterator
}

extension BatchSource {
    public func throwingBatches(epoch: Int, startingAt start: Int) -> ThrowingBatchIterator {
        ThrowingBatchIterator(batches(epoch: epoch, startingAt: start))
    }
}

/// An iterator over batches whose `next()` may throw (see `BatchSource.throwingBatches`).
///
/// ```swift
/// let iterator = loader.throwingBatches(epoch: 0, startingAt: 0)
/// while let batch = try iterator.next() { print(batch["image"].shape) }
/// ```
public struct ThrowingBatchIterator {
    private let step: () throws -> Batch?

    /// An iterator calling `next` for each batch; once it has thrown or returned nil, callers
    /// should stop.
    public init(_ next: @escaping () throws -> Batch?) { step = next }

    /// An iterator over batches that cannot fail.
    public init(_ iterator: AnyIterator<Batch>) { step = { iterator.next() } }

    /// The next batch; nil after the last; throws when the batch cannot be made.
    public func next() throws -> Batch? { try step() }
}

/// Batches held in memory, served in the same order every epoch.
///
/// ```swift
/// let source = BatchList([batch1, batch2])
/// try trainer.fit(module, train: source)
/// ```
public final class BatchList: BatchSource {
    public let items: [Batch]
    public init(_ items: [Batch]) { self.items = items }
    public var batchesPerEpoch: Int { items.count }
    public func batches(epoch: Int, startingAt start: Int) -> AnyIterator<Batch> {
        var index = start
        return AnyIterator {
            guard index < self.items.count else { return nil }
            defer { index += 1 }
            return self.items[index]
        }
    }
}

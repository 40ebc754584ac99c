/// A source of batches the `Trainer` iterates: a fixed number of batches per epoch, produced in
/// a deterministic order for a given epoch, and able to start mid-epoch (for resuming).
///
/// `DataLoader` (in SSLData) is the usual one; `BatchList` serves batches held in memory.
public protocol BatchSource: AnyObject {
    /// The number of batches one epoch yields.
    var batchesPerEpoch: Int { get }
    /// The batches of `epoch` from batch index `start` on (0 starts the epoch).
    func batches(epoch: Int, startingAt start: Int) -> AnyIterator<Batch>
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

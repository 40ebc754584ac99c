import SSLDistributed

/// How a `Trainer` spreads a fit over processes.
///
/// - `singleProcess`: one process, no communication at all (the default).
/// - `dataParallel(communicator)`: every rank runs the same fit on its share of each batch
///   (`ShardableBatchSource`; `batchSize` stays the global batch), from rank 0's initial
///   weights, with gradients averaged over the ranks in buckets during backward
///   (`GradientSynchronizer`), the loss and epoch metrics reduced across ranks, and only rank 0
///   writing logs, reports and checkpoints. Validation is split over the ranks too
///   (`Trainer.evaluationCommunicator`). An error on any rank ends the job
///   (`Communicator.abort`, MPI_Abort under Open MPI), never a hang.
///
/// ```swift
/// let communicator = try Communicators.fromEnvironment()
/// let trainer = Trainer(maxEpochs: 100, strategy: .dataParallel(communicator))
/// ```
public enum TrainingStrategy {
    case singleProcess
    case dataParallel(any Communicator, bucketBytes: Int = 25 << 20, overlapsWithBackward: Bool = true)

    /// The communicator of this strategy (world size 1 for a single process).
    public var communicator: any Communicator {
        switch self {
        case .singleProcess: return SingleProcessCommunicator()
        case .dataParallel(let communicator, _, _): return communicator
        }
    }
}

import Foundation
import SSLDistributed
import SSLNN
import SSLTensor

/// The data-parallel parts of a fit (`TrainingStrategy.dataParallel`). With one rank every
/// function here returns at once without communicating.
extension Trainer {
    var isDistributed: Bool { communicator.worldSize > 1 }

    /// Runs `body`; in a data-parallel fit an error ends the whole job (every rank) with the
    /// error on this rank's standard error, so no rank waits forever for one that stopped.
    func endingJobOnError<Result>(_ body: () throws -> Result) rethrows -> Result {
        guard isDistributed else { return try body() }
        do {
            return try body()
        } catch {
            communicator.abort("\(name): rank \(communicator.rank) of \(communicator.worldSize) failed: \(error)", code: 1)
        }
    }

    /// This rank's share of the training batches.
    func distributedTrainSource(_ train: BatchSource) throws -> BatchSource {
        guard isDistributed else { return train }
        guard let shardable = train as? ShardableBatchSource else {
            throw TrainingError.invalidConfiguration("data-parallel training needs a train source that can be split over the ranks (a ShardableBatchSource such as DataLoader), got \(type(of: train))")
        }
        if shardable.shardCount == communicator.worldSize { return train }
        guard shardable.shardCount == 1 else {
            throw TrainingError.invalidConfiguration("the train source is already split into \(shardable.shardCount) shards, but there are \(communicator.worldSize) ranks")
        }
        do {
            return try shardable.shard(communicator.rank, of: communicator.worldSize)
        } catch let error as ShardingError {
            throw TrainingError.invalidConfiguration(error.description)
        }
    }

    /// This rank's share of the validation batches: every batch split over the ranks (equal
    /// parts when it divides, else parts differing by one sample), so each validation sample is
    /// evaluated once and the sample-weighted epoch metrics are those of one process. A source
    /// that cannot be split (not a `ShardableBatchSource`, or a batch smaller than the ranks)
    /// is evaluated whole on every rank, which gives the same metrics with redundant work.
    /// Returns the source and the communicator its batches are split over
    /// (`evaluationCommunicator`).
    func distributedValidationSource(_ validation: BatchSource) -> (source: BatchSource, splitOver: any Communicator) {
        let whole: (BatchSource, any Communicator) = (validation, SingleProcessCommunicator())
        guard isDistributed, let shardable = validation as? ShardableBatchSource, shardable.shardCount == 1 else { return whole }
        guard let shard = try? shardable.evaluationShard(communicator.rank, of: communicator.worldSize) else { return whole }
        return (shard, communicator)
    }

    /// The checkpoint to resume from, located by rank 0 and the same on every rank.
    func locateCheckpointEverywhere(_ source: ResumeSource) throws -> String {
        guard isDistributed else { return try locateCheckpoint(source) }
        var located = ""
        if communicator.isRoot {
            do { located = "ok:" + (try locateCheckpoint(source)) } catch { located = "error:\(error)" }
        }
        located = communicator.broadcast(located, root: 0)
        guard located.hasPrefix("ok:") else {
            throw TrainingError.checkpointNotFound("rank 0 could not locate the checkpoint: \(located.dropFirst(6))")
        }
        let path = String(located.dropFirst(3))
        guard FileManager.default.fileExists(atPath: path) else {
            throw TrainingError.checkpointNotFound("\(path) (located by rank 0) is not readable on rank \(communicator.rank): the run directory must be on a file system every rank sees")
        }
        return path
    }

    /// Rank 0's parameters and buffers (BatchNorm statistics, counters) on every rank.
    func synchronizeInitialState(_ module: TrainableModule) {
        guard isDistributed else { return }
        for (_, component) in module.componentModules {
            for (_, tensor) in component.namedParameters() { communicator.broadcast(tensor, root: 0) }
            for (_, tensor, _) in component.namedBuffers() { communicator.broadcast(tensor, root: 0) }
        }
    }

    /// Sets up the gradient buckets for the module's optimised parameters.
    func prepareGradientSynchronizer(_ module: TrainableModule) {
        guard isDistributed, case .dataParallel(_, let bucketBytes, _) = strategy else {
            gradientSynchronizer = nil
            return
        }
        let parameters = module.optimizers.flatMap(\.parameters).filter(\.requiresGrad)
        gradientSynchronizer = GradientSynchronizer(parameters: parameters, communicator: communicator, bucketBytes: bucketBytes)
    }

    /// The mean of the ranks' losses (NaN when any is), so every rank takes the same decision
    /// on a non-finite loss and logs the global loss.
    func globalLoss(_ value: Float) -> Float {
        guard isDistributed else { return value }
        var values = [value]
        communicator.allReduceMean(&values)
        return values[0]
    }

    /// Backward; at an optimizer step's boundary in a data-parallel fit, each gradient bucket's
    /// all-reduce starts as soon as its gradients are complete (or, without overlap, after).
    func backward(_ loss: Tensor, synchronizing: Bool) {
        guard synchronizing, let synchronizer = gradientSynchronizer,
              case .dataParallel(_, _, let overlaps) = strategy, overlaps else {
            loss.backward()
            return
        }
        synchronizer.resetStatistics()
        loss.backward(onLeafGradientReady: synchronizer.gradientReady)
    }

    /// Waits for the gradient all-reduces and leaves the mean gradients in place.
    func finishGradientSynchronization() {
        gradientSynchronizer?.finish()
    }

    /// Whether any rank wants to stop (a time limit, a callback), so all stop at the same step.
    func agreeOnStop(_ stop: Bool) -> Bool {
        guard isDistributed else { return stop }
        var flag = [stop ? 1 : 0]
        communicator.allReduce(&flag, .max)
        return flag[0] > 0
    }

    /// Replaces each epoch aggregate by its sum over the ranks (totals and sample weights), so
    /// epoch means are weighted by the samples of every rank. Only during a fit (every rank runs
    /// it); every rank must have logged the same names.
    func reduceEpochMetrics() throws {
        guard isDistributed, fitStart != nil else { return }
        let names = collector.epochSums.keys.sorted()
        var counts = [names.count, -names.count]
        communicator.allReduce(&counts, .max)
        guard counts[0] == -counts[1] else {
            throw TrainingError.invalidConfiguration("ranks logged different numbers of epoch metrics (\(-counts[1]) to \(counts[0]); rank \(communicator.rank): \(names.joined(separator: ", "))); log the same names on every rank")
        }
        var values = names.flatMap { name -> [Float] in
            let sums = collector.epochSums[name] ?? (0, 0)
            return [Float(sums.total), Float(sums.weight)]
        }
        communicator.allReduce(&values, .sum)
        for (index, name) in names.enumerated() {
            collector.epochSums[name] = (Double(values[2 * index]), Double(values[2 * index + 1]))
        }
    }
}

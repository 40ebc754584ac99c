/// Collects what `SSLModule.log` records during a loop: the latest per-step values and the
/// running (batch-size weighted) means per epoch, as Lightning aggregates `self.log` calls.
/// A value logged both per step and per epoch appears as `name_step` and `name_epoch`
/// (the epoch mean is also available as `name` to monitors).
final class MetricCollector: LogSink {
    fileprivate(set) var stepValues: [String: Float] = [:]
    var epochSums: [String: (total: Double, weight: Double)] = [:]  // set by the data-parallel reduction too
    private(set) var progressBarValues: [String: Float] = [:]
    fileprivate(set) var epochNames: [String: String] = [:]   // aggregate key → key to report

    func record(_ name: String, _ value: Float, onStep: Bool, onEpoch: Bool, progressBar: Bool, batchSize: Int?) {
        let both = onStep && onEpoch
        if onStep { stepValues[both ? "\(name)_step" : name] = value }
        if onEpoch {
            let weight = Double(batchSize ?? 1)
            let current = epochSums[name] ?? (0, 0)
            epochSums[name] = (current.total + Double(value) * weight, current.weight + weight)
            epochNames[name] = both ? "\(name)_epoch" : name
        }
        if progressBar { progressBarValues[name] = value }
    }

    /// The per-step values since the last call, then forgets them.
    func takeStepValues() -> [String: Float] {
        defer { stepValues = [:] }
        return stepValues
    }

    /// The epoch means (under their reported names) and the plain-name aliases for monitors;
    /// then resets the epoch aggregates.
    func takeEpochValues() -> (reported: [String: Float], aliases: [String: Float]) {
        var reported: [String: Float] = [:], aliases: [String: Float] = [:]
        for (name, sums) in epochSums where sums.weight > 0 {
            let mean = Float(sums.total / sums.weight)
            reported[epochNames[name] ?? name] = mean
            aliases[name] = mean
        }
        epochSums = [:]
        epochNames = [:]
        return (reported, aliases)
    }

    func resetProgressBar() { progressBarValues = [:] }
}

// MARK: - Checkpointed state

extension MetricCollector {
    /// What a checkpoint keeps of the collector, so a run resumed mid-epoch reports the same
    /// epoch means (and the same pending step row) as one never interrupted.
    struct SavedState: Codable, Sendable, Equatable {
        var stepValues: [String: Float]
        /// Each epoch aggregate as [total, weight], with the name it is reported under.
        var epochSums: [String: [Double]]
        var epochNames: [String: String]
    }

    var savedState: SavedState {
        SavedState(stepValues: stepValues, epochSums: epochSums.mapValues { [$0.total, $0.weight] }, epochNames: epochNames)
    }

    /// A collector holding `state`, or nil when its aggregates are malformed.
    convenience init?(savedState state: SavedState) {
        self.init()
        for (name, pair) in state.epochSums {
            guard pair.count == 2, pair[0].isFinite, pair[1].isFinite, pair[1] >= 0 else { return nil }
            epochSums[name] = (pair[0], pair[1])
        }
        stepValues = state.stepValues
        epochNames = state.epochNames
    }

    /// Takes over another collector's values (the module keeps pointing at this one).
    func restore(from other: MetricCollector) {
        stepValues = other.stepValues
        epochSums = other.epochSums
        epochNames = other.epochNames
    }
}

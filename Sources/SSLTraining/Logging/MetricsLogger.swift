/// A destination for logged metrics (CSV, JSON lines, …). The Trainer calls it with the values
/// of a step or an epoch, tagged with the global step and epoch.
public protocol MetricsLogger: AnyObject {
    /// Records hyperparameters once per fit.
    func logHyperparameters(_ values: [String: String]) throws
    /// Records one row of metrics.
    func logMetrics(_ metrics: [String: Float], step: Int, epoch: Int) throws
    /// Writes anything buffered (called at epoch ends, before every checkpoint, and when a fit
    /// ends or fails).
    func flush() throws
    /// Keeps only the first `count` rows (a resumed run drops the rows logged after its
    /// checkpoint, then logs them again). The default keeps everything.
    func truncate(toRowCount count: Int) throws
}

extension MetricsLogger {
    public func truncate(toRowCount count: Int) throws {}
}

/// One logged row: the values of a step or an epoch.
public struct MetricRecord: Sendable, Equatable {
    public let step: Int
    public let epoch: Int
    public let values: [String: Float]

    public init(step: Int, epoch: Int, values: [String: Float]) {
        self.step = step
        self.epoch = epoch
        self.values = values
    }
}

/// Where `SSLModule.log` sends values while a loop runs; the Trainer provides one.
protocol LogSink: AnyObject {
    /// Records `value` under `name` for the current step and/or epoch aggregate.
    func record(_ name: String, _ value: Float, onStep: Bool, onEpoch: Bool, progressBar: Bool, batchSize: Int?)
}

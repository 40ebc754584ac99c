import Foundation
import SSLNN
import SSLOptim
import SSLTensor

extension Trainer {
    // MARK: - Evaluation loops

    /// Runs the validation loop once and returns the epoch means of what was logged.
    @discardableResult
    public func validate(_ module: TrainableModule, data: BatchSource) throws -> [String: Float] {
        try standalone(module, stage: .validate, data: data)
    }

    /// Runs the test loop once and returns the epoch means of what was logged.
    @discardableResult
    public func test(_ module: TrainableModule, data: BatchSource) throws -> [String: Float] {
        try standalone(module, stage: .test, data: data)
    }

    /// Runs the forward closure in `.predict` on every batch (evaluation mode, no gradients)
    /// and returns the outputs.
    public func predict(_ module: TrainableModule, data: BatchSource) throws -> [Batch] {
        activeCallbacks = callbackList(for: module)
        activeModule = module
        runningStage = .predict
        defer { activeModule = nil; runningStage = nil }
        module.eval()
        (module as? LoggingModule)?.currentStage = .predict
        try hook { try $0.onPredictStart(self, module) }
        var outputs: [Batch] = []
        let iterator = data.throwingBatches(epoch: 0, startingAt: 0)
        var index = 0
        while let batch = try iterator.next() {
            let output = try noGrad { try module.forward(batch, stage: .predict) }
            try hook { try $0.onPredictBatchEnd(self, module, outputs: output, batch: batch, batchIndex: index) }
            outputs.append(output)
            index += 1
        }
        try hook { try $0.onPredictEnd(self, module) }
        return outputs
    }

    func standalone(_ module: TrainableModule, stage: Stage, data: BatchSource) throws -> [String: Float] {
        activeCallbacks = callbackList(for: module)
        activeModule = module
        collector = MetricCollector()
        let logging = module as? LoggingModule
        logging?.logSink = collector
        defer { logging?.logSink = nil; activeModule = nil; runningStage = nil }
        return try runEvaluation(module, data: data, stage: stage,
                                 limit: limitValBatches.map { $0.apply(to: data.batchesPerEpoch) }, log: false)
    }

    /// One pass over `data` in evaluation mode without gradients; returns the logged epoch means.
    func runEvaluation(_ module: TrainableModule, data: BatchSource, stage: Stage, limit: Int?, log: Bool) throws
        -> [String: Float]
    {
        runningStage = stage
        module.eval()
        (module as? LoggingModule)?.currentStage = stage
        let validating = stage == .validate
        try hook { try validating ? $0.onValidationStart(self, module) : $0.onTestStart(self, module) }
        if validating { try hook { try $0.onValidationEpochStart(self, module) } }
        let count = Swift.min(limit ?? data.batchesPerEpoch, data.batchesPerEpoch)
        let iterator = data.throwingBatches(epoch: 0, startingAt: 0)
        var index = 0
        while index < count, let batch = try iterator.next() {
            if validating { try hook { try $0.onValidationBatchStart(self, module, batch: batch, batchIndex: index) } }
            let output = try noGrad { try module.forward(batch, stage: stage) }
            if validating {
                try hook { try $0.onValidationBatchEnd(self, module, outputs: output, batch: batch, batchIndex: index) }
            } else {
                try hook { try $0.onTestBatchEnd(self, module, outputs: output, batch: batch, batchIndex: index) }
            }
            index += 1
        }
        if validating { try hook { try $0.onValidationEpochEnd(self, module) } }
        try reduceEpochMetrics()
        let values = collector.takeEpochValues()
        if log {
            try record(values.reported, aliases: values.aliases)
        } else if !isSanityChecking {
            for (key, value) in values.reported { callbackMetrics[key] = value }
            for (key, value) in values.aliases { callbackMetrics[key] = value }
        }
        try hook { try validating ? $0.onValidationEnd(self, module) : $0.onTestEnd(self, module) }
        var result = values.reported
        for (key, value) in values.aliases { result[key] = value }
        return result
    }
}

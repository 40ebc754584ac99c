import Foundation

/// Writes the run's `report.html` (see `HTMLReport`: a chart per metric, the hyperparameters,
/// the last values, and any added sections) into the run directory when a fit ends, and when
/// it fails, so a stopped run still has its report. The Trainer adds one automatically when
/// logging is on; give one in `callbacks` to add sections or to place it.
///
/// ```swift
/// let report = HTMLReportWriter()
/// report.sections.append((title: "Embeddings", svg: EmbeddingMap.svg(…)))
/// let trainer = Trainer(maxEpochs: 10, callbacks: [report])
/// ```
public final class HTMLReportWriter: Callback {
    /// Sections shown after the charts, in order.
    public var sections: [(title: String, svg: String)]

    public init(sections: [(title: String, svg: String)] = []) {
        self.sections = sections
    }

    public func onFitEnd(_ trainer: Trainer, _ module: TrainableModule) throws {
        try write(trainer)
    }

    public func onException(_ trainer: Trainer, _ module: TrainableModule, error: Error) {
        try? write(trainer)
    }

    /// Writes `report.html` for `trainer`'s run now, with `extraSections` after this writer's
    /// own (a recipe adds its final evaluation this way). Does nothing without a run directory.
    public func write(_ trainer: Trainer, extraSections: [(title: String, svg: String)] = []) throws {
        guard let directory = trainer.runDirectory else { return }
        var report = HTMLReport(title: "\(trainer.name) — \((directory as NSString).lastPathComponent)",
                                records: trainer.metricsHistory, hyperparameters: trainer.trainerHyperparameters)
        for section in sections + extraSections { report.addSection(title: section.title, svg: section.svg) }
        try report.write(to: (directory as NSString).appendingPathComponent("report.html"))
    }
}

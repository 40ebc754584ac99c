import Foundation
import SSLMethods
import SSLNN
import SSLTensor
import SSLTraining

/// The end of a recipe: offline kNN and linear-probe accuracy of the encoder on the test split
/// (train features as the bank), RankMe, a 2-D map of the test embeddings in the report, the
/// encoder exported as safetensors, and the three closing lines
/// `knn-accuracy <a>`, `linear-probe-accuracy <a>`, `wall-seconds <s>`.
public enum RecipeEvaluation {
    public static func finish(trainer: Trainer, encoder: Module, setup: RecipeSetup, start: Date) throws {
        let train = OfflineEvaluation.extractFeatures(encoder, from: setup.trainEvaluationLoader)
        let test = OfflineEvaluation.extractFeatures(encoder, from: setup.testEvaluationLoader)
        let knn = OfflineEvaluation.knnAccuracy(train: train, test: test, k: 20, temperature: 0.07)
        let linear = OfflineEvaluation.linearProbeAccuracy(train: train, test: test)
        let rank = effectiveRank(test.features)
        if let directory = trainer.runDirectory {
            try SafeTensors.write(encoder.stateDict(), to: (directory as NSString).appendingPathComponent("encoder.safetensors"),
                                  metadata: ["format": "pt", "features": String(test.features.shape[1])])
            let writer = trainer.callbacks.compactMap { $0 as? HTMLReportWriter }.first ?? HTMLReportWriter()
            try writer.write(trainer, extraSections: [
                (title: "Test embeddings (first two principal components, coloured by class)",
                 svg: EmbeddingMap.svg(features: test.features, labels: test.labels, classCount: setup.classCount)),
                (title: "Final evaluation", svg: EmbeddingMap.textPanel([
                    "kNN accuracy (k 20): \(String(format: "%.4f", knn))",
                    "linear-probe accuracy: \(String(format: "%.4f", linear))",
                    "RankMe: \(String(format: "%.1f", rank)) of \(test.features.shape[1])",
                ])),
            ])
            writeLine("written to \(directory): report.html, metrics.csv, checkpoints/last.safetensors, encoder.safetensors")
        }
        writeLine("rankme \(String(format: "%.2f", rank))")
        writeLine("knn-accuracy \(String(format: "%.4f", knn))")
        writeLine("linear-probe-accuracy \(String(format: "%.4f", linear))")
        writeLine("wall-seconds \(String(format: "%.1f", Date().timeIntervalSince(start)))")
        for case let checkpoint as ModelCheckpoint in trainer.callbacks {
            if let failure = checkpoint.writeFailure {
                writeLine("warning: \(failure.count) checkpoint write\(failure.count == 1 ? "" : "s") failed (--checkpoint-failure warn); the first: \(failure.message)")
            }
        }
    }
}

import Foundation
import SSLMethods
import SSLNN
import SSLTensor
import SSLTraining

/// The end of a recipe: offline kNN and linear-probe accuracy of the encoder on the test split
/// (train features as the bank), RankMe and the centred effective rank (see
/// `effectiveRank(_:centered:eps:)`), a 2-D map of the test embeddings in the report, the
/// encoder exported as safetensors, and the closing lines `rankme <r>`, `effective-rank <r>`,
/// `knn-accuracy <a>`, `linear-probe-accuracy <a>`, `wall-seconds <s>` (the last three always
/// last). With `--epochs 0` these are the numbers of the encoder at initialisation.
public enum RecipeEvaluation {
    public static func finish(trainer: Trainer, encoder: Module, setup: RecipeSetup, start: Date) throws {
        guard trainer.communicator.isRoot else { return }  // data parallel: rank 0 evaluates and writes
        let train = try OfflineEvaluation.extractFeatures(encoder, from: setup.trainEvaluationLoader)
        let test = try OfflineEvaluation.extractFeatures(encoder, from: setup.testEvaluationLoader)
        // An unlabelled folder has nothing to classify: no kNN or probe.
        let knn = setup.isLabelled ? OfflineEvaluation.knnAccuracy(train: train, test: test, k: 20, temperature: 0.07) : nil
        let linear = setup.isLabelled ? OfflineEvaluation.linearProbeAccuracy(train: train, test: test) : nil
        func format(_ accuracy: Float?) -> String {
            accuracy.map { String(format: "%.4f", $0) } ?? "n/a (unlabelled: no class sub-folders)"
        }
        let rank = effectiveRank(test.features)
        let centeredRank = effectiveRank(test.features, centered: true)
        if let directory = trainer.runDirectory {
            try SafeTensors.write(encoder.stateDict(), to: (directory as NSString).appendingPathComponent("encoder.safetensors"),
                                  metadata: ["format": "pt", "features": String(test.features.shape[1])])
            let writer = trainer.callbacks.compactMap { $0 as? HTMLReportWriter }.first ?? HTMLReportWriter()
            var pictures: [(title: String, svg: String)] = []
            if let views = trainer.callbacks.compactMap({ $0 as? FirstBatchViews }).first {
                pictures.append((title: "What the model is asked to match: augmented views of the first batch",
                                 svg: RunPictures.viewPairs(views, mean: setup.normalization.mean, std: setup.normalization.std)))
            }
            pictures.append((title: "Nearest training images of a few test images",
                             svg: RunPictures.neighbourRows(train: train, test: test, trainImages: setup.train, testImages: setup.test,
                                                            classNames: setup.classNames)))
            try writer.write(trainer, extraSections: pictures + [
                (title: "Test embeddings (first two principal components, coloured by class)",
                 svg: EmbeddingMap.svg(features: test.features, labels: test.labels, classCount: setup.classCount,
                                       classNames: setup.classNames)),
                (title: "Final evaluation", svg: EmbeddingMap.textPanel([
                    "kNN accuracy (k 20): \(format(knn))",
                    "linear-probe accuracy: \(format(linear))",
                    "RankMe: \(String(format: "%.1f", rank)) of \(test.features.shape[1])",
                    "effective rank (centred): \(String(format: "%.1f", centeredRank)) of \(test.features.shape[1])",
                ])),
            ])
            writeLine("written to \(directory): report.html, metrics.csv, checkpoints/last.safetensors, encoder.safetensors")
        }
        writeLine("rankme \(String(format: "%.2f", rank))")
        writeLine("effective-rank \(String(format: "%.2f", centeredRank))")
        writeLine("knn-accuracy \(format(knn))")
        writeLine("linear-probe-accuracy \(format(linear))")
        writeLine("wall-seconds \(String(format: "%.1f", Date().timeIntervalSince(start)))")
        for case let checkpoint as ModelCheckpoint in trainer.callbacks {
            if let failure = checkpoint.writeFailure {
                writeLine("warning: \(failure.count) checkpoint write\(failure.count == 1 ? "" : "s") failed (--checkpoint-failure warn); the first: \(failure.message)")
            }
        }
    }
}

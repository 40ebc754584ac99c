// BYOL: a student (backbone + projector + predictor) regresses an EMA teacher's projection of
// another view; no negatives. Grill et al. 2020, https://arxiv.org/abs/2006.07733
//
//   swift run -c release byol --help
//   swift run -c release byol --dataset fashion-mnist --epochs 4
import Foundation
import SelfSupervised
import SSLRecipes

let start = Date()
let options = RecipeOptions.parseOrExit(Array(CommandLine.arguments.dropFirst()), method: .byol)
do {
    let setup = try RecipeSetup(options)

    struct Parts {
        let encoder: TeacherStudentModule<Sequential>   // backbone + projector, with its EMA teacher
        let predictor: MLP
        let loss = BYOLLoss()
    }
    let (backbone, features) = ParameterInitialization.withSeed(options.seed) { setup.makeBackbone(options.backbone) }
    let parts = ParameterInitialization.withSeed(options.seed &+ 1) {
        Parts(encoder: TeacherStudentModule(student: Sequential([backbone, MLP([features, 1024, 256], batchNorm: true)]),
                                            baseEMACoefficient: options.emaBase, finalEMACoefficient: options.emaFinal,
                                            schedule: .perStep),
              predictor: MLP([256, 1024, 256], batchNorm: true))
    }
    // The teacher's backbone is the encoder that is evaluated (and what the probes see).
    let teacherBackbone = parts.encoder.teacher.layers[0], teacherProjector = parts.encoder.teacher.layers[1]

    let module = SSLModule(parts, optimizer: options.optimizerSpec) { m, batch, stage in
        var out = batch
        let embedding = noGrad { teacherBackbone(batch["image"]) }
        out["embedding"] = embedding
        if stage == .fit {
            let index = batch[integers: "sample_idx"]
            let predictions = foldViews(m.predictor(m.encoder.forwardStudent(batch["image"])), sampleIndex: index)
            // The teacher's projection of the embedding above: forwardTeacher without a second backbone pass.
            let targets = foldViews(noGrad { teacherProjector(embedding) }, sampleIndex: index)
            out["loss"] = m.loss(predictions: (predictions[0], predictions[1]), targets: (targets[0], targets[1]))
        }
        return out
    }

    let trainer = setup.makeTrainer(name: "byol", features: features, hyperparameters: ["ema_base": String(options.emaBase), "ema_final": String(options.emaFinal)])
    try trainer.fit(module, train: setup.trainLoader, validation: setup.validationLoader, resumeFrom: options.resumeSource)
    try RecipeEvaluation.finish(trainer: trainer, encoder: teacherBackbone, setup: setup, start: start)
} catch {
    FileHandle.standardError.write(Data("byol: \(error)\n".utf8))
    exit(1)
}

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
        let backbone: TeacherStudentModule<Module>      // each with its EMA teacher
        let projector: TeacherStudentModule<MLP>
        let predictor: MLP
        let loss = BYOLLoss()
    }
    let (backbone, features) = ParameterInitialization.withSeed(options.seed) { setup.makeBackbone(options.backbone) }
    let parts = try ParameterInitialization.withSeed(options.seed &+ 1) {
        let projector = MLP([features, 1024, 256], batchNorm: true)
        return try Parts(backbone: TeacherStudentModule(student: backbone, baseEMACoefficient: options.emaBase,
                                                        finalEMACoefficient: options.emaFinal, schedule: .perStep),
                         projector: TeacherStudentModule(student: projector, baseEMACoefficient: options.emaBase,
                                                         finalEMACoefficient: options.emaFinal, schedule: .perStep),
                         predictor: MLP([256, 1024, 256], batchNorm: true))
    }

    let module = SSLModule(parts, optimizer: options.optimizerSpec) { m, batch, stage in
        var out = batch
        let embedding = m.backbone.forwardTeacher(batch["image"])   // the teacher's backbone is the encoder evaluated
        out["embedding"] = embedding
        if stage == .fit {
            let index = batch[integers: "sample_idx"]
            let predictions = foldViews(m.predictor(m.projector.forwardStudent(m.backbone.forwardStudent(batch["image"]))),
                                        sampleIndex: index)
            let targets = foldViews(m.projector.forwardTeacher(embedding), sampleIndex: index)
            out["loss"] = m.loss(predictions: (predictions[0], predictions[1]), targets: (targets[0], targets[1]))
        }
        return out
    }

    let trainer = setup.makeTrainer(name: "byol", features: features, hyperparameters: ["ema_base": String(options.emaBase), "ema_final": String(options.emaFinal)],
                                    encoderKey: "backbone.teacher")
    try trainer.fit(module, train: setup.trainLoader, validation: setup.validationLoader, resumeFrom: options.resumeSource)
    try RecipeEvaluation.finish(trainer: trainer, encoder: parts.backbone.teacher, setup: setup, start: start)
} catch {
    FileHandle.standardError.write(Data("byol: \(error)\n".utf8))
    exit(1)
}

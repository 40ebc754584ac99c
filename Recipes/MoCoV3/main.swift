// MoCo v3: the query encoder (backbone + projector + predictor) predicts, for each view, the
// momentum (key) encoder's projection of the other view among the batch's keys (InfoNCE).
// Chen, Xie, He 2021, https://arxiv.org/abs/2104.02057
// Follows the official implementation, https://github.com/facebookresearch/moco-v3 (moco/builder.py).
//
// Where the paper, the official code and this recipe differ:
// - Loss: `MoCoV3Loss`, the code's ctr_loss(q1, k2) + ctr_loss(q2, k1), each scaled by 2τ (the
//   paper's pseudocode has no factor); τ 0.2 (the code's ViT setting; its ResNet one is 1.0).
// - Projector: three Linear layers without biases, BatchNorm + ReLU between and a BatchNorm
//   without affine parameters last, as the paper and the code's ViT head (its ResNet head has
//   two); the predictor as the code: two, no BatchNorm last. 1024 hidden, 256 out (the code's
//   4096/256), as the other recipes' 1024-wide heads.
// - Momentum: cosine from 0.99 to 1 over the steps, as the code; the teacher updates after
//   each optimizer step (the code before each forward: the same updates, the schedule one
//   step earlier here).
// - Both views go through each encoder as one batch (BatchNorm statistics over both views);
//   the code forwards the views separately. Negatives are the batch's other keys (no queue).
// - The encoder evaluated and exported is the query (base) encoder, as main_lincls.py.
// - Optimizer: the recipes' AdamW with cosine annealing; the code uses LARS (ResNet) or
//   AdamW with lr 1.5e-4·batch/256 and weight decay 0.1 (ViT), warm-up 10 or 40 epochs.
//
//   swift run -c release mocov3 --help
//   swift run -c release mocov3 --dataset fashion-mnist --epochs 4
import Foundation
import SelfSupervised
import SSLRecipes

let start = Date()
let options = RecipeOptions.parseOrExit(Array(CommandLine.arguments.dropFirst()), method: .mocov3)
do {
    let setup = try RecipeSetup(options)

    struct Parts {
        let backbone: TeacherStudentModule<Module>      // query (student) and momentum (teacher) encoders
        let projector: TeacherStudentModule<Sequential>
        let predictor: MLP
        let loss: MoCoV3Loss
    }
    let (backbone, features) = ParameterInitialization.withSeed(options.seed) { setup.makeBackbone(options.backbone) }
    let parts = try ParameterInitialization.withSeed(options.seed &+ 1) {
        func momentum<Network: Module>(_ query: Network) throws -> TeacherStudentModule<Network> {
            try TeacherStudentModule(student: query, baseEMACoefficient: options.emaBase, finalEMACoefficient: options.emaFinal,
                                     schedule: .perStep)
        }
        let projector = Sequential(MLP([features, 1024, 1024, 256], batchNorm: true, bias: false).layers
                                   + [BatchNorm1d(256, affine: false)])
        return try Parts(backbone: momentum(backbone), projector: momentum(projector),
                         predictor: MLP([256, 1024, 256], batchNorm: true, bias: false),
                         loss: MoCoV3Loss(temperature: options.temperature))
    }

    let module = SSLModule(parts, optimizer: options.optimizerSpec) { m, batch, stage in
        var out = batch
        let embedding = m.backbone.forwardStudent(batch["image"])   // the query encoder is the encoder evaluated
        out["embedding"] = embedding
        if stage == .fit {
            let index = batch[integers: "sample_idx"]
            let queries = foldViews(m.predictor(m.projector.forwardStudent(embedding)), sampleIndex: index)
            let keys = foldViews(m.projector.forwardTeacher(m.backbone.forwardTeacher(batch["image"])), sampleIndex: index)
            out["loss"] = m.loss(queries: (queries[0], queries[1]), keys: (keys[0], keys[1]))
        }
        return out
    }

    let trainer = setup.makeTrainer(name: "mocov3", features: features, hyperparameters: [
        "temperature": String(options.temperature), "ema_base": String(options.emaBase), "ema_final": String(options.emaFinal),
        "projector": "1024-1024-256", "predictor": "1024-256",
    ], encoderKey: "backbone.student")
    try trainer.fit(module, train: setup.trainLoader, validation: setup.validationLoader, resumeFrom: options.resumeSource)
    try RecipeEvaluation.finish(trainer: trainer, encoder: parts.backbone.student, setup: setup, start: start)
} catch {
    FileHandle.standardError.write(Data("mocov3: \(error)\n".utf8))
    exit(1)
}

// DINO: self-distillation with no labels. A student (backbone + DINO head) matches, on every
// crop, an EMA teacher's centred and sharpened distribution over prototypes for the other
// global crops; multi-crop: 2 global crops for both, `--local-crops` small ones for the student.
// Caron et al. 2021, https://arxiv.org/abs/2104.14294
// Follows the official implementation, https://github.com/facebookresearch/dino (main_dino.py).
//
// Where the paper, the official code and this recipe differ:
// - Loss: `DINOLoss` as the code (student temperature 0.1, centre momentum 0.9, the teacher
//   temperature from 0.04 to 0.07); the warm-up runs over the first 30% of the steps, where
//   the code counts epochs (30 in its recommended ViT settings) on far longer runs.
// - Head: `DINOHead` as the code (3 layers with GELU, bottleneck 256, L2-normalised,
//   weight-normalised last layer with its norm fixed), but 1024 hidden (the code's 2048) and
//   4096 prototypes (`--out-dim`; the code's 65536): on 2 cores the last layer's cost grows with
//   it, and Fashion-MNIST has 10 classes. BatchNorm before each GELU is on (`--bn-in-head off`
//   removes it; the code's `--use_bn_in_head` defaults to off, for ViTs): without it the
//   ConvNet's features narrowed to an effective rank of 29 of 128 in 4 epochs, under the
//   collapse criterion's 32 (docs/benchmarks.md, Recipe runs).
// - Crops: 2 global (scale 0.4–1) and 6 local (scale 0.05–0.4; the code's default is 8) at
//   96/224 of the image side (12 px on 28), with the recipes' flip and jitter; the code adds
//   blur and solarisation per crop. Each group of crops goes through the backbone as one batch
//   (as the code's MultiCropWrapper), the two global crops together.
// - Teacher: EMA from 0.996 to 1 (cosine over the steps, as the code); it is the encoder
//   evaluated and exported (as the code's eval_knn.py and eval_linear.py default).
// - Optimizer: the recipes' AdamW with a linear warm-up over the first 10% of the steps
//   (the code's 10 epochs of 100), then cosine; the code's lr is 5e-4·batch/256, its weight
//   decay 0.04 → 0.4, and it clips gradients at 3 and freezes the last layer in the first
//   epoch (on runs of a few epochs that would be most of them).
// - Short runs: DINO starts near uniform outputs (loss ≈ log K) and leaves them slowly; in
//   1–4 minutes on 2048 images it gains little kNN (Benchmarks/learning_checks.sh).
//
//   swift run -c release dino --help
//   swift run -c release dino --dataset fashion-mnist --epochs 4
import Foundation
import SelfSupervised
import SSLRecipes

let start = Date()
let options = RecipeOptions.parseOrExit(Array(CommandLine.arguments.dropFirst()), method: .dino)
do {
    let setup = try RecipeSetup(options)

    struct Parts {
        let backbone: TeacherStudentModule<Module>      // each with its EMA teacher
        let head: TeacherStudentModule<DINOHead>
        let loss: DINOLoss                              // holds the centre (checkpointed)
    }
    let (backbone, features) = ParameterInitialization.withSeed(options.seed) { setup.makeBackbone(options.backbone) }
    let parts = try ParameterInitialization.withSeed(options.seed &+ 1) {
        func ema<Network: Module>(_ student: Network) throws -> TeacherStudentModule<Network> {
            try TeacherStudentModule(student: student, baseEMACoefficient: options.emaBase, finalEMACoefficient: options.emaFinal,
                                     schedule: .perStep)
        }
        let head = DINOHead(inputFeatures: features, outputDimension: options.outputDimension, hiddenFeatures: 1024,
                            batchNorm: options.batchNormInHead)
        let loss = DINOLoss(outputDimension: options.outputDimension, studentTemperature: options.studentTemperature,
                            teacherTemperature: options.teacherTemperature,
                            warmupTeacherTemperature: options.warmupTeacherTemperature, centerMomentum: options.centerMomentum)
        return try Parts(backbone: ema(backbone), head: ema(head), loss: loss)
    }

    let module = SSLModule(parts, optimizer: options.optimizerSpec) { m, batch, stage in
        var out = batch
        let embedding = m.backbone.forwardTeacher(batch["image"])   // the teacher sees the global crops only
        out["embedding"] = embedding
        if stage == .fit {
            let globals = batch[integers: "sample_idx"]
            let teacher = foldViews(m.head.forwardTeacher(embedding), sampleIndex: globals)
            var student = foldViews(m.head.forwardStudent(m.backbone.forwardStudent(batch["image"])), sampleIndex: globals)
            if batch.contains("image_local") {
                let locals = m.head.forwardStudent(m.backbone.forwardStudent(batch["image_local"]))
                student += foldViews(locals, sampleIndex: batch[integers: "sample_idx_local"])
            }
            out["loss"] = m.loss(student: student, teacher: teacher)
        }
        return out
    }

    let trainer = setup.makeTrainer(name: "dino", features: features,
                                    hyperparameters: options.dinoHyperparameters(imageSize: setup.train.height),
                                    encoderKey: "backbone.teacher")
    try trainer.fit(module, train: setup.trainLoader, validation: setup.validationLoader, resumeFrom: options.resumeSource)
    try RecipeEvaluation.finish(trainer: trainer, encoder: parts.backbone.teacher, setup: setup, start: start)
} catch {
    FileHandle.standardError.write(Data("dino: \(error)\n".utf8))
    exit(1)
}

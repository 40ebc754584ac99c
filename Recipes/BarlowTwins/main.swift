// Barlow Twins: a backbone and a projector trained so that the cross-correlation matrix of two
// views' projections (each standardised over the batch) is close to the identity: the views
// agree on each dimension and the dimensions are redundancy-free; no negatives, no teacher.
// Zbontar, Jing, Misra, LeCun, Deny 2021, https://arxiv.org/abs/2103.03230
// Follows the official implementation, https://github.com/facebookresearch/barlowtwins (main.py).
//
// Where the paper, the official code and this recipe differ:
// - λ = 5e-3 as the paper (the code's default is 0.0051); no `scale-loss` factor (the code's
//   early versions multiplied the loss by 1/32; later ones dropped it).
// - Loss: as the code (`BarlowTwinsLoss`): each view through BatchNorm1d without affine
//   parameters (biased variance, eps 1e-5), c = z1ᵀz2 / N, Σ(cᵢᵢ − 1)² + λ·Σ_{i≠j} cᵢⱼ².
// - Projector: three Linear layers without biases, BatchNorm + ReLU between, as the code's
//   8192-8192-8192, but 1024 wide: 8× the ConvNet's 128 features (the code's ratio is 4×
//   ResNet-50's 2048; the paper finds wider better). As the vicreg recipe's expander: on 2
//   cores a step (ConvNet, batch 128) takes 0.53 s at 1024, 0.85 s at 2048, 5.3 s at 8192.
// - Augmentations: the recipes' shared, symmetric ones; the code's two views differ (blur
//   p 1.0 / 0.1, solarisation p 0 / 0.2).
// - Both views go through the backbone as one batch (as the simclr and byol recipes), so
//   BatchNorm statistics are over both views; the code forwards each view separately.
// - Optimizer: the recipes' AdamW with cosine annealing (`--optimizer lars` is there); the
//   code trains with LARS (lr 0.2·batch/256 for weights, 0.0048·batch/256 for biases and
//   BatchNorm, weight decay 1e-6 in the code and 1.5e-6 in the paper, batch 2048, 10 warm-up
//   epochs).
//   Over short runs a lower rate keeps the rank up (centred 47 at 5e-4 and batch 128, 26 at
//   the recipes' 2e-3 and batch 256; Benchmarks/learning_checks.sh).
//
//   swift run -c release barlowtwins --help
//   swift run -c release barlowtwins --dataset fashion-mnist --epochs 4
import Foundation
import SelfSupervised
import SSLRecipes

let start = Date()
let options = RecipeOptions.parseOrExit(Array(CommandLine.arguments.dropFirst()), method: .barlowtwins)
do {
    let setup = try RecipeSetup(options)

    struct Parts {
        let backbone: Module
        let projector: MLP
        let loss: BarlowTwinsLoss
    }
    let (backbone, features) = ParameterInitialization.withSeed(options.seed) { setup.makeBackbone(options.backbone) }
    let parts = ParameterInitialization.withSeed(options.seed &+ 1) {
        Parts(backbone: backbone, projector: MLP([features, 1024, 1024, 1024], batchNorm: true, bias: false),
              loss: BarlowTwinsLoss(lambda: options.lambda))
    }

    let module = SSLModule(parts, optimizer: options.optimizerSpec) { m, batch, stage in
        var out = batch
        out["embedding"] = m.backbone(batch["image"])
        if stage == .fit {
            let views = foldViews(m.projector(out["embedding"]), sampleIndex: batch[integers: "sample_idx"])
            out["loss"] = m.loss(views[0], views[1])
        }
        return out
    }

    let trainer = setup.makeTrainer(name: "barlowtwins", features: features,
                                    hyperparameters: ["lambda": String(options.lambda), "projector": "1024-1024-1024"])
    try trainer.fit(module, train: setup.trainLoader, validation: setup.validationLoader, resumeFrom: options.resumeSource)
    try RecipeEvaluation.finish(trainer: trainer, encoder: module.backbone, setup: setup, start: start)
} catch {
    FileHandle.standardError.write(Data("barlowtwins: \(error)\n".utf8))
    exit(1)
}

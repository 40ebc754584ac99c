// VICReg: a backbone and an expander trained so that two views' expansions agree (invariance),
// each dimension keeps a standard deviation of at least 1 over the batch (variance) and the
// dimensions are decorrelated (covariance); no negatives, no teacher.
// Bardes, Ponce, LeCun 2022, https://arxiv.org/abs/2105.04906
// Follows the official implementation, https://github.com/facebookresearch/vicreg (main_vicreg.py).
//
// Where the paper, the official code and this recipe differ (this recipe follows the code):
// - Invariance: the code's F.mse_loss, the mean over all N·D squared differences; the paper's
//   s(Z, Z') averages over the N samples only (D times larger at the same weight).
// - Variance: the code averages the two views' hinge terms (each /2); the paper's
//   μ·[v(Z) + v(Z')] sums them. Covariance: summed over the views in both. The rest as
//   `VICRegLoss`: weights 25/25/1, unbiased variance with eps 1e-4, covariance over N − 1.
// - Expander: three Linear layers with BatchNorm + ReLU between, as the code's
//   `Projector("8192-8192-8192")`, but 1024 wide: 8× the ConvNet's 128 features (the code's
//   ratio is 4× ResNet-50's 2048; the paper finds wider better, hence not 512). Measured on 2
//   cores (release, ConvNet, batch 128): a step takes 0.53 s at 1024, 0.85 s at 2048 and 5.3 s
//   at 8192, against SimCLR's 0.44 s. No biases: the code's hidden biases sit just before
//   BatchNorm, which removes them, and its last Linear has none.
// - Both views go through the backbone as one batch (as the simclr and byol recipes), so
//   BatchNorm statistics are over both views; the code forwards each view separately.
// - Optimizer: the recipes' AdamW with cosine annealing (`--optimizer lars` is there); the
//   code trains with LARS, lr 0.2·batch/256, weight decay 1e-6, 10 warm-up epochs.
//   Over short runs 1e-3 learns faster than the recipes' 2e-3 (Benchmarks/learning_checks.sh).
//
//   swift run -c release vicreg --help
//   swift run -c release vicreg --dataset fashion-mnist --epochs 4
import Foundation
import SelfSupervised
import SSLRecipes

let start = Date()
let options = RecipeOptions.parseOrExit(Array(CommandLine.arguments.dropFirst()), method: .vicreg)
do {
    let setup = try RecipeSetup(options)

    struct Parts {
        let backbone: Module
        let expander: MLP
        let loss: VICRegLoss
    }
    let (backbone, features) = ParameterInitialization.withSeed(options.seed) { setup.makeBackbone(options.backbone) }
    let parts = ParameterInitialization.withSeed(options.seed &+ 1) {
        Parts(backbone: backbone, expander: MLP([features, 1024, 1024, 1024], batchNorm: true, bias: false),
              loss: VICRegLoss(invarianceWeight: options.invarianceWeight, varianceWeight: options.varianceWeight,
                               covarianceWeight: options.covarianceWeight))
    }

    let module = SSLModule(parts, optimizer: options.optimizerSpec) { m, batch, stage in
        var out = batch
        out["embedding"] = m.backbone(batch["image"])
        if stage == .fit {
            let views = foldViews(m.expander(out["embedding"]), sampleIndex: batch[integers: "sample_idx"])
            out["loss"] = m.loss(views[0], views[1])
        }
        return out
    }

    let trainer = setup.makeTrainer(name: "vicreg", features: features, hyperparameters: [
        "invariance_weight": String(options.invarianceWeight), "variance_weight": String(options.varianceWeight),
        "covariance_weight": String(options.covarianceWeight), "expander": "1024-1024-1024",
    ])
    try trainer.fit(module, train: setup.trainLoader, validation: setup.validationLoader, resumeFrom: options.resumeSource)
    try RecipeEvaluation.finish(trainer: trainer, encoder: module.backbone, setup: setup, start: start)
} catch {
    FileHandle.standardError.write(Data("vicreg: \(error)\n".utf8))
    exit(1)
}

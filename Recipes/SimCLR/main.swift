// SimCLR: a backbone and a projector trained so that two augmented views of an image agree
// (NT-Xent over the batch). Chen et al. 2020, https://arxiv.org/abs/2002.05709
//
//   swift run -c release simclr --help
//   swift run -c release simclr --dataset fashion-mnist --epochs 4
import Foundation
import SelfSupervised
import SSLRecipes

let start = Date()
let options = RecipeOptions.parseOrExit(Array(CommandLine.arguments.dropFirst()), method: .simclr)
do {
    let setup = try RecipeSetup(options)

    struct Parts {
        let backbone: Module
        let projector: MLP
        let loss: NTXentLoss
    }
    let (backbone, features) = ParameterInitialization.withSeed(options.seed) { setup.makeBackbone(options.backbone) }
    let parts = ParameterInitialization.withSeed(options.seed &+ 1) {
        Parts(backbone: backbone, projector: MLP([features, 512, 128], batchNorm: true),
              loss: NTXentLoss(temperature: options.temperature, communicator: setup.communicator))
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

    let trainer = setup.makeTrainer(name: "simclr", features: features, hyperparameters: ["temperature": String(options.temperature)])
    try trainer.fit(module, train: setup.trainLoader, validation: setup.validationLoader, resumeFrom: options.resumeSource)
    try RecipeEvaluation.finish(trainer: trainer, encoder: module.backbone, setup: setup, start: start)
} catch {
    FileHandle.standardError.write(Data("simclr: \(error)\n".utf8))
    exit(1)
}

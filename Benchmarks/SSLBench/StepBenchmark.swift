import SSLMethods
import SSLNN
import SSLOptim
import SSLTensor
import SSLTraining

/// One full training step of SimCLR or BYOL, timed: forward of both views (as one batch of
/// 2×256 images: 1×28×28, or 3×32×32 for ResNet-18), loss, backward, AdamW step (lr 1e-3,
/// weight decay 1e-4) and, for BYOL, the teacher forward and the EMA update of parameters and
/// BatchNorm buffers (coefficient 0.996). Prints `step <case> <ms/step> <images/s>` (median of 7
/// steps after 2 warm-up steps; images count samples, not views). Benchmarks/step_pytorch.py
/// builds the identical models.
///
/// Arguments: case names (default: the MLP and ConvNet cases), `--batch B` (images per view,
/// default 256), `--steps S` (timed steps, default 7), `--threads T` (default: all cores) and
/// `--cpu-time` (time each step by the process's CPU time, not the wall clock: with
/// `--threads 1`, the time it actually had a core, the steadiest reading on a loaded machine).
func benchmarkTrainingSteps(arguments: [String]) throws {
    let allCases = ["simclr-mlp", "simclr-convnet", "byol-mlp", "byol-convnet", "simclr-resnet18", "byol-resnet18"]
    var requested: [String] = [], batchSize = 256, steps = 7, threads: Int?, cpuTime = false
    var remaining = arguments[...]
    while let argument = remaining.popFirst() {
        switch argument {
        case "--cpu-time": cpuTime = true
        case "--batch", "--steps", "--threads":
            guard let value = remaining.popFirst().flatMap({ Int($0) }), value > 0 else {
                throw BenchmarkError.invalidArgument("\(argument) needs a positive integer")
            }
            switch argument {
            case "--batch": batchSize = value
            case "--steps": steps = value
            default: threads = value
            }
        default:
            guard allCases.contains(argument) else {
                throw BenchmarkError.invalidArgument("unknown case \(argument); the cases are \(allCases.joined(separator: ", "))")
            }
            requested.append(argument)
        }
    }
    if requested.isEmpty { requested = Array(allCases.prefix(4)) }
    let context = threads.map { ComputeContext(threadCount: $0, bufferPool: ComputeContext.default.bufferPool) }
        ?? .default
    try ComputeContext.$current.withValue(context) {
        try runSteps(requested: requested, allCases: allCases, batchSize: batchSize, steps: steps, cpuTime: cpuTime)
    }
}

private func runSteps(requested: [String], allCases: [String], batchSize: Int, steps: Int, cpuTime: Bool) throws {
    var generator = RandomGenerator(seed: 0)
    var batches: [String: Batch] = [:]
    for name in allCases where requested.contains(name) {
        // Each case starts from an empty pool, as it would in its own process.
        ComputeContext.default.bufferPool.trim()
        let parts = name.split(separator: "-")
        let backbone: Module & FeatureCounting
        let imageShape: [Int]
        switch parts[1] {
        case "mlp": (backbone, imageShape) = (MLPBackbone(inputSize: 784, hiddenSizes: [1024, 1024]), [1, 28, 28])
        case "convnet": (backbone, imageShape) = (ConvNet(channels: [32, 64, 128], inputChannels: 1), [1, 28, 28])
        default: (backbone, imageShape) = (ResNet18(inputChannels: 3, stem: .lowResolution), [3, 32, 32])
        }
        let key = imageShape.map(String.init).joined(separator: "x")
        let batch = batches[key] ?? {
            var batch = Batch()
            batch["image"] = Tensor.uniform([2 * batchSize] + imageShape, generator: &generator)
            batch[integers: "sample_idx"] = IntTensor((0..<(2 * batchSize)).map { $0 % batchSize })
            return batch
        }()
        batches[key] = batch
        let step: () -> Void
        if parts[0] == "simclr" {
            step = makeSimCLRStep(backbone: backbone, batch: batch)
        } else {
            step = try makeBYOLStep(backbone: backbone, batch: batch)
        }
        let clock = ContinuousClock()
        for _ in 0..<2 { step() }
        var times: [Double] = []
        for _ in 0..<steps {
            if cpuTime {
                let start = processSeconds()
                step()
                times.append(processSeconds() - start)
            } else {
                let elapsed = clock.measure(step)
                times.append(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18)
            }
        }
        times.sort()
        let median = times[times.count / 2]
        print("step \(name) \(format(median * 1000)) \(format(Double(batchSize) / median))")
    }
}

/// Backbones that report their feature size.
protocol FeatureCounting { var outputFeatures: Int { get } }
extension MLPBackbone: FeatureCounting {}
extension ConvNet: FeatureCounting {}
extension ResNet18: FeatureCounting {}

/// A malformed command line.
enum BenchmarkError: Error, CustomStringConvertible {
    case invalidArgument(String)
    var description: String {
        switch self {
        case .invalidArgument(let message): return message
        }
    }
}

private func makeSimCLRStep(backbone: Module & FeatureCounting, batch: Batch) -> () -> Void {
    struct Parts {
        let backbone: Module
        let projector: MLP
        let loss = NTXentLoss(temperature: 0.5)
    }
    let module = SSLModule(Parts(backbone: backbone, projector: MLP([backbone.outputFeatures, 512, 128], batchNorm: true)),
                           optimizer: .adamW(learningRate: 1e-3, weightDecay: 1e-4, schedule: .constant)) { m, batch, _ in
        var out = batch
        let embedding = m.backbone(batch["image"])
        // Views are collated view-major: the first half of the batch is view 1.
        let views = m.projector(embedding).chunk(2, axis: 0)
        out["loss"] = m.loss(views)
        return out
    }
    return makeStep(module, batch: batch)
}

private func makeBYOLStep(backbone: Module & FeatureCounting, batch: Batch) throws -> () -> Void {
    struct Parts {
        let encoder: TeacherStudentModule<Sequential>
        let predictor: MLP
        let loss = BYOLLoss()
    }
    let features = backbone.outputFeatures
    let encoder = try TeacherStudentModule(student: Sequential([backbone, MLP([features, 1024, 256], batchNorm: true)]),
                                       baseEMACoefficient: 0.996, finalEMACoefficient: 0.996, schedule: .constant)
    let module = SSLModule(Parts(encoder: encoder, predictor: MLP([256, 1024, 256], batchNorm: true)),
                           optimizer: .adamW(learningRate: 1e-3, weightDecay: 1e-4, schedule: .constant)) { m, batch, _ in
        var out = batch
        // Views are collated view-major: the first half of the batch is view 1.
        let predictions = m.predictor(m.encoder.forwardStudent(batch["image"])).chunk(2, axis: 0)
        let targets = m.encoder.forwardTeacher(batch["image"]).chunk(2, axis: 0)
        out["loss"] = m.loss(predictions: (predictions[0], predictions[1]), targets: (targets[0], targets[1]))
        return out
    }
    return makeStep(module, batch: batch, afterStep: encoder.updateTeacher)
}

/// Forward, backward and an optimizer step of `module` on `batch`, then `afterStep`.
private func makeStep<Components>(_ module: SSLModule<Components>, batch: Batch, afterStep: @escaping () -> Void = {})
    -> () -> Void
{
    module.configureOptimizers(totalSteps: 1)
    module.train()
    return {
        let loss = (try? module.forward(batch, stage: .fit))?["loss"]
        loss?.backward()
        for configured in module.optimizers {
            configured.optimizer.step()
            configured.optimizer.zeroGrad()
        }
        afterStep()
    }
}

import SSLDistributed
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
///
/// Under `mpirun -np N` (a build with `--traits MPI`) the step is data-parallel, as the recipes
/// train: `--batch` stays the global images per view (each rank takes B/N), every BatchNorm is a
/// `SyncBatchNorm`, SimCLR's negatives come from every rank, rank 0's weights and buffers are
/// broadcast, and the gradients are averaged in 25 MiB buckets started during backward
/// (`--no-overlap`: all after backward). Threads per rank default to the host's cores over its
/// ranks. Rank 0 prints the slowest rank's step time and the global images/s, after a
/// `data-parallel` line. (`--cpu-time` there also counts the time MPI spends polling.)
///
///     mpirun -np 2 .build-mpi/release/ssl-bench step simclr-convnet        # against:
///     .build-mpi/release/ssl-bench step --threads 1 simclr-convnet
func benchmarkTrainingSteps(arguments: [String]) throws {
    let allCases = ["simclr-mlp", "simclr-convnet", "byol-mlp", "byol-convnet", "simclr-resnet18", "byol-resnet18"]
    var requested: [String] = [], batchSize = 256, steps = 7, threads: Int?, cpuTime = false, overlaps = true
    var remaining = arguments[...]
    while let argument = remaining.popFirst() {
        switch argument {
        case "--cpu-time": cpuTime = true
        case "--no-overlap": overlaps = false
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
    let communicator = try Communicators.fromEnvironment()
    if communicator.isDistributed {
        guard batchSize % communicator.worldSize == 0 else {
            throw BenchmarkError.invalidArgument("--batch \(batchSize) does not divide over \(communicator.worldSize) ranks")
        }
        threads = threads ?? Communicators.defaultThreadsPerRank(communicator)
    }
    let context = threads.map { ComputeContext(threadCount: $0, bufferPool: ComputeContext.default.bufferPool) }
        ?? .default
    if communicator.isDistributed && communicator.isRoot {
        print("data-parallel: \(communicator.worldSize) ranks, \(context.threadCount) threads each, global batch \(batchSize) per view, "
              + "gradient all-reduce \(overlaps ? "overlapping backward" : "after backward")")
    }
    let setup = StepSetup(communicator: communicator, overlaps: overlaps)
    try ComputeContext.$current.withValue(context) {
        try runSteps(requested: requested, allCases: allCases, batchSize: batchSize, steps: steps, cpuTime: cpuTime, setup: setup)
    }
}

/// How each rank takes part in a step: one process (no communication), or data-parallel.
private struct StepSetup {
    let communicator: any Communicator
    let overlaps: Bool
    /// The loss's communicator: gathered negatives when data-parallel.
    var lossCommunicator: (any Communicator)? { communicator.isDistributed ? communicator : nil }
}

private func runSteps(requested: [String], allCases: [String], batchSize globalBatchSize: Int, steps: Int, cpuTime: Bool,
                      setup: StepSetup) throws {
    let communicator = setup.communicator
    let batchSize = globalBatchSize / communicator.worldSize
    var generator = RandomGenerator(seed: UInt64(communicator.rank))
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
            step = makeSimCLRStep(backbone: backbone, batch: batch, setup: setup)
        } else {
            step = try makeBYOLStep(backbone: backbone, batch: batch, setup: setup)
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
        if communicator.isDistributed {  // the slowest rank's time of each step
            var slowest = times.map(Float.init)
            communicator.allReduce(&slowest, .max)
            times = slowest.map(Double.init)
        }
        times.sort()
        let median = times[times.count / 2]
        if communicator.isRoot {
            print("step \(name) \(format(median * 1000)) \(format(Double(globalBatchSize) / median))")
        }
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

private func makeSimCLRStep(backbone: Module & FeatureCounting, batch: Batch, setup: StepSetup) -> () -> Void {
    struct Parts {
        let backbone: Module
        let projector: MLP
        let loss: NTXentLoss
    }
    let parts = Parts(backbone: backbone, projector: MLP([backbone.outputFeatures, 512, 128], batchNorm: true),
                      loss: NTXentLoss(temperature: 0.5, communicator: setup.lossCommunicator))
    let module = SSLModule(parts,
                           optimizer: .adamW(learningRate: 1e-3, weightDecay: 1e-4, schedule: .constant)) { m, batch, _ in
        var out = batch
        let embedding = m.backbone(batch["image"])
        // Views are collated view-major: the first half of the batch is view 1.
        let views = m.projector(embedding).chunk(2, axis: 0)
        out["loss"] = m.loss(views)
        return out
    }
    return makeStep(module, batch: batch, setup: setup)
}

private func makeBYOLStep(backbone: Module & FeatureCounting, batch: Batch, setup: StepSetup) throws -> () -> Void {
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
    return makeStep(module, batch: batch, setup: setup, afterStep: encoder.updateTeacher)
}

/// Forward, backward and an optimizer step of `module` on `batch`, then `afterStep`; when
/// data-parallel, with SyncBatchNorm and the gradients averaged over the ranks.
private func makeStep<Components>(_ module: SSLModule<Components>, batch: Batch, setup: StepSetup,
                                  afterStep: @escaping () -> Void = {}) -> () -> Void
{
    module.configureOptimizers(totalSteps: 1)
    module.train()
    var synchronizer: GradientSynchronizer?
    if setup.communicator.isDistributed {
        for (_, component) in module.componentModules {
            _ = SyncBatchNorm.convert(component, communicator: setup.communicator)
            for (_, tensor) in component.namedParameters() { setup.communicator.broadcast(tensor, root: 0) }
            for (_, tensor, _) in component.namedBuffers() { setup.communicator.broadcast(tensor, root: 0) }
        }
        synchronizer = GradientSynchronizer(parameters: module.optimizers.flatMap(\.parameters).filter(\.requiresGrad),
                                            communicator: setup.communicator)
    }
    return {
        let loss = (try? module.forward(batch, stage: .fit))?["loss"]
        if let synchronizer, setup.overlaps {
            loss?.backward(onLeafGradientReady: synchronizer.gradientReady)
        } else {
            loss?.backward()
        }
        synchronizer?.finish()
        for configured in module.optimizers {
            configured.optimizer.step()
            configured.optimizer.zeroGrad()
        }
        afterStep()
    }
}

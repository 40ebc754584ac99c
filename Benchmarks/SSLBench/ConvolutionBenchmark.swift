import SSLTensor

/// `ssl-bench conv [--layers convnet|resnet18] [--only 2,4] [--batch B] [--threads T] [--cpu-time]
/// [--compare [--rounds R]]`: GFLOP/s of
/// the three products of 3×3 convolutions (padding 1, no bias): the forward pass, the input
/// gradient and the weight gradient, each counted at the direct convolution's FLOPs
/// (2·N·O·OH·OW·C·9), so a faster algorithm shows as a higher rate. The layers: the ConvNet
/// backbone's (28×28 inputs, batch 512 by default) or ResNet-18's 3×3 layers on 32×32 inputs
/// (batch 128 by default); `--only` picks layers by their place in the list, from 1.
///
/// Without `--compare`, one line per layer with the algorithm `ConvolutionAlgorithm.current`
/// picks (`SSL_CONV_ALGORITHM`): `conv <C>-><O> <H>x<W> s<stride> forward <r> input-grad <r>
/// weight-grad <r> (<fractions> of peak)`, best repetitions. With `--compare`, every layer runs
/// with the direct products and with Winograd alternately for R rounds (default 5), and one
/// line per layer gives the median of the per-round ratios (direct time over Winograd time) of
/// each product, with both sides' median rates: interleaved pairs, so a busy machine slows both
/// sides of a pair alike. `--threads` runs on that many threads (default: all cores), and
/// `--cpu-time` times by the process's CPU time instead of the wall clock: with `--threads 1`,
/// the time the product actually had a core, the steadiest reading on a loaded machine.
func benchmarkConvolution(arguments: [String]) throws {
    var layers = "convnet", batch: Int?, compare = false, rounds = 5, threads: Int?, cpuTime = false
    var only: Set<Int> = []
    var remaining = arguments[...]
    while let argument = remaining.popFirst() {
        switch argument {
        case "--compare": compare = true
        case "--cpu-time": cpuTime = true
        case "--layers":
            guard let value = remaining.popFirst(), ["convnet", "resnet18"].contains(value) else {
                throw BenchmarkError.invalidArgument("--layers takes convnet or resnet18")
            }
            layers = value
        case "--only":
            guard let value = remaining.popFirst() else { throw BenchmarkError.invalidArgument("--only needs layer numbers") }
            only = Set(value.split(separator: ",").compactMap { Int($0) })
        case "--batch", "--rounds", "--threads":
            guard let value = remaining.popFirst().flatMap({ Int($0) }), value > 0 else {
                throw BenchmarkError.invalidArgument("\(argument) needs a positive integer")
            }
            switch argument {
            case "--batch": batch = value
            case "--rounds": rounds = value
            default: threads = value
            }
        default: throw BenchmarkError.invalidArgument("unknown argument \(argument)")
        }
    }
    let shapes: [ConvolutionShape] = layers == "convnet"
        ? [(1, 32, 28, 1), (32, 32, 28, 1), (32, 64, 28, 2), (64, 64, 14, 1), (64, 128, 14, 2), (128, 128, 7, 1)]
            .map { ConvolutionShape(inChannels: $0.0, outChannels: $0.1, size: $0.2, stride: $0.3) }
        : [(3, 64, 32, 1), (64, 64, 32, 1), (64, 128, 32, 2), (128, 128, 16, 1), (128, 256, 16, 2), (256, 256, 8, 1),
           (256, 512, 8, 2), (512, 512, 4, 1)]
            .map { ConvolutionShape(inChannels: $0.0, outChannels: $0.1, size: $0.2, stride: $0.3) }
    let images = batch ?? (layers == "convnet" ? 512 : 128)
    let context = threads.map { ComputeContext(threadCount: $0) } ?? .default
    let peak = printPeak() / Double(ComputeContext.default.threadCount) * Double(context.threadCount)
    print("layers \(layers), batch \(images), \(context.threadCount) threads, \(cpuTime ? "CPU time" : "wall clock"), "
          + "algorithm \(compare ? "direct vs winograd" : ConvolutionAlgorithm.current.rawValue)")
    var generator = RandomGenerator(seed: 1)
    ComputeContext.$current.withValue(context) { runLayers() }
    func runLayers() {
    for (index, shape) in shapes.enumerated() where only.isEmpty || only.contains(index + 1) {
        let layer = ConvolutionLayer(shape, batch: images, generator: &generator)
        if !compare {
            let rates = layer.rates(minimumSeconds: 1.0, cpuTime: cpuTime)
            print("conv \(shape) forward \(format(rates.0)) input-grad \(format(rates.1)) weight-grad \(format(rates.2)) "
                  + "(\(percent(rates.0, of: peak)) \(percent(rates.1, of: peak)) \(percent(rates.2, of: peak)) of peak)")
            continue
        }
        var direct: [(Double, Double, Double)] = [], winograd: [(Double, Double, Double)] = []
        for round in 0..<rounds {
            // Alternate which side goes first.
            let order: [ConvolutionAlgorithm] = round % 2 == 0 ? [.direct, .winograd] : [.winograd, .direct]
            for algorithm in order {
                let rates = ConvolutionAlgorithm.$current.withValue(algorithm) { layer.rates(minimumSeconds: 0.3, cpuTime: cpuTime) }
                if algorithm == .direct { direct.append(rates) } else { winograd.append(rates) }
            }
        }
        func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
        func column(_ index: Int) -> String {
            let pick: ((Double, Double, Double)) -> Double = { index == 0 ? $0.0 : index == 1 ? $0.1 : $0.2 }
            let ratios = zip(direct, winograd).map { pick($1) / pick($0) }
            return "\(format(median(direct.map(pick))))/\(format(median(winograd.map(pick)))) ×\(String(format2: median(ratios)))"
        }
        print("conv \(shape) forward \(column(0)) input-grad \(column(1)) weight-grad \(column(2))")
    }
    }
    if compare {
        print("(direct/winograd median GFLOP/s, then the median over \(rounds) interleaved rounds of the per-round ratio winograd/direct)")
    }
}

/// A 3×3 convolution layer with padding 1 on square inputs.
struct ConvolutionShape: CustomStringConvertible {
    let inChannels: Int, outChannels: Int, size: Int, stride: Int
    var description: String { "\(inChannels)->\(outChannels) \(size)x\(size) s\(stride)" }
}

extension String {
    init(format2 value: Double) {
        let rounded = (value * 100).rounded() / 100
        self = String(rounded)
    }
}

/// One layer's tensors and timed products.
struct ConvolutionLayer {
    let shape: ConvolutionShape
    let input: Tensor, weight: Tensor, upstream: Tensor
    let flops: Double

    init(_ shape: ConvolutionShape, batch: Int, generator: inout RandomGenerator) {
        self.shape = shape
        input = Tensor.uniform([batch, shape.inChannels, shape.size, shape.size], low: -1, high: 1, generator: &generator)
        weight = Tensor.kaimingUniform([shape.outChannels, shape.inChannels, 3, 3], generator: &generator)
        let outSize = (shape.size + 2 - 3) / shape.stride + 1
        upstream = Tensor.uniform([batch, shape.outChannels, outSize, outSize], low: -1, high: 1, generator: &generator)
        flops = 2.0 * Double(batch * shape.outChannels * outSize * outSize * shape.inChannels * 9)
    }

    /// GFLOP/s of the forward pass, the input gradient and the weight gradient (best
    /// repetitions; a gradient's time is its forward-and-backward time less the forward's).
    func rates(minimumSeconds: Double, cpuTime: Bool) -> (Double, Double, Double) {
        let stride = shape.stride
        let forward = bestSeconds(minimumSeconds: minimumSeconds, minimumRuns: 3, warmup: 1, cpuTime: cpuTime) {
            _ = noGrad { input.conv2d(weight: weight, stride: stride, padding: 1) }
        }
        func backward(inputGradient: Bool) -> Double {
            let x = inputGradient ? input.detach().requiringGrad() : input.detach()
            let w = inputGradient ? weight.detach() : weight.detach().requiringGrad()
            return bestSeconds(minimumSeconds: minimumSeconds, minimumRuns: 3, warmup: 1, cpuTime: cpuTime) {
                x.zeroGrad()
                w.zeroGrad()
                x.conv2d(weight: w, stride: stride, padding: 1).backward(gradient: upstream)
            } - forward
        }
        let inputGradient = backward(inputGradient: true), weightGradient = backward(inputGradient: false)
        return (flops / forward / 1e9, flops / inputGradient / 1e9, flops / weightGradient / 1e9)
    }
}

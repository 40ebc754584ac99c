import Foundation
// ssl-bench: release-build benchmarks of the framework's kernels and training steps.
//
//   swift build -c release && .build/release/ssl-bench gemm
//   .build/release/ssl-bench conv
//   .build/release/ssl-bench data
//   .build/release/ssl-bench decode
//
// Each case is warmed up, then repeated until at least `minimumSeconds` have passed (and at
// least 5 times); the best repetition is reported, since this shared 2-core machine is noisy.
import SSLTensor

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

let usage = """
    usage: ssl-bench <command>
    The first line of every command's output names the GEMM kernel family it runs
    (`kernel avx512`, `kernel avx2` or `kernel portable`; SSL_GEMM_KERNEL=avx2 forces AVX2).
      peak   the measured single-core FMA peak (GFLOP/s) of that kernel family
      gemm   GFLOP/s of single-precision GEMM on the reference shapes (after a `peak` line)
      conv   conv2d forward and backward GFLOP/s on the ConvNet shapes (batch 512)
      data   views/s of the SimCLR augmentation through the DataLoader (2 workers, batch 256)
      step [--batch B] [--steps S] [case…]  one SimCLR/BYOL training step (simclr-mlp, simclr-convnet,
             byol-mlp, byol-convnet by default; simclr-resnet18, byol-resnet18 on 3×32×32 when named)
      decode images/s of ImageFolder loading 500×375 JPEG and PNG files at 96×96 (all cores)
      knn [N D]  exact 5-nearest-neighbour search of N embeddings of D (100 000 × 512), as ssl-embed runs it
      allreduce  `allreduce <MB> <ranks> <GB/s> <ms>` for 1, 4, 16, 45 MB under mpirun (build with --traits MPI)
    """

/// The best time, in seconds, of repeated runs of `body`.
func bestSeconds(minimumSeconds: Double = 0.6, minimumRuns: Int = 5, warmup: Int = 2, _ body: () -> Void) -> Double {
    for _ in 0..<warmup { body() }
    let clock = ContinuousClock()
    var best = Double.infinity
    var total = 0.0
    var runs = 0
    while runs < minimumRuns || total < minimumSeconds {
        let elapsed = clock.measure(body)
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        best = min(best, seconds)
        total += seconds
        runs += 1
    }
    return best
}

func format(_ value: Double) -> String {
    let rounded = (value * 10).rounded() / 10
    return String(rounded)
}

/// Prints `peak <kernel> <GFLOP/s per core> per core, <GFLOP/s> on <t> threads` and returns the
/// all-thread figure, against which the rates that follow read as a fraction.
@discardableResult
func printPeak() -> Double {
    let context = ComputeContext.default
    let perCore = context.gemmKernel.measuredPeakGFLOPs()
    let threads = Double(context.threadCount)
    print("peak \(context.gemmKernel.rawValue) \(format(perCore)) per core, \(format(perCore * threads)) on \(context.threadCount) threads")
    return perCore * threads
}

/// `value` as a percentage of `peak`, e.g. `61%`.
func percent(_ value: Double, of peak: Double) -> String { "\(Int((100 * value / peak).rounded()))%" }

func benchmarkGEMM() {
    printPeak()
    let cases: [(m: Int, k: Int, n: Int, layout: String)] = [
        (256, 256, 256, "NN"), (1024, 1024, 1024, "NN"), (2048, 2048, 2048, "NN"),
        (512, 784, 1024, "NN"), (512, 1024, 1024, "NN"), (1024, 512, 1024, "TN"), (512, 1024, 784, "NT"),
    ]
    var generator = RandomGenerator(seed: 0)
    for (m, k, n, layout) in cases {
        let transposeA = layout.first == "T", transposeB = layout.last == "T"
        let a = Tensor.uniform(transposeA ? [k, m] : [m, k], low: -1, high: 1, generator: &generator)
        let b = Tensor.uniform(transposeB ? [n, k] : [k, n], low: -1, high: 1, generator: &generator)
        let c = Tensor.zeros([m, n])
        let seconds = bestSeconds {
            gemm(m: m, n: n, k: k,
                 a: .rowMajor(a.storage.pointer, columns: transposeA ? m : k, transposed: transposeA),
                 b: .rowMajor(b.storage.pointer, columns: transposeB ? k : n, transposed: transposeB),
                 c: c.storage.pointer, ldc: n)
        }
        let gflops = 2.0 * Double(m) * Double(n) * Double(k) / seconds / 1e9
        print("gemm \(m)x\(k)x\(n) \(layout) \(format(gflops))")
    }
}

func benchmarkConvolution() {
    let batch = 512
    let cases: [(inChannels: Int, outChannels: Int, size: Int, stride: Int)] = [
        (1, 32, 28, 1), (32, 32, 28, 1), (32, 64, 28, 2), (64, 64, 14, 1), (64, 128, 14, 2), (128, 128, 7, 1),
    ]
    let peak = printPeak()
    var generator = RandomGenerator(seed: 1)
    for (inChannels, outChannels, size, stride) in cases {
        let x = Tensor.uniform([batch, inChannels, size, size], low: -1, high: 1, generator: &generator).requiringGrad()
        let w = Tensor.kaimingUniform([outChannels, inChannels, 3, 3], generator: &generator).requiringGrad()
        let outSize = (size + 2 - 3) / stride + 1
        let flops = 2.0 * Double(batch * outChannels * outSize * outSize * inChannels * 9)
        let forward = bestSeconds(minimumSeconds: 1.0, minimumRuns: 3, warmup: 1) {
            _ = noGrad { x.conv2d(weight: w, stride: stride, padding: 1) }
        }
        let y = x.conv2d(weight: w, stride: stride, padding: 1)
        let upstream = Tensor.uniform(y.shape, low: -1, high: 1, generator: &generator)
        // Backward computes both the input and the weight gradient: twice the forward FLOPs.
        let backward = bestSeconds(minimumSeconds: 1.0, minimumRuns: 3, warmup: 1) {
            x.zeroGrad()
            w.zeroGrad()
            let output = x.conv2d(weight: w, stride: stride, padding: 1)
            output.backward(gradient: upstream)
        } - forward
        let forwardRate = flops / forward / 1e9, backwardRate = 2 * flops / backward / 1e9
        print("conv \(inChannels)->\(outChannels) \(size)x\(size) s\(stride) forward \(format(forwardRate)) backward \(format(backwardRate)) (\(percent(forwardRate, of: peak)) \(percent(backwardRate, of: peak)) of peak)")
    }
}

let arguments = CommandLine.arguments.dropFirst()
print("kernel \(ComputeContext.default.gemmKernel.rawValue)")
switch arguments.first {
case "peak": printPeak()
case "gemm": benchmarkGEMM()
case "conv": benchmarkConvolution()
case "data": benchmarkData()
case "decode":
    do {
        try benchmarkDecode()
    } catch {
        FileHandle.standardError.write(Data("ssl-bench decode: \(error)\n".utf8))
        exit(1)
    }
case "step":
    do {
        try benchmarkTrainingSteps(arguments: Array(arguments.dropFirst()))
    } catch {
        FileHandle.standardError.write(Data("ssl-bench step: \(error)\n".utf8))
        exit(1)
    }
case "knn": benchmarkNearestNeighbours(arguments: Array(arguments.dropFirst()))
case "allreduce":
    do {
        try benchmarkAllReduce()
    } catch {
        FileHandle.standardError.write(Data("ssl-bench allreduce: \(error)\n".utf8))
        exit(1)
    }
case "-h", "--help", "help":
    print(usage)
default:
    print(usage)
    exit(2)
}

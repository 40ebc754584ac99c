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
      gemm [--threads T] [--cpu-time]  GFLOP/s of single-precision GEMM on the reference shapes
             (after a `peak` line)
      conv [--layers convnet|resnet18] [--only 2,4] [--batch B] [--threads T] [--cpu-time] [--compare [--rounds R]]
             GFLOP/s of conv2d's forward, input gradient and weight gradient on the ConvNet's
             3×3 layers (batch 512) or ResNet-18's (batch 128); --compare: direct against
             Winograd, interleaved rounds, median ratios
      data   views/s of the SimCLR augmentation through the DataLoader (2 workers, batch 256)
      step [--batch B] [--steps S] [--threads T] [--cpu-time] [--no-overlap] [case…]  one SimCLR/BYOL training step (simclr-mlp,
             simclr-convnet, byol-mlp, byol-convnet by default; simclr-resnet18, byol-resnet18 on 3×32×32 when named);
             under mpirun (--traits MPI) data-parallel over the ranks, B the global batch
      decode images/s of ImageFolder loading 500×375 JPEG and PNG files at 96×96 (all cores)
      knn [N D]  exact 5-nearest-neighbour search of N embeddings of D (100 000 × 512), as ssl-embed runs it
      allreduce  `allreduce <MB> <ranks> <GB/s> <ms>` for 1, 4, 16, 45 MB under mpirun (build with --traits MPI)
    """

/// The best time, in seconds, of repeated runs of `body`.
/// With `cpuTime`, the process's CPU time (all its threads) instead of the wall clock: on a
/// loaded machine a single-threaded run's CPU time is the time it actually had a core.
func bestSeconds(minimumSeconds: Double = 0.6, minimumRuns: Int = 5, warmup: Int = 2, cpuTime: Bool = false,
                 _ body: () -> Void) -> Double {
    for _ in 0..<warmup { body() }
    let clock = ContinuousClock()
    var best = Double.infinity
    var total = 0.0
    var runs = 0
    while runs < minimumRuns || total < minimumSeconds {
        let seconds: Double
        if cpuTime {
            let start = processSeconds()
            body()
            seconds = processSeconds() - start
        } else {
            let elapsed = clock.measure(body)
            seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        }
        best = min(best, seconds)
        total += seconds
        runs += 1
    }
    return best
}

/// CPU seconds used by this process so far.
func processSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) * 1e-9
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

/// `ssl-bench gemm [--threads T] [--cpu-time]`: one `gemm <M>x<K>x<N> <layout> <GFLOP/s>` line per
/// reference shape (best repetitions) after the `peak` line; `--threads` runs on that many
/// threads, `--cpu-time` times by the process's CPU time (steady with `--threads 1` on a loaded
/// machine).
func benchmarkGEMM(arguments: [String]) throws {
    var threads: Int?, cpuTime = false
    var remaining = arguments[...]
    while let argument = remaining.popFirst() {
        switch argument {
        case "--cpu-time": cpuTime = true
        case "--threads":
            guard let value = remaining.popFirst().flatMap({ Int($0) }), value > 0 else {
                throw BenchmarkError.invalidArgument("--threads needs a positive integer")
            }
            threads = value
        default: throw BenchmarkError.invalidArgument("unknown argument \(argument)")
        }
    }
    let context = threads.map { ComputeContext(threadCount: $0) } ?? .default
    let peak = printPeak() / Double(ComputeContext.default.threadCount) * Double(context.threadCount)
    if threads != nil || cpuTime {
        print("\(context.threadCount) threads, \(cpuTime ? "CPU time" : "wall clock"), peak \(format(peak))")
    }
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
        let seconds = bestSeconds(cpuTime: cpuTime) {
            gemm(m: m, n: n, k: k,
                 a: .rowMajor(a.storage.pointer, columns: transposeA ? m : k, transposed: transposeA),
                 b: .rowMajor(b.storage.pointer, columns: transposeB ? k : n, transposed: transposeB),
                 c: c.storage.pointer, ldc: n, context: context)
        }
        let gflops = 2.0 * Double(m) * Double(n) * Double(k) / seconds / 1e9
        print("gemm \(m)x\(k)x\(n) \(layout) \(format(gflops))")
    }
}

let arguments = CommandLine.arguments.dropFirst()
print("kernel \(ComputeContext.default.gemmKernel.rawValue)")
switch arguments.first {
case "peak": printPeak()
case "gemm":
    do {
        try benchmarkGEMM(arguments: Array(arguments.dropFirst()))
    } catch {
        FileHandle.standardError.write(Data("ssl-bench gemm: \(error)\n".utf8))
        exit(1)
    }
case "conv":
    do {
        try benchmarkConvolution(arguments: Array(arguments.dropFirst()))
    } catch {
        FileHandle.standardError.write(Data("ssl-bench conv: \(error)\n".utf8))
        exit(1)
    }
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

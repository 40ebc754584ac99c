import Foundation
import SSLDistributed

/// `ssl-bench allreduce`: the time of one in-place float all-reduce of 1, 4, 16 and 45 MB
/// (45 MB: ResNet-18's gradients) over the ranks `mpirun` started (a build with
/// `--traits MPI`). Rank 0 prints `allreduce <MB> <ranks> <GB/s> <ms>`: the best of 10 runs, each
/// started together after a barrier; GB/s is the algorithm bandwidth (bytes reduced per second).
///
///     mpirun -np 2 .build/release/ssl-bench allreduce
func benchmarkAllReduce() throws {
    let communicator = try Communicators.fromEnvironment()
    guard communicator.isDistributed else {
        print("allreduce: one process communicates nothing; launch with mpirun -np N (a build with --traits MPI)")
        return
    }
    for megabytes in [1, 4, 16, 45] {
        let count = megabytes * 1_000_000 / MemoryLayout<Float>.size
        var buffer = [Float](repeating: 1e-3, count: count)
        var best = Double.infinity
        for run in 0..<11 {
            communicator.barrier()
            let start = Date()
            buffer.withUnsafeMutableBufferPointer { communicator.allReduce($0, .sum) }
            var elapsed = [Float(Date().timeIntervalSince(start))]
            communicator.allReduce(&elapsed, .max)  // the slowest rank's time
            if run > 0 { best = Swift.min(best, Double(elapsed[0])) }  // run 0 warms up
        }
        if communicator.isRoot {
            let rate = Double(megabytes) * 1e6 / best / 1e9
            print("allreduce \(megabytes) \(communicator.worldSize) \(String(format: "%.2f", rate)) \(String(format: "%.3f", best * 1e3))")
        }
    }
}

#if MPI
import CMPI
import Foundation

/// `MPI_COMM_WORLD` of Open MPI: the communicator of a process launched by `mpirun` or `srun`
/// (build with `--traits MPI`). MPI is initialised once per process, on first use of `world`,
/// with `MPI_THREAD_SERIALIZED`, and finalised at exit.
///
/// All MPI calls run, in the order they were made, on one communication thread owned by the
/// communicator: `startAllReduce` returns at once (gradient buckets reduce while backward goes
/// on) and a blocking collective queues behind the requests already started, so every rank
/// issues the same collectives in the same order. With `checksSizes` (the default) each
/// collective first compares the ranks' counts (one small all-reduce) and aborts the job with
/// the sizes when they differ.
///
/// ```swift
/// let communicator = MPICommunicator.world
/// var loss: [Float] = [localLoss]
/// communicator.allReduceMean(&loss)
/// ```
public final class MPICommunicator: Communicator, @unchecked Sendable {
    /// The process's world communicator.
    public static let world = MPICommunicator()

    public let rank: Int
    public let worldSize: Int
    public let localSize: Int
    public let backendDescription: String
    /// Whether every collective first checks that all ranks pass the same count.
    public var checksSizes = true
    private let engine: SerialEngine?
    private let comm: MPI_Comm?

    private init() {
        var provided: Int32 = 0
        MPI_Init_thread(nil, nil, ssl_mpi_thread_serialized(), &provided)
        let world = ssl_mpi_comm_world()
        comm = world
        var value: Int32 = 0
        MPI_Comm_rank(world, &value)
        rank = Int(value)
        MPI_Comm_size(world, &value)
        worldSize = Int(value)
        var local: MPI_Comm? = nil
        MPI_Comm_split_type(world, ssl_mpi_comm_type_shared(), 0, ssl_mpi_info_null(), &local)
        MPI_Comm_size(local, &value)
        localSize = Int(value)
        MPI_Comm_free(&local)
        backendDescription = "Open MPI \(ssl_ompi_major_version()).\(ssl_ompi_minor_version())"
        // Serialized calls from a second thread need MPI_THREAD_SERIALIZED; without it every call
        // runs on the caller's thread (no overlap).
        engine = provided >= ssl_mpi_thread_serialized() ? SerialEngine() : nil
        atexit {
            var finalized: Int32 = 0
            MPI_Finalized(&finalized)
            if finalized == 0 { MPI_Finalize() }
        }
    }

    // MARK: Collectives

    public func allReduce(_ buffer: UnsafeMutableBufferPointer<Float>, _ operation: ReduceOperation) {
        run { self.reduceNow(UnsafeMutableRawPointer(buffer.baseAddress), count: buffer.count, type: ssl_mpi_float(), operation) }
    }

    public func allReduce(_ buffer: UnsafeMutableBufferPointer<Int>, _ operation: ReduceOperation) {
        run { self.reduceNow(UnsafeMutableRawPointer(buffer.baseAddress), count: buffer.count, type: ssl_mpi_int64(), operation) }
    }

    public func startAllReduce(_ buffer: UnsafeMutableBufferPointer<Float>, _ operation: ReduceOperation) -> CommunicationRequest {
        let pointer = UnsafeMutableRawPointer(buffer.baseAddress), count = buffer.count
        guard let engine else {
            reduceNow(pointer, count: count, type: ssl_mpi_float(), operation)
            return CompletedRequest()
        }
        return engine.start { self.reduceNow(pointer, count: count, type: ssl_mpi_float(), operation) }
    }

    public func allGather(_ input: UnsafeBufferPointer<Float>, into output: UnsafeMutableBufferPointer<Float>) {
        run { self.gatherNow(UnsafeRawPointer(input.baseAddress), count: input.count, into: UnsafeMutableRawPointer(output.baseAddress),
                             outputCount: output.count, type: ssl_mpi_float()) }
    }

    public func allGather(_ input: UnsafeBufferPointer<Int>, into output: UnsafeMutableBufferPointer<Int>) {
        run { self.gatherNow(UnsafeRawPointer(input.baseAddress), count: input.count, into: UnsafeMutableRawPointer(output.baseAddress),
                             outputCount: output.count, type: ssl_mpi_int64()) }
    }

    public func broadcast(_ buffer: UnsafeMutableBufferPointer<Float>, root: Int) {
        run { self.broadcastNow(UnsafeMutableRawPointer(buffer.baseAddress), count: buffer.count, type: ssl_mpi_float(), root: root) }
    }

    public func broadcast(_ buffer: UnsafeMutableBufferPointer<Int>, root: Int) {
        run { self.broadcastNow(UnsafeMutableRawPointer(buffer.baseAddress), count: buffer.count, type: ssl_mpi_int64(), root: root) }
    }

    public func barrier() { run { MPI_Barrier(self.comm) } }

    public func abort(_ message: String, code: Int32) -> Never {
        FileHandle.standardError.write(Data("\(message)\n".utf8))
        MPI_Abort(comm, code)
        exit(code)
    }

    /// Finalises MPI now (it is also done at exit); no collective may follow.
    public func finalize() {
        run {
            var finalized: Int32 = 0
            MPI_Finalized(&finalized)
            if finalized == 0 { MPI_Finalize() }
        }
    }

    // MARK: - On the communication thread

    private func run(_ body: @escaping () -> Void) {
        if let engine { engine.start(body).wait() } else { body() }
    }

    private func mpiOperation(_ operation: ReduceOperation) -> MPI_Op? {
        switch operation {
        case .sum: return ssl_mpi_sum()
        case .max: return ssl_mpi_max()
        case .min: return ssl_mpi_min()
        }
    }

    /// Aborts the job when the ranks' counts differ.
    private func checkCounts(_ count: Int, collective: String) {
        guard checksSizes, worldSize > 1 else { return }
        var bounds: [Int64] = [Int64(count), -Int64(count)]
        MPI_Allreduce(ssl_mpi_in_place(), &bounds, 2, ssl_mpi_int64(), ssl_mpi_max(), comm)
        if bounds[0] != -bounds[1] {
            abort("\(collective): ranks passed buffers of different sizes (\(-bounds[1]) to \(bounds[0]) values; this rank \(rank) passed \(count)); every rank must pass the same count", code: 3)
        }
    }

    private func checkedCount(_ count: Int, collective: String) -> Int32 {
        precondition(count <= Int(Int32.max), "\(collective): \(count) values exceed MPI's count limit (\(Int32.max))")
        checkCounts(count, collective: collective)
        return Int32(count)
    }

    private func reduceNow(_ pointer: UnsafeMutableRawPointer?, count: Int, type: MPI_Datatype?, _ operation: ReduceOperation) {
        let count32 = checkedCount(count, collective: "allReduce")
        guard worldSize > 1, count > 0 else { return }
        MPI_Allreduce(ssl_mpi_in_place(), pointer, count32, type, mpiOperation(operation), comm)
    }

    private func gatherNow(_ input: UnsafeRawPointer?, count: Int, into output: UnsafeMutableRawPointer?, outputCount: Int, type: MPI_Datatype?) {
        precondition(outputCount == count * worldSize, "allGather: output holds \(outputCount) values for \(count) × \(worldSize) ranks")
        let count32 = checkedCount(count, collective: "allGather")
        guard count > 0 else { return }
        MPI_Allgather(input, count32, type, output, count32, type, comm)
    }

    private func broadcastNow(_ pointer: UnsafeMutableRawPointer?, count: Int, type: MPI_Datatype?, root: Int) {
        precondition(root >= 0 && root < worldSize, "broadcast: root \(root) is not a rank of \(worldSize)")
        let count32 = checkedCount(count, collective: "broadcast")
        guard worldSize > 1, count > 0 else { return }
        MPI_Bcast(pointer, count32, type, Int32(root), comm)
    }
}
#endif

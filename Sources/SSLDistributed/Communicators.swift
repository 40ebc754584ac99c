import Foundation
#if MPI
import CMPI
#endif

/// An error in setting up distributed training (a launch the build cannot serve, a batch that
/// does not divide over the ranks, a data source that cannot be sharded).
public struct DistributedError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Choosing the communicator a process was launched for.
public enum Communicators {
    /// Whether this build includes Open MPI (`--traits MPI`).
    public static var isMPIAvailable: Bool {
        #if MPI
        return true
        #else
        return false
        #endif
    }

    /// The number of ranks the launcher started, read from its environment (Open MPI's
    /// `OMPI_COMM_WORLD_SIZE`, PMIx's or Slurm's `PMI_SIZE`/`SLURM_NTASKS`), or nil when the
    /// process was not started by a launcher.
    public static func launchedWorldSize(environment: [String: String] = ProcessInfo.processInfo.environment) -> Int? {
        for key in ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"] {
            if let value = environment[key].flatMap(Int.init) { return value }
        }
        if environment["SLURM_STEP_ID"] != nil, let value = environment["SLURM_NTASKS"].flatMap(Int.init) { return value }
        return nil
    }

    /// `MPICommunicator.world` when launched by `mpirun`/`srun` with more than one rank in a
    /// build with MPI; a `SingleProcessCommunicator` otherwise. Launched with several ranks by a
    /// build without MPI, it throws "built without MPI: rebuild with --traits MPI" (each rank
    /// would otherwise train alone and write the same files).
    ///
    /// ```swift
    /// let communicator = try Communicators.fromEnvironment()
    /// ```
    public static func fromEnvironment(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> any Communicator {
        guard let launched = launchedWorldSize(environment: environment), launched > 1 else { return SingleProcessCommunicator() }
        #if MPI
        return MPICommunicator.world
        #else
        throw DistributedError("launched as \(launched) ranks, but built without MPI: rebuild with --traits MPI (swift build -c release --traits MPI; needs apt-get install libopenmpi-dev openmpi-bin)")
        #endif
    }

    /// Compute threads per rank: the cores of this host divided by the ranks on it (at least 1),
    /// so the ranks of a host do not oversubscribe its cores.
    public static func defaultThreadsPerRank(_ communicator: any Communicator,
                                             cores: Int = ProcessInfo.processInfo.activeProcessorCount) -> Int {
        Swift.max(1, cores / Swift.max(1, communicator.localSize))
    }
}

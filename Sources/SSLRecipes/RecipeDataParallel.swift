import SSLDistributed
import SSLNN
import SSLTraining

/// What a recipe changes when launched as several ranks (`mpirun -np N simclr …`): every
/// BatchNorm of the module takes its statistics over the global batch (`SyncBatchNorm`), done
/// when the fit sets up, before any forward pass. (SimCLR's loss also gathers its negatives
/// from every rank: `NTXentLoss(communicator:)` in its recipe.)
///
/// ```swift
/// Trainer(callbacks: [DataParallelRecipeSetup(communicator: communicator)], strategy: .dataParallel(communicator))
/// ```
public final class DataParallelRecipeSetup: Callback {
    public let communicator: any Communicator
    /// BatchNorm layers converted by the last setup.
    public private(set) var convertedLayers = 0

    public init(communicator: any Communicator) {
        self.communicator = communicator
    }

    public func setup(_ trainer: Trainer, _ module: TrainableModule, stage: Stage) throws {
        guard stage == .fit else { return }
        convertedLayers = module.componentModules.reduce(0) { $0 + SyncBatchNorm.convert($1.module, communicator: communicator) }
    }
}

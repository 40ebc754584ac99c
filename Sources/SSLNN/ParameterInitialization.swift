import SSLTensor
import Synchronization

/// Where layers draw their initial weights from.
///
/// Inside `ParameterInitialization.withSeed(_:_:)` every layer built draws from one seeded
/// stream, so a model built twice with the same seed has identical weights. Outside such a
/// scope each layer seeds itself from the system's random source (like PyTorch without
/// `manual_seed`). There is no global generator: the seeded stream lives only for the scope.
///
/// ```swift
/// let encoder = ParameterInitialization.withSeed(42) { ConvNet(channels: [32, 64, 128], inputChannels: 1) }
/// ```
public enum ParameterInitialization {
    /// A seeded stream shared by the layers built in one scope.
    final class Source: Sendable {
        let generator: Mutex<RandomGenerator>
        init(seed: UInt64) { generator = Mutex(RandomGenerator(seed: seed)) }
        func nextSeed() -> UInt64 { generator.withLock { $0.next() } }
    }

    @TaskLocal static var source: Source?

    /// Runs `body` with layer initialisation drawn from a stream seeded by `seed`.
    public static func withSeed<Result>(_ seed: UInt64, _ body: () throws -> Result) rethrows -> Result {
        try $source.withValue(Source(seed: seed), operation: body)
    }

    /// A generator for one layer's initial values.
    public static func makeGenerator() -> RandomGenerator {
        if let source { return RandomGenerator(seed: source.nextSeed()) }
        return RandomGenerator(seed: UInt64.random(in: UInt64.min...UInt64.max))
    }
}

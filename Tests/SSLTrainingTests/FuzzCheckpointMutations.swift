import Foundation
import SSLTensor

// MARK: - Mutations

/// One damage to a checkpoint: steps on its parts, its header object and its bytes, and what a
/// resume must do with it.
struct FuzzMutation {
    enum Kind: String, CaseIterable {
        case headerEntry, headerStructure, headerLength, metadataMap, trainerMetadata, schedulerState,
             callbackState, metricState, tensorValues, tensorShape, stateKeys, optimizerStep, stacked
    }
    var kind: Kind
    var label: String
    /// Resuming must throw (an error naming the file).
    var mustThrow = false
    /// The damage may load and make training stop on a non-finite loss.
    var mayDiverge = false
    var imageSteps: [(inout FuzzCheckpointImage) -> Void] = []
    var headerSteps: [(inout [String: Any], inout [UInt8]) -> Void] = []
    var byteSteps: [(inout [UInt8]) -> Void] = []
}

/// Builds structured mutations of one checkpoint from a seeded generator.
struct FuzzCheckpointMutations {
    let image: FuzzCheckpointImage
    /// A file outside the run named like a kept checkpoint.
    let outside: String

    var modelKeys: [String] { image.names.filter { !$0.contains("/") } }
    var optimizerKeys: [String] { image.names.filter { $0.hasPrefix("optimizer/") } }
    var slotKeys: [String] { optimizerKeys.filter { $0.hasSuffix(".exp_avg") || $0.hasSuffix(".exp_avg_sq") } }
    var stepKeys: [String] { optimizerKeys.filter { $0.hasSuffix(".step") } }

    /// The issue's named cases, then `randomCount` drawn from every kind (a fifth of them
    /// stacks two or three).
    func all(randomCount: Int, generator: inout RandomGenerator) -> [FuzzMutation] {
        var result = issueCases()
        let makers: [(inout RandomGenerator) -> FuzzMutation] = [
            headerEntry, headerStructure, headerLength, metadataMap, trainerMetadata, schedulerState,
            callbackState, metricState, tensorValues, tensorShape, stateKeys, optimizerStep,
        ]
        let stackable = Array(makers[3...])
        for _ in 0..<randomCount {
            if generator.nextInt(below: 5) == 0 {
                var parts: [FuzzMutation] = []
                for _ in 0..<(2 + generator.nextInt(below: 2)) {
                    let make = fuzzPick(stackable, &generator)
                    parts.append(make(&generator))
                }
                var stacked = FuzzMutation(kind: .stacked, label: parts.map(\.label).joined(separator: " + "))
                stacked.mayDiverge = parts.contains(where: \.mayDiverge)
                for part in parts {
                    stacked.imageSteps += part.imageSteps
                    stacked.headerSteps += part.headerSteps
                    stacked.byteSteps += part.byteSteps
                }
                result.append(stacked)
            } else {
                result.append(fuzzPick(makers, &generator)(&generator))
            }
        }
        return result
    }

    /// Shape [0, 4e15, 4e15]; batchIndex 5, 1000 and 2^40 in a 4-batch epoch; scheduler step
    /// 1e30; format version 2; an optimizer step of 1e30.
    func issueCases() -> [FuzzMutation] {
        let huge = 4_000_000_000_000_000
        var result = [entryField(modelKeys[0], "shape", [0, huge, huge], mustThrow: true)]
        for value in [5, 1000, 1 << 40] { result.append(metadataField(["batchIndex"], value, mustThrow: true)) }
        result.append(metadataField(["schedulerStates", "optimizer", "step"], 1e30, mustThrow: true, kind: .schedulerState))
        result.append(metadataField(["formatVersion"], 2, mustThrow: true))
        result.append(tensorFill(stepKeys[0], 1e30, mustThrow: true, kind: .optimizerStep))
        result.append(metadataField(["schedulerStates", "optimizer", "step"], -1, mustThrow: true, kind: .schedulerState))
        return result
    }
}

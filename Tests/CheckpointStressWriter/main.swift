// Writes checkpoints to one path in a loop until killed; used by the checkpoint kill test.
// Checkpoint i holds tensors filled with the value i and metadata globalStep = i, so a reader can
// tell a torn file (mixed values) from a whole one. Prints a line after every complete write.
import Foundation
import SSLNN
import SSLTensor
import SSLTraining

let arguments = CommandLine.arguments
guard arguments.count == 2 else {
    FileHandle.standardError.write(Data("usage: CheckpointStressWriter <checkpoint path>\n".utf8))
    exit(2)
}
let path = arguments[1]
let weights = Tensor.zeros([512, 1024])
let bias = Tensor.zeros([1024])
var iteration = 0
while true {
    iteration += 1
    weights.fill(with: Float(iteration))
    bias.fill(with: Float(iteration))
    var model = StateDict()
    model["encoder.weight"] = weights
    model["encoder.bias"] = bias
    let metadata = CheckpointMetadata(epoch: 0, batchIndex: 0, globalStep: iteration, elapsedSeconds: 0,
                                      generatorState: RandomGenerator(seed: 0).state, schedulerStates: [:],
                                      callbackValues: [:], integerKeys: [], hyperparameters: [:], callbackMetrics: [:])
    do {
        try Checkpoint(model: model, optimizers: ["optimizer": ["param.encoder.weight.exp_avg": weights]],
                       callbacks: [:], metadata: metadata).write(to: path)
    } catch {
        FileHandle.standardError.write(Data("write failed: \(error)\n".utf8))
        exit(1)
    }
    FileHandle.standardOutput.write(Data("wrote \(iteration)\n".utf8))
}

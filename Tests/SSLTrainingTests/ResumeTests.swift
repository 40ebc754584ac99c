import Foundation
import SSLNN
import SSLTensor
import SSLTestSupport
import SSLTraining
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Stops the fit after a given optimizer step (a clean interruption).
final class StopAfterStep: Callback {
    let step: Int
    init(_ step: Int) { self.step = step }
    func onTrainBatchEnd(_ trainer: Trainer, _ module: TrainableModule, outputs: Batch, batch: Batch, batchIndex: Int) {
        if trainer.globalStep == step { trainer.shouldStop = true }
    }
}

struct SimulatedCrash: Error {}

final class ResumeTests: XCTestCase {
    private var directory = ""
    override func setUpWithError() throws { directory = try makeTemporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    /// A module with BatchNorm (buffers must resume too) whose forward throws on the n-th
    /// training call when `crashAt` is set.
    private func makeModule(crashAt: Int? = nil) -> SSLModule<BatchNormParts> {
        var calls = 0
        return SSLModule(BatchNormParts(), optimizer: .adamW(learningRate: 0.01)) { m, batch, stage in
            if stage == .fit {
                calls += 1
                if calls == crashAt { throw SimulatedCrash() }
            }
            var out = batch
            let difference = m.head(m.norm(m.encoder(batch["x"])).relu()) - batch["y"]
            out["loss"] = (difference * difference).mean()
            return out
        }
    }

    private func trainer(name: String, callbacks: [Callback]) -> Trainer {
        Trainer(maxEpochs: 3, numSanityValSteps: 0, callbacks: callbacks, rootDirectory: directory, name: name,
                enableProgressBar: false)
    }

    func testInterruptedThenResumedFitEndsWithByteIdenticalWeights() throws {
        let batches = BatchList(makeBatches(count: 5))
        let uninterrupted = makeModule()
        try trainer(name: "full", callbacks: []).fit(uninterrupted, train: batches)

        // Clean stop mid-epoch after step 7; resume from "last".
        let first = makeModule()
        try trainer(name: "stopped", callbacks: [StopAfterStep(7)]).fit(first, train: batches)
        let resumed = makeModule()
        let second = trainer(name: "stopped", callbacks: [])
        try second.fit(resumed, train: batches, resumeFrom: .last)
        XCTAssertEqual(second.globalStep, 15)
        XCTAssertEqual(weightBytes(resumed), weightBytes(uninterrupted))
    }

    func testCrashMidEpochResumesFromTheLastPeriodicCheckpoint() throws {
        let batches = BatchList(makeBatches(count: 5))
        let uninterrupted = makeModule()
        try trainer(name: "reference", callbacks: []).fit(uninterrupted, train: batches)

        // Checkpoints every 3 steps; the forward throws on its 9th call (after step 8).
        let crashing = trainer(name: "crash", callbacks: [ModelCheckpoint(everyNEpochs: nil, everyNTrainSteps: 3)])
        XCTAssertThrowsError(try crashing.fit(makeModule(crashAt: 9), train: batches)) { error in
            XCTAssertTrue(error is SimulatedCrash)
        }
        let last = try XCTUnwrap(crashing.runDirectory) + "/checkpoints/last.safetensors"
        XCTAssertEqual(try Checkpoint.read(from: last).metadata.globalStep, 6)
        let resumed = makeModule()
        let again = trainer(name: "crash", callbacks: [ModelCheckpoint(everyNEpochs: nil, everyNTrainSteps: 3)])
        try again.fit(resumed, train: batches, resumeFrom: .path(last))
        XCTAssertEqual(again.runDirectory, crashing.runDirectory, "a resumed run continues in its run directory")
        XCTAssertEqual(weightBytes(resumed), weightBytes(uninterrupted))
    }

    func testResumeErrorsNameWhatIsMissing() {
        XCTAssertThrowsError(try trainer(name: "none", callbacks: []).fit(makeModule(), train: BatchList(makeBatches(count: 1)),
                                                                         resumeFrom: .last)) { error in
            XCTAssertTrue(String(describing: error).contains("no checkpoint to resume from"), "\(error)")
        }
        let bogus = directory + "/bogus.safetensors"
        _ = FileManager.default.createFile(atPath: bogus, contents: Data("not a checkpoint".utf8))
        XCTAssertThrowsError(try trainer(name: "bogus", callbacks: []).fit(makeModule(), train: BatchList(makeBatches(count: 1)),
                                                                          resumeFrom: .path(bogus))) { error in
            XCTAssertTrue(String(describing: error).contains("bogus.safetensors"), "\(error)")
        }
    }

    func testCheckpointWriterKilledAtRandomMomentsAlwaysLeavesALoadableCheckpoint() throws {
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("CheckpointStressWriter")
        guard FileManager.default.isExecutableFile(atPath: executable.path) else {
            return XCTFail("CheckpointStressWriter was not built next to the test bundle at \(executable.path)")
        }
        let path = directory + "/stress.safetensors"
        var generator = RandomGenerator(seed: 11)
        var steps: [Int] = []
        for _ in 0..<20 {
            let process = Process()
            process.executableURL = executable
            process.arguments = [path]
            let pipe = Pipe()
            process.standardOutput = pipe
            try process.run()
            // Wait for one to four complete writes (a random number, so the kills land at different
            // steps however slow the machine is), then kill at a random moment within a write.
            let writes = 1 + generator.nextInt(below: 4)
            var lines = 0
            while lines < writes {
                let chunk = pipe.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                lines += chunk.filter { $0 == UInt8(ascii: "\n") }.count
            }
            usleep(useconds_t(generator.nextInt(below: 40_000)))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            XCTAssertEqual(process.terminationReason, .uncaughtSignal)

            let checkpoint = try Checkpoint.read(from: path)
            let step = checkpoint.metadata.globalStep
            XCTAssertGreaterThanOrEqual(step, 1)
            let weights = try XCTUnwrap(checkpoint.model["encoder.weight"]).scalars
            XCTAssertEqual(weights.count, 512 * 1024)
            XCTAssertTrue(weights.allSatisfy { $0 == Float(step) }, "a checkpoint mixes two writes")
            XCTAssertEqual(checkpoint.optimizers["optimizer"]?["param.encoder.weight.exp_avg"]?.count, 512 * 1024)
            steps.append(step)
        }
        XCTAssertGreaterThan(Set(steps).count, 1, "kills landed at different moments")
    }
}

/// A model with BatchNorm, so resuming must restore buffers as well as weights.
struct BatchNormParts {
    let encoder: Linear
    let norm: BatchNorm1d
    let head: Linear
    init() {
        (encoder, norm, head) = ParameterInitialization.withSeed(5) { (Linear(4, 8), BatchNorm1d(8), Linear(8, 2)) }
    }
}

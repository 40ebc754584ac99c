import Foundation
import SSLNN
import SSLTensor
import SSLTestSupport
import SSLTraining
import XCTest

/// Resumes from well over a thousand structurally damaged copies of one real checkpoint (its
/// safetensors header, its `ssl.checkpoint` metadata, its tensors) and requires each resume to
/// succeed or throw an error naming the file: never a trap, a crash or a hang (issue 17).
final class CheckpointFuzzTests: XCTestCase {
    private var directory = ""
    override func setUpWithError() throws {
        // In memory where Linux offers it: the resumes write some 4,000 checkpoints, each
        // flushed to disk, which a busy disk makes slow.
        if FileManager.default.isWritableFile(atPath: "/dev/shm") {
            directory = "/dev/shm/ssl-checkpoint-fuzz-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } else {
            directory = try makeTemporaryDirectory()
        }
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    /// Seconds one resume may take before it counts as a hang.
    private static let resumeTimeLimit = 5.0

    /// The callbacks of every fit here: both keep state in the checkpoint.
    private func makeCallbacks() -> [Callback] {
        [ModelCheckpoint(everyNEpochs: 1, everyNTrainSteps: 2),
         EarlyStopping(monitor: "train/loss", patience: 5, checkOnTrainEpochEnd: true)]
    }

    private func makeTrainer(name: String, maxEpochs: Int, logging: Bool, extra: [Callback] = []) -> Trainer {
        Trainer(maxEpochs: maxEpochs, numSanityValSteps: 0, logEveryNSteps: 2, callbacks: makeCallbacks() + extra,
                rootDirectory: directory, name: name, enableProgressBar: false, enableLogging: logging)
    }

    func testResumeFromAThousandDamagedCheckpointsSucceedsOrThrowsNamingTheFile() throws {
        let batches = BatchList(makeBatches(count: fuzzBatchCount, size: 2))

        // One real checkpoint, mid-epoch (epoch 1, batch 2, step 6), with optimizer, scheduler,
        // callback, metric-collector and logged-row state; written before its step's row.
        let base = makeTrainer(name: "base", maxEpochs: 2, logging: true, extra: [FuzzStopAtStep(6)])
        try base.fit(makeTinyModule(), train: batches)
        let baseRun = try XCTUnwrap(base.runDirectory)
        let original = try [UInt8](Data(contentsOf: URL(fileURLWithPath: baseRun + "/checkpoints/last.safetensors")))
        let metadata = try Checkpoint.read(from: baseRun + "/checkpoints/last.safetensors").metadata
        XCTAssertEqual([metadata.epoch, metadata.batchIndex, metadata.globalStep], [1, 2, 6])
        XCTAssertEqual(metadata.schedulerStates["optimizer"]?["step"], 6)
        XCTAssertNotNil(metadata.callbackValues["ModelCheckpoint"]?["path.0"])
        XCTAssertNotNil(metadata.callbackValues["EarlyStopping"]?["best"])
        XCTAssertEqual(metadata.stepRowPending, true)
        XCTAssertNotNil(metadata.loggedRowCount)
        let image = try FuzzCheckpointImage(original)

        // The damaged copies live in a copy of the run, so resumes write their checkpoints there;
        // a file outside it, named like a kept checkpoint, must survive every resume.
        let run = directory + "/fuzz-run"
        try FileManager.default.copyItem(atPath: baseRun, toPath: run)
        let outside = directory + "/outside/epoch=0-step=2.safetensors"
        try FileManager.default.createDirectory(atPath: directory + "/outside", withIntermediateDirectories: true)
        XCTAssertTrue(FileManager.default.createFile(atPath: outside, contents: Data("keep me".utf8)))

        // The unmutated image, re-encoded, resumes with logging off and on, in the copied run,
        // to the end of the fit (step 8).
        for logging in [false, true] {
            let path = run + "/checkpoints/baseline-\(logging).safetensors"
            try Data(try image.encoded(FuzzMutation(kind: .headerEntry, label: "none"))).write(to: URL(fileURLWithPath: path))
            let trainer = makeTrainer(name: "fuzz", maxEpochs: 2, logging: logging)
            try trainer.fit(makeTinyModule(), train: batches, resumeFrom: .path(path))
            XCTAssertEqual(trainer.globalStep, 8)
            XCTAssertEqual(trainer.runDirectory, run)
            try? FileManager.default.removeItem(atPath: path)
        }

        // SSL_FUZZ_SEED and SSL_FUZZ_COUNT explore beyond the fixed suite.
        let environment = ProcessInfo.processInfo.environment
        var generator = RandomGenerator(seed: environment["SSL_FUZZ_SEED"].flatMap { UInt64($0) } ?? 17)
        let randomCount = environment["SSL_FUZZ_COUNT"].flatMap { Int($0) } ?? 1_150
        let mutations = FuzzCheckpointMutations(image: image, outside: outside).all(randomCount: randomCount, generator: &generator)
        XCTAssertGreaterThanOrEqual(mutations.count, 1_000)

        var succeeded: [FuzzMutation.Kind: Int] = [:], threw: [FuzzMutation.Kind: Int] = [:]
        var diverged: [String] = []
        var slowest = (seconds: 0.0, label: "")
        let start = Date()
        for (index, mutation) in mutations.enumerated() {
            let path = run + "/checkpoints/mutant-\(index).safetensors"
            let bytes = try image.encoded(mutation)
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            // Every 8th resume logs, so logged-row counts and pending rows are exercised too.
            let trainer = makeTrainer(name: "fuzz", maxEpochs: 2, logging: index % 8 == 0)
            let module = makeTinyModule()
            let began = Date()
            guard let outcome = fuzzRun(within: Self.resumeTimeLimit * 4, {
                try trainer.fit(module, train: batches, resumeFrom: .path(path))
            }) else {
                return XCTFail("mutation \(index) (\(mutation.kind)) \(mutation.label): the resume hung")
            }
            let seconds = Date().timeIntervalSince(began)
            if seconds > slowest.seconds { slowest = (seconds, "\(index) \(mutation.label)") }
            XCTAssertLessThan(seconds, Self.resumeTimeLimit, "mutation \(index) (\(mutation.kind)) \(mutation.label) took \(seconds) s")
            switch outcome {
            case .success:
                succeeded[mutation.kind, default: 0] += 1
                XCTAssertFalse(mutation.mustThrow, "mutation \(index) (\(mutation.kind)) \(mutation.label) was resumed from")
            case .failure(let error):
                let text = String(describing: error)
                if text.contains(path) {
                    threw[mutation.kind, default: 0] += 1
                } else if mutation.mayDiverge, case TrainingError.nonFiniteLoss = error {
                    // Finite-but-absurd or non-finite weights load, then training diverges:
                    // an error, though one that does not name the checkpoint.
                    diverged.append("\(index) \(mutation.label)")
                } else {
                    XCTFail("mutation \(index) (\(mutation.kind)) \(mutation.label): the error does not name \(path): \(text)")
                }
            }
            XCTAssertTrue(FileManager.default.fileExists(atPath: outside),
                          "mutation \(index) \(mutation.label) deleted a file outside the run")
            try? FileManager.default.removeItem(atPath: path)
        }

        let kinds = FuzzMutation.Kind.allCases.map { kind in
            "\(kind): \(succeeded[kind] ?? 0) resumed / \(threw[kind] ?? 0) threw"
        }
        let total = succeeded.values.reduce(0, +) + threw.values.reduce(0, +)
        print("""
            CheckpointFuzzTests: \(mutations.count) mutations in \(String(format: "%.1f", Date().timeIntervalSince(start))) s: \
            \(succeeded.values.reduce(0, +)) resumed, \(threw.values.reduce(0, +)) threw naming the file \
            (\(mutations.filter(\.mustThrow).count) had to throw), \(diverged.count) loaded and then stopped on a non-finite \
            loss; slowest \(String(format: "%.2f", slowest.seconds)) s (\(slowest.label))
              \(kinds.joined(separator: "\n  "))
            """)
        if !diverged.isEmpty {
            print("  loaded, then a non-finite loss (an error without the file name), for example:\n    "
                  + diverged.prefix(5).joined(separator: "\n    "))
        }
        XCTAssertEqual(total + diverged.count, mutations.count)
    }

    /// The cases issue 17 names, each of which must be refused (not resumed from) with an
    /// error naming the file.
    func testTheIssuesDamagedCheckpointsAreRefusedNamingTheFile() throws {
        let batches = BatchList(makeBatches(count: fuzzBatchCount, size: 2))
        let base = makeTrainer(name: "base", maxEpochs: 2, logging: false, extra: [FuzzStopAtStep(6)])
        try base.fit(makeTinyModule(), train: batches)
        let run = try XCTUnwrap(base.runDirectory)
        let image = try FuzzCheckpointImage(try [UInt8](Data(contentsOf: URL(fileURLWithPath: run + "/checkpoints/last.safetensors"))))
        let named = FuzzCheckpointMutations(image: image, outside: directory + "/none").issueCases()
        XCTAssertEqual(named.count, 8)
        for (index, mutation) in named.enumerated() {
            let path = run + "/checkpoints/issue-\(index).safetensors"
            try Data(try image.encoded(mutation)).write(to: URL(fileURLWithPath: path))
            let trainer = makeTrainer(name: "base", maxEpochs: 2, logging: false)
            XCTAssertThrowsError(try trainer.fit(makeTinyModule(), train: batches, resumeFrom: .path(path)), mutation.label) { error in
                XCTAssertTrue(String(describing: error).contains(path), "\(mutation.label): \(error)")
            }
        }
    }
}

/// Batches per epoch: a checkpoint claiming batch 5 or later belongs to another data set.
let fuzzBatchCount = 4

// MARK: - Running with a time limit

/// Stops the fit after a given optimizer step.
private final class FuzzStopAtStep: Callback {
    let step: Int
    init(_ step: Int) { self.step = step }
    func onTrainBatchEnd(_ trainer: Trainer, _ module: TrainableModule, outputs: Batch, batch: Batch, batchIndex: Int) {
        if trainer.globalStep == step { trainer.shouldStop = true }
    }
}

/// Work handed to another thread, and its outcome.
private final class FuzzTimedWork: @unchecked Sendable {
    let body: () throws -> Void
    var outcome: Result<Void, Error>?
    let done = DispatchSemaphore(value: 0)
    init(_ body: @escaping () throws -> Void) { self.body = body }
}

/// Runs `body` on its own thread (with the main thread's 8 MiB stack); nil when it has not
/// finished within `seconds` (a hang: the thread is left behind).
private func fuzzRun(within seconds: Double, _ body: @escaping () throws -> Void) -> Result<Void, Error>? {
    let work = FuzzTimedWork(body)
    let thread = Thread {
        work.outcome = Result { try work.body() }
        work.done.signal()
    }
    thread.stackSize = 8 << 20
    thread.start()
    guard work.done.wait(timeout: .now() + seconds) == .success else { return nil }
    return work.outcome
}

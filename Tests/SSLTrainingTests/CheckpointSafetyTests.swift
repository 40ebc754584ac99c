import Foundation
import SSLNN
import SSLTensor
import SSLTestSupport
import SSLTraining
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// A callback with tensor and string state under several keys (checkpoint ordering).
final class StatefulCounter: Callback {
    let key: String
    var count = 0
    init(_ key: String) { self.key = key }
    var stateKey: String { "StatefulCounter[\(key)]" }
    func onTrainBatchEnd(_ trainer: Trainer, _ module: TrainableModule, outputs: Batch, batch: Batch, batchIndex: Int) {
        count += 1
    }
    func stateDict() -> CallbackState {
        CallbackState(tensors: ["alpha": Tensor([Float(count)]), "beta": Tensor([1, 2]), "gamma": Tensor([3]), "delta": Tensor([4])],
                      values: ["count": String(count)])
    }
    func loadStateDict(_ state: CallbackState) throws { count = Int(state.values["count"] ?? "0") ?? 0 }
}

/// Each of issue 17's damaged-checkpoint and lost-work cases, as a user with copied, damaged or
/// read-only files would meet them.
final class CheckpointSafetyTests: XCTestCase {
    private var directory = ""
    override func setUpWithError() throws { directory = try makeTemporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    private func trainer(root: String? = nil, name: String = "run", maxEpochs: Int = 2, logEveryNSteps: Int = 50,
                         callbacks: [Callback] = []) -> Trainer {
        Trainer(maxEpochs: maxEpochs, numSanityValSteps: 0, logEveryNSteps: logEveryNSteps, callbacks: callbacks,
                rootDirectory: root ?? directory, name: name, enableProgressBar: false)
    }

    /// A finished 2-epoch run of 4 batches per epoch; returns its run directory.
    private func finishedRun(name: String = "run", callbacks: [Callback] = []) throws -> String {
        let run = trainer(name: name, callbacks: callbacks)
        try run.fit(makeTinyModule(), train: BatchList(makeBatches(count: 4)))
        return try XCTUnwrap(run.runDirectory)
    }

    /// Rewrites a checkpoint's metadata.
    private func mutateMetadata(_ path: String, _ change: (inout CheckpointMetadata) -> Void) throws {
        var checkpoint = try Checkpoint.read(from: path)
        change(&checkpoint.metadata)
        try checkpoint.write(to: path)
    }

    private func assertResumeFails(_ path: String, mentioning words: [String], line: UInt = #line) {
        XCTAssertThrowsError(try trainer(name: "resumed").fit(makeTinyModule(), train: BatchList(makeBatches(count: 4)),
                                                              resumeFrom: .path(path)), line: line) { error in
            let text = String(describing: error)
            XCTAssertTrue(text.contains((path as NSString).lastPathComponent), "the error names the file: \(text)", line: line)
            for word in words { XCTAssertTrue(text.contains(word), "\"\(word)\" missing from: \(text)", line: line) }
        }
    }

    // MARK: Damaged checkpoints (items 2, 3, 12)

    func testBatchIndexPastTheEpochIsAnErrorNamingTheFile() throws {
        let last = try finishedRun() + "/checkpoints/last.safetensors"
        for index in [5, 1000, 1 << 40] {
            try mutateMetadata(last) { $0.batchIndex = index }
            assertResumeFails(last, mentioning: ["batch \(index)", "4 batches"])
        }
    }

    func testSchedulerStepOf1e30IsAnErrorNamingTheFile() throws {
        let last = try finishedRun() + "/checkpoints/last.safetensors"
        for step: Float in [1e30, -1, 2.5, .nan] {
            try mutateMetadata(last) { XCTAssertNotNil($0.schedulerStates["optimizer"], "the default optimizer's schedule is saved")
                $0.schedulerStates["optimizer"] = ["step": step] }
            assertResumeFails(last, mentioning: ["step"])
        }
    }

    func testUnknownFormatVersionIsAClearError() throws {
        let last = try finishedRun() + "/checkpoints/last.safetensors"
        try mutateMetadata(last) { $0.formatVersion = 2 }
        XCTAssertThrowsError(try Checkpoint.read(from: last)) { error in
            XCTAssertTrue("\(error)".contains("format version 2"), "\(error)")
        }
    }

    // MARK: Copied runs and deletions (item 5)

    func testResumingACopiedRunNeverDeletesTheOriginalsFiles() throws {
        let original = try finishedRun(callbacks: [ModelCheckpoint(saveTopK: 1)])
        let originalFiles = try FileManager.default.contentsOfDirectory(atPath: original + "/checkpoints").sorted()
        XCTAssertEqual(originalFiles, ["epoch=1-step=8.safetensors", "last.safetensors"])
        let copyRoot = directory + "/copy"
        try FileManager.default.createDirectory(atPath: copyRoot + "/run", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: original, toPath: copyRoot + "/run/version_0")

        let resumed = trainer(root: copyRoot, maxEpochs: 3, callbacks: [ModelCheckpoint(saveTopK: 1)])
        try resumed.fit(makeTinyModule(), train: BatchList(makeBatches(count: 4)), resumeFrom: .last)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: original + "/checkpoints").sorted(), originalFiles,
                       "the original run is untouched")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: copyRoot + "/run/version_0/checkpoints").sorted(),
                       ["epoch=2-step=12.safetensors", "last.safetensors"], "the copy replaced its own older checkpoint")
    }

    func testACraftedKeptPathNeverDeletesAFileOutsideTheCheckpointFolder() throws {
        let run = try finishedRun(callbacks: [ModelCheckpoint(saveTopK: 1)])
        let last = run + "/checkpoints/last.safetensors"
        let victim = directory + "/victim.txt"
        let victimCheckpoint = directory + "/epoch=0-step=1.safetensors"
        for path in [victim, victimCheckpoint] { XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data("keep".utf8))) }

        try mutateMetadata(last) { $0.callbackValues["ModelCheckpoint"] = ["count": "1", "path.0": victim] }
        assertResumeFails(last, mentioning: ["victim.txt", "not a checkpoint"])

        try mutateMetadata(last) { $0.callbackValues["ModelCheckpoint"] = ["count": "1", "path.0": victimCheckpoint] }
        let resumed = trainer(maxEpochs: 3, callbacks: [ModelCheckpoint(saveTopK: 1)])
        try resumed.fit(makeTinyModule(), train: BatchList(makeBatches(count: 4)), resumeFrom: .path(last))
        for path in [victim, victimCheckpoint] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: path), "\(path) was deleted")
        }
    }

    // MARK: Logs (item 6) and mid-epoch resume (item 10)

    /// Copies the run directory as a kill after step `step`'s checkpoint (and before the next
    /// step) would leave it: at the start of the following batch.
    private final class SnapshotAfterCheckpoint: Callback {
        let step: Int, destination: String
        var taken = false
        init(step: Int, destination: String) { (self.step, self.destination) = (step, destination) }
        func onTrainBatchStart(_ trainer: Trainer, _ module: TrainableModule, batch: Batch, batchIndex: Int) throws {
            guard trainer.globalStep == step, !taken, let run = trainer.runDirectory else { return }
            taken = true
            try FileManager.default.createDirectory(atPath: (destination as NSString).deletingLastPathComponent,
                                                    withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: run, toPath: destination)
        }
    }

    private func loggedModule(snapshot: SnapshotAfterCheckpoint?) -> SSLModule<TinyParts> {
        let module = makeTinyModule()
        if let snapshot { module.hooks.append(snapshot) }
        return module
    }

    func testAKillRightAfterAMidEpochCheckpointLosesNoMetricsRowsAndResumesByteIdentically() throws {
        let data = BatchList(makeBatches(count: 4))
        let reference = loggedModule(snapshot: nil)
        let full = trainer(name: "full", maxEpochs: 3, logEveryNSteps: 1, callbacks: [ModelCheckpoint(lastEveryNTrainSteps: 3)])
        try full.fit(reference, train: data, validation: BatchList(makeBatches(count: 2, seed: 9)))

        // The run is "killed" right after the step-6 checkpoint: the snapshot is what is left.
        let snapshotRun = directory + "/snapshot/killed/version_0"
        let killed = trainer(name: "killed", maxEpochs: 3, logEveryNSteps: 1, callbacks: [ModelCheckpoint(lastEveryNTrainSteps: 3)])
        try killed.fit(loggedModule(snapshot: SnapshotAfterCheckpoint(step: 6, destination: snapshotRun)), train: data,
                       validation: BatchList(makeBatches(count: 2, seed: 9)))
        let snapshotLast = snapshotRun + "/checkpoints/last.safetensors"
        XCTAssertEqual(try Checkpoint.read(from: snapshotLast).metadata.globalStep, 6)
        XCTAssertEqual(try Checkpoint.read(from: snapshotLast).metadata.batchIndex, 2, "a mid-epoch checkpoint")

        let resumedModule = loggedModule(snapshot: nil)
        let resumed = trainer(root: directory + "/snapshot", name: "killed", maxEpochs: 3, logEveryNSteps: 1,
                              callbacks: [ModelCheckpoint(lastEveryNTrainSteps: 3)])
        try resumed.fit(resumedModule, train: data, validation: BatchList(makeBatches(count: 2, seed: 9)), resumeFrom: .last)
        XCTAssertEqual(resumed.runDirectory, snapshotRun)
        XCTAssertEqual(weightBytes(resumedModule), weightBytes(reference))

        let fullRun = try XCTUnwrap(full.runDirectory)
        XCTAssertEqual(try CSVLoggerRows(fullRun), try CSVLoggerRows(snapshotRun), "metrics.csv: every row once, the same values")
        XCTAssertEqual(try String(contentsOfFile: fullRun + "/metrics.jsonl", encoding: .utf8),
                       try String(contentsOfFile: snapshotRun + "/metrics.jsonl", encoding: .utf8))
    }

    private func CSVLoggerRows(_ run: String) throws -> [String] {
        try String(contentsOfFile: run + "/metrics.csv", encoding: .utf8).split(separator: "\n").map(String.init)
    }

    // MARK: Failed writes (item 7)

    func testACheckpointThatCannotBeWrittenStopsTheFitOrWarnsOnce() throws {
        let blocker = directory + "/blocker"
        XCTAssertTrue(FileManager.default.createFile(atPath: blocker, contents: Data()))
        let unwritable = blocker + "/checkpoints"
        XCTAssertThrowsError(try trainer(callbacks: [ModelCheckpoint(directory: unwritable)])
            .fit(makeTinyModule(), train: BatchList(makeBatches(count: 4)))) { error in
            XCTAssertTrue("\(error)".contains("blocker"), "\(error)")
        }
        let warning = ModelCheckpoint(directory: unwritable, onWriteFailure: .warn)
        let run = trainer(name: "warned", callbacks: [warning])
        try run.fit(makeTinyModule(), train: BatchList(makeBatches(count: 4)))
        XCTAssertEqual(run.globalStep, 8, "the fit went on")
        XCTAssertEqual(warning.writeFailure?.count, 4, "both epoch ends' writes (a kept file and last) failed and were counted")
        XCTAssertTrue(warning.writeFailure?.message.contains("blocker") ?? false)
        XCTAssertNil(warning.lastPath)
    }

    // MARK: Run directories (items 8, 9, 14)

    func testVersionsClaimedConcurrentlyAreAllDistinct() throws {
        let runs = RunDirectory(root: directory, name: "race")
        let claimed = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 24) { _ in
            if let path = try? runs.claimNextVersion() { claimed.withLock { $0.append(path) } }
        }
        let paths = claimed.withLock { $0 }
        XCTAssertEqual(paths.count, 24)
        XCTAssertEqual(Set(paths).count, 24, "two claims shared a version: \(paths.sorted())")
    }

    func testResumeLastFallsBackToTheNewestCompleteCheckpointAndTidiesKilledWrites() throws {
        let run = try finishedRun(callbacks: [ModelCheckpoint(saveTopK: -1)])
        let folder = run + "/checkpoints"
        // A kill between writing epoch=1-step=8 and last: last is the epoch-0 state, or missing.
        try FileManager.default.removeItem(atPath: folder + "/last.safetensors")
        try FileManager.default.copyItem(atPath: folder + "/epoch=0-step=4.safetensors", toPath: folder + "/last.safetensors")
        XCTAssertEqual(try RunDirectory(root: directory, name: "run").newestCompleteCheckpoint(), folder + "/epoch=1-step=8.safetensors")
        try FileManager.default.removeItem(atPath: folder + "/last.safetensors")
        XCTAssertEqual(try RunDirectory(root: directory, name: "run").newestCompleteCheckpoint(), folder + "/epoch=1-step=8.safetensors")

        // Partial files of killed writes: a dead process's go, a live one's stay.
        let finished = Process()
        finished.executableURL = URL(fileURLWithPath: "/bin/true")
        try finished.run()
        finished.waitUntilExit()
        let abandoned = folder + "/.last.safetensors.tmp-\(finished.processIdentifier)-12345"
        let live = folder + "/.last.safetensors.tmp-\(getpid())-777"
        for path in [abandoned, live] { XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(count: 64))) }

        let resumed = trainer(maxEpochs: 3)
        try resumed.fit(makeTinyModule(), train: BatchList(makeBatches(count: 4)), resumeFrom: .last)
        XCTAssertEqual(resumed.globalStep, 12, "continued from step 8")
        XCTAssertFalse(FileManager.default.fileExists(atPath: abandoned), "a killed write's temporary file is removed")
        XCTAssertTrue(FileManager.default.fileExists(atPath: live), "a live process's temporary file is left alone")
    }

    func testARunDirectoryThatIsAFileIsNamedInTheError() throws {
        let file = directory + "/not-a-folder"
        XCTAssertTrue(FileManager.default.createFile(atPath: file, contents: Data("x".utf8)))
        XCTAssertThrowsError(try trainer(root: file).fit(makeTinyModule(), train: BatchList(makeBatches(count: 4)))) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("not-a-folder") && text.contains("is a file"), text)
            XCTAssertFalse(text.contains("NSCocoaErrorDomain"), text)
        }
    }

    // MARK: Reproducible bytes (item 15)

    func testTwoIdenticalRunsWriteTheSameCheckpointTensorsInTheSameOrder() throws {
        func checkpointLayout(_ name: String) throws -> (header: [String], data: Data) {
            let run = try finishedRun(name: name, callbacks: [StatefulCounter("b"), StatefulCounter("a"), StatefulCounter("c")])
            let bytes = try Data(contentsOf: URL(fileURLWithPath: run + "/checkpoints/last.safetensors"))
            let length = Int(bytes.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
            let header = try XCTUnwrap(JSONSerialization.jsonObject(with: bytes.subdata(in: 8..<(8 + length))) as? [String: Any])
            let names = header.keys.filter { $0 != "__metadata__" }.sorted { a, b in
                let x = (header[a] as? [String: Any])?["data_offsets"] as? [Int] ?? []
                let y = (header[b] as? [String: Any])?["data_offsets"] as? [Int] ?? []
                return x.first ?? 0 < y.first ?? 0
            }
            return (names, bytes.subdata(in: (8 + length)..<bytes.count))
        }
        let first = try checkpointLayout("first"), second = try checkpointLayout("second")
        XCTAssertEqual(first.header, second.header)
        XCTAssertEqual(first.data, second.data)
        let callbackKeys = first.header.filter { $0.hasPrefix("callback/") }
        XCTAssertEqual(callbackKeys, callbackKeys.sorted(), "callback tensors in sorted order")
        XCTAssertEqual(callbackKeys.count, 12)
    }
}

/// A value shared between threads in a test.
final class Mutex<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()
    init(_ value: Value) { self.value = value }
    func withLock<T>(_ body: (inout Value) -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body(&value)
    }
}

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
private let fuzzBatchCount = 4

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

// MARK: - A checkpoint taken apart

/// A safetensors checkpoint as editable parts: its tensors (name, dtype, shape, bytes, in data
/// order), its `__metadata__` strings and its decoded `ssl.checkpoint` JSON. `encoded` puts the
/// parts back together with consistent offsets, then applies a mutation's header and byte steps.
private struct FuzzCheckpointImage {
    struct Entry {
        var name: String
        var dtype: String
        var shape: [Int]
        var bytes: [UInt8]
    }
    var entries: [Entry]
    var metadata: [String: String]
    var checkpoint: [String: Any]
    /// Replaces the serialized `ssl.checkpoint` JSON when set.
    var checkpointText: String?

    init(_ file: [UInt8]) throws {
        var length = 0
        for index in 0..<8 { length |= Int(file[index]) << (8 * index) }
        let start = 8 + length
        guard let header = try JSONSerialization.jsonObject(with: Data(file[8..<start])) as? [String: Any],
              let metadata = header["__metadata__"] as? [String: String],
              let json = metadata[Checkpoint.metadataKey],
              let checkpoint = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else {
            throw FuzzImageError()
        }
        var entries: [(begin: Int, entry: Entry)] = []
        for (name, value) in header where name != "__metadata__" {
            guard let info = value as? [String: Any], let dtype = info["dtype"] as? String, let shape = info["shape"] as? [Int],
                  let offsets = info["data_offsets"] as? [Int], offsets.count == 2 else { throw FuzzImageError() }
            entries.append((offsets[0], Entry(name: name, dtype: dtype, shape: shape,
                                              bytes: Array(file[(start + offsets[0])..<(start + offsets[1])]))))
        }
        self.entries = entries.sorted { ($0.begin, $0.entry.bytes.count) < ($1.begin, $1.entry.bytes.count) }.map(\.entry)
        self.metadata = metadata
        self.checkpoint = checkpoint
    }

    var names: [String] { entries.map(\.name) }
    func index(of name: String) -> Int? { entries.firstIndex { $0.name == name } }

    func encoded(_ mutation: FuzzMutation) throws -> [UInt8] {
        var image = self
        for step in mutation.imageSteps { step(&image) }
        var metadata = image.metadata
        metadata[Checkpoint.metadataKey] = try image.checkpointText ?? fuzzJSON(image.checkpoint)
        var header: [String: Any] = ["__metadata__": metadata]
        var data: [UInt8] = []
        for entry in image.entries {
            header[entry.name] = ["dtype": entry.dtype, "shape": entry.shape, "data_offsets": [data.count, data.count + entry.bytes.count]]
            data += entry.bytes
        }
        for step in mutation.headerSteps { step(&header, &data) }
        var file = fuzzFile(headerBytes: Array(try fuzzJSON(header).utf8), data: data)
        for step in mutation.byteSteps { step(&file) }
        return file
    }
}

private struct FuzzImageError: Error {}

/// JSON text of `object` with sorted keys (so a seed always gives the same bytes), where
/// strings `"@raw:TEXT@"` become TEXT verbatim (NaN, 1e400, … which JSON cannot hold).
private func fuzzJSON(_ object: Any) throws -> String {
    let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
    var text = String(decoding: data, as: UTF8.self)
    while let open = text.range(of: "\"@raw:"), let close = text.range(of: "@\"", range: open.upperBound..<text.endIndex) {
        text.replaceSubrange(open.lowerBound..<close.upperBound, with: String(text[open.upperBound..<close.lowerBound]))
    }
    return text
}

/// A safetensors file: the 8-byte little-endian header length, the header padded with spaces
/// to a multiple of 8 (as the writer does), the data.
private func fuzzFile(headerBytes: [UInt8], data: [UInt8]) -> [UInt8] {
    var header = headerBytes
    while (8 + header.count) % 8 != 0 { header.append(0x20) }
    var file = withUnsafeBytes(of: UInt64(header.count).littleEndian) { Array($0) }
    file += header
    file += data
    return file
}

private func fuzzRaw(_ text: String) -> String { "@raw:\(text)@" }

/// `dictionary` with `value` at the nested key `path` (nil removes it).
private func fuzzSetting(_ dictionary: [String: Any], _ path: [String], _ value: Any?) -> [String: Any] {
    guard let first = path.first else { return dictionary }
    var result = dictionary
    if path.count == 1 {
        result[first] = value
    } else {
        result[first] = fuzzSetting(result[first] as? [String: Any] ?? [:], Array(path.dropFirst()), value)
    }
    return result
}

private func fuzzPick<T>(_ items: [T], _ generator: inout RandomGenerator) -> T {
    items[generator.nextInt(below: items.count)]
}

// MARK: - Mutations

/// One damage to a checkpoint: steps on its parts, its header object and its bytes, and what a
/// resume must do with it.
private struct FuzzMutation {
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
private struct FuzzCheckpointMutations {
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

    // MARK: Header entries

    func entryField(_ name: String, _ field: String, _ value: Any?, mustThrow: Bool = false) -> FuzzMutation {
        var mutation = FuzzMutation(kind: .headerEntry, label: "\(name).\(field) = \(value.map { "\($0)" } ?? "removed")",
                                    mustThrow: mustThrow)
        mutation.headerSteps = [{ header, _ in header = fuzzSetting(header, [name, field], value) }]
        return mutation
    }

    func headerEntry(_ generator: inout RandomGenerator) -> FuzzMutation {
        let name = fuzzPick(image.names, &generator)
        guard let entry = image.index(of: name).map({ image.entries[$0] }) else { preconditionFailure("no entry \(name)") }
        let count = entry.shape.reduce(1, *)
        let huge = 4_000_000_000_000_000
        switch generator.nextInt(below: 4) {
        case 0:
            let shapes: [(Any?, Bool)] = [
                ([0, huge, huge], true), ([huge, huge, 0], true), ([-1], true), ([-3, -4], true), ([1.5, 2], true),
                ([Double(count)], false), ([1e30], true), ([9_007_199_254_740_993], true), ([Int.max], true),
                ([UInt64.max], true), ([], count != 1), (["3"], true), ([NSNull()], true), ("3x4", true), (12, true),
                ([[count]], true), ([true], false), ([1 << 24, 1 << 24, 0], true), ([1 << 48, 0], true),
                ([(1 << 48) + 1, 0], true), ([0], count != 0), ([count + 1], true), (Array(entry.shape.reversed()), false),
                ([1, count], false), (Array(repeating: 1, count: 200) + [count], false), (nil, true),
                ([fuzzRaw("NaN")], true), ([fuzzRaw("-0")], count != 0), ([fuzzRaw("1e400")], true),
            ]
            let (shape, mustThrow) = fuzzPick(shapes, &generator)
            return entryField(name, "shape", shape, mustThrow: mustThrow)
        case 1:
            let dtypes: [(Any?, Bool)] = [
                ("F64", true), ("F16", true), ("BF16", true), ("I64", true), ("I32", false), ("I16", true), ("I8", true),
                ("U8", true), ("BOOL", true), ("f32", true), ("F8_E4M3", true), ("", true), (5, true), (NSNull(), true),
                (["F32"], true), (nil, true), ("U32", true), ("F32 ", true),
            ]
            let (dtype, mustThrow) = fuzzPick(dtypes, &generator)
            return entryField(name, "dtype", dtype, mustThrow: mustThrow && count > 0)
        case 2:
            var mutation = FuzzMutation(kind: .headerEntry, label: "", mustThrow: true)
            let choice = generator.nextInt(below: 16)
            mutation.label = "\(name).data_offsets #\(choice)"
            mutation.headerSteps = [{ header, data in
                guard let offsets = (header[name] as? [String: Any])?["data_offsets"] as? [Int], offsets.count == 2 else { return }
                let (begin, end) = (offsets[0], offsets[1])
                let values: [Any] = [
                    [end, begin], [begin, end &+ 4], [begin &- 4, end &- 4], [0, data.count &+ 1], [begin, begin], [-4, end],
                    [begin, 1e30], [begin, Int.max], [begin, UInt64.max], [begin], [begin, end, end], ["0", "4"],
                    [0.5, end], "0-4", [begin &+ data.count, end &+ data.count], [begin &+ 4, end &+ 4],
                ]
                header = fuzzSetting(header, [name, "data_offsets"], values[choice])
            }]
            return mutation
        default:
            let replacements: [(String, Any?)] = [
                ("not an object", 5), ("a string", "F32"), ("an array", [1, 2]), ("null", NSNull()),
                ("an extra field", "extra"), ("no data_offsets", "-data_offsets"), ("no dtype", "-dtype"),
            ]
            let (what, value) = fuzzPick(replacements, &generator)
            var mutation = FuzzMutation(kind: .headerEntry, label: "\(name) entry is \(what)", mustThrow: what != "an extra field")
            mutation.headerSteps = [{ header, _ in
                switch value {
                case let field as String where field.hasPrefix("-"):
                    header = fuzzSetting(header, [name, String(field.dropFirst())], nil)
                case let field as String where field == "extra":
                    header = fuzzSetting(header, [name, "extra"], [1, 2])
                default:
                    header[name] = value
                }
            }]
            return mutation
        }
    }

    // MARK: Header structure

    func headerStructure(_ generator: inout RandomGenerator) -> FuzzMutation {
        let name = fuzzPick(image.names, &generator)
        var mutation = FuzzMutation(kind: .headerStructure, label: "", mustThrow: true)
        switch generator.nextInt(below: 8) {
        case 0:
            mutation.label = "\(name) removed from the header (its bytes stay)"
            mutation.headerSteps = [{ header, _ in header[name] = nil }]
        case 1:
            let copy = fuzzPick(["\(name).copy", "optimizer/optimizer/param.x.step", "zz"], &generator)
            mutation.label = "\(name) duplicated as \(copy) (same bytes)"
            mutation.headerSteps = [{ header, _ in header[copy] = header[name] }]
        case 2:
            mutation.label = "\(name) renamed to __metadata__"
            mutation.headerSteps = [{ header, _ in
                header["__metadata__"] = header[name]
                header[name] = nil
            }]
        case 3:
            let cut = generator.nextInt(below: 10_000)
            mutation.label = "header JSON cut at \(cut) of its length"
            mutation.byteSteps = [{ file in fuzzReplaceHeader(&file) { text in text = Array(text.prefix(text.count * cut / 10_000)) } }]
        case 4:
            let position = generator.nextInt(below: 10_000)
            let byte = fuzzPick(Array("{}[]\",:0-eE.\\ ".utf8) + [0, 0xff, 0xc3, 0x7f], &generator)
            mutation.label = "header byte at \(position)/10000 set to \(byte)"
            mutation.mustThrow = false  // a space for a space, a digit for a digit in a learning rate…
            mutation.byteSteps = [{ file in fuzzReplaceHeader(&file) { text in
                guard !text.isEmpty else { return }
                text[Swift.min(text.count - 1, text.count * position / 10_000)] = byte
            } }]
        case 5:
            let depth = fuzzPick([100, 600, 100_000], &generator)
            mutation.label = "an entry's shape nested \(depth) deep"
            mutation.byteSteps = [{ file in fuzzReplaceHeader(&file) { text in
                let nested = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
                text = Array("{\"deep\":{\"dtype\":\"F32\",\"shape\":\(nested),\"data_offsets\":[0,0]},".utf8) + text.dropFirst()
            } }]
        case 6:
            let body = fuzzPick(["[]", "null", "\"text\"", "", "   ", "{}", "{\"__metadata__\":{}}", "{\"a\":NaN}",
                                 "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}"], &generator)
            mutation.label = "header replaced by \(body)"
            mutation.byteSteps = [{ file in fuzzReplaceHeader(&file) { text in text = Array(body.utf8) } }]
        default:
            mutation.label = "\(name) given twice in the header text (first as F64)"
            mutation.mustThrow = false
            mutation.byteSteps = [{ file in fuzzReplaceHeader(&file) { text in
                let duplicate = "{\"\(name)\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]},"
                text = Array(duplicate.utf8) + text.dropFirst()
            } }]
        }
        return mutation
    }

    func headerLength(_ generator: inout RandomGenerator) -> FuzzMutation {
        let choice = generator.nextInt(below: 16)
        let random = generator.next()
        var mutation = FuzzMutation(kind: .headerLength, label: "header length #\(choice)", mustThrow: true)
        mutation.byteSteps = [{ file in
            let length = max(8, fuzzHeaderLength(file))
            let size = max(8, file.count)
            let values: [UInt64] = [
                0, 1, 2, 7, UInt64(length - 1), UInt64(length + 1), UInt64(length - 8), UInt64(length + 8),
                UInt64(size - 8), UInt64(size - 7), UInt64(size), 1 << 32, 1 << 63, .max, random,
            ]
            if choice < values.count {
                if file.count < 8 { file += Array(repeating: 0, count: 8 - file.count) }
                withUnsafeBytes(of: values[choice].littleEndian) { file.replaceSubrange(0..<8, with: $0) }
            } else {
                file = Array(file.prefix(Int(random % 8)))
            }
        }]
        return mutation
    }

    // MARK: Metadata

    func metadataMap(_ generator: inout RandomGenerator) -> FuzzMutation {
        let cases: [(String, Any?)] = [
            ("__metadata__ = 5", 5), ("__metadata__ = []", [Any]()), ("__metadata__ = \"x\"", "x"),
            ("__metadata__ = null", NSNull()), ("no __metadata__", nil), ("ssl.checkpoint = 5", ["ssl.checkpoint": 5]),
            ("no ssl.checkpoint", ["format": "pt"]), ("ssl.checkpoint empty", ["ssl.checkpoint": ""]),
            ("ssl.checkpoint = {", ["ssl.checkpoint": "{"]), ("ssl.checkpoint = []", ["ssl.checkpoint": "[]"]),
            ("ssl.checkpoint = null", ["ssl.checkpoint": "null"]), ("ssl.checkpoint = 5 (text)", ["ssl.checkpoint": "5"]),
            ("ssl.checkpoint = {} (text)", ["ssl.checkpoint": "{}"]),
        ]
        let (label, value) = fuzzPick(cases, &generator)
        var mutation = FuzzMutation(kind: .metadataMap, label: label, mustThrow: true)
        mutation.headerSteps = [{ header, _ in header["__metadata__"] = value }]
        if generator.nextInt(below: 3) == 0 {
            mutation.label = "an extra non-string __metadata__ value"
            mutation.headerSteps = [{ header, _ in header = fuzzSetting(header, ["__metadata__", "extra"], [1]) }]
        }
        return mutation
    }

    func metadataField(_ path: [String], _ value: Any?, mustThrow: Bool = false, kind: FuzzMutation.Kind = .trainerMetadata)
        -> FuzzMutation
    {
        var mutation = FuzzMutation(kind: kind, label: "\(path.joined(separator: ".")) = \(value.map { "\($0)" } ?? "removed")",
                                    mustThrow: mustThrow)
        mutation.imageSteps = [{ image in image.checkpoint = fuzzSetting(image.checkpoint, path, value) }]
        return mutation
    }

    func trainerMetadata(_ generator: inout RandomGenerator) -> FuzzMutation {
        if generator.nextInt(below: 4) == 0 {
            let states: [(Any?, Bool)] = [
                ([Int](), true), ([1, 2, 3], true), ([1, 2, 3, 4, 5], true), ([0, 0, 0, 0], false), ([-1, 1, 1, 1], true),
                ([1.5, 1, 1, 1], true), (["a", 1, 1, 1], true), (Array(repeating: UInt64.max, count: 4), false),
                ([fuzzRaw("18446744073709551616"), 1, 1, 1], true), (NSNull(), true), (5, true), (nil, true),
                ([fuzzRaw("1e400"), 1, 1, 1], true),
            ]
            let (state, mustThrow) = fuzzPick(states, &generator)
            return metadataField(["generatorState"], state, mustThrow: mustThrow)
        }
        let fields = ["epoch", "batchIndex", "globalStep", "elapsedSeconds", "loggedRowCount", "formatVersion",
                      "stepRowPending", "integerKeys", "hyperparameters", "callbackMetrics"]
        let field = fuzzPick(fields, &generator)
        let values: [Any?] = [
            0, 1, 2, 4, 5, 1000, 1 << 40, (1 << 40) + 1, 1 << 53, Int.max, 9.3e18, 1e30, -1, -(1 << 40), 1.5,
            fuzzRaw("NaN"), "nan", "inf", "5", NSNull(), true, [Any](), [String: Any](), nil,
            ["encoder.weight", "nope"], ["train/loss": "nan"], ["train/loss": fuzzRaw("1e39")], ["x": 5],
        ]
        let value = fuzzPick(values, &generator)
        return metadataField([field], value, mustThrow: mustRefuse(field: field, value: value))
    }

    /// Whether a trainer metadata field set to `value` can only be refused (false where the
    /// outcome depends on the decoder: a Bool from a number, a Float that overflows).
    private func mustRefuse(field: String, value: Any?) -> Bool {
        let optional = field == "loggedRowCount" || field == "stepRowPending"
        guard let value, !(value is NSNull) else { return !optional }
        if value is String { return true }  // no field is a string; "@raw:NaN@" is not JSON
        if let array = value as? [Any] { return field != "integerKeys" || !array.allSatisfy { $0 is String } }
        if let map = value as? [String: Any] {
            switch field {
            case "hyperparameters": return !map.values.allSatisfy { $0 is String }
            case "callbackMetrics": return false
            default: return true
            }
        }
        if value is Bool { return false }
        let number: Double
        if let int = value as? Int { number = Double(int) } else if let double = value as? Double { number = double } else { return false }
        let whole = number == number.rounded()
        switch field {
        case "formatVersion": return number != 1
        case "epoch", "globalStep", "loggedRowCount": return number < 0 || number > Double(Int.largestSavedCount) || !whole
        case "batchIndex": return number < 0 || number > Double(fuzzBatchCount) || !whole
        case "elapsedSeconds": return number < 0
        case "stepRowPending": return false
        default: return true
        }
    }

    func schedulerState(_ generator: inout RandomGenerator) -> FuzzMutation {
        let steps: [(Any?, Bool)] = [
            (1e30, true), (-1, true), (1.5, true), (1 << 40, false), (Double(1 << 41), true), (0, false), (3, false),
            ("nan", true), ("inf", true), (3.4e38, true), (fuzzRaw("1e39"), true), (NSNull(), true), ("x", true),
            (nil, true), (fuzzRaw("NaN"), true), (1e-30, true),
        ]
        switch generator.nextInt(below: 3) {
        case 0, 1:
            let (step, mustThrow) = fuzzPick(steps, &generator)
            return metadataField(["schedulerStates", "optimizer", "step"], step, mustThrow: mustThrow, kind: .schedulerState)
        default:
            let states: [(Any?, Bool)] = [
                ([String: Any](), false), (["other": ["step": 1]], false), (5, true), (["optimizer": 5], true),
                (["optimizer": [String: Any]()], true), (["optimizer": ["step": 2, "extra": 1]], false), (nil, true),
            ]
            let (state, mustThrow) = fuzzPick(states, &generator)
            return metadataField(["schedulerStates"], state, mustThrow: mustThrow, kind: .schedulerState)
        }
    }

    func callbackState(_ generator: inout RandomGenerator) -> FuzzMutation {
        let mc = "ModelCheckpoint", es = "EarlyStopping"
        switch generator.nextInt(below: 6) {
        case 0:
            let counts: [(String, Bool)] = [("-1", true), ("0", false), ("1", false), ("2", true), ("3", true), ("1048576", true),
                                            ("1048577", true), ("99999999999999999999", true), ("abc", true), ("", true),
                                            (" 1", true), ("1.5", true)]
            let (count, mustThrow) = fuzzPick(counts, &generator)
            return metadataField(["callbackValues", mc, "count"], count, mustThrow: mustThrow, kind: .callbackState)
        case 1:
            let paths: [(String, Bool)] = [
                ("/etc/passwd", true), (outside, false), ("../x", true), ("../../outside/epoch=0-step=2.safetensors", false),
                ("", true), ("epoch=0-step=2.safetensors", false), ("epoch=-step=2.safetensors", true),
                ("epoch=0-step=99999999999999999999999.safetensors", false), ("epoch=\u{663}-step=2.safetensors", true),
                ("last.safetensors", true), ("\u{0}", true), ("/", true), ("epoch=0-step=2.safetensors/..", true),
            ]
            let (path, mustThrow) = fuzzPick(paths, &generator)
            // Two kept entries: the resume's first save trims to one and deletes the others.
            var mutation = metadataField(["callbackValues", mc, "path.0"], path, mustThrow: mustThrow, kind: .callbackState)
            mutation.imageSteps.append { image in
                image.checkpoint = fuzzSetting(image.checkpoint, ["callbackValues", mc, "count"], "2")
                image.checkpoint = fuzzSetting(image.checkpoint, ["callbackValues", mc, "path.1"], path)
            }
            return mutation
        case 2:
            let scores: [(String, Bool)] = [("abc", true), ("nan", true), ("inf", false), ("-inf", false), ("1e40", false),
                                            ("", true), ("0x1p3", false), ("-0", false)]
            let (score, mustThrow) = fuzzPick(scores, &generator)
            return metadataField(["callbackValues", mc, "score.0"], score, mustThrow: mustThrow, kind: .callbackState)
        case 3:
            let waits: [(String, Bool)] = [("-1", true), ("0", false), ("4", false), ("5", false), ("1000", false),
                                           ("1099511627776", false), ("1099511627777", true), ("abc", true), ("", true),
                                           ("1e3", true)]
            let (wait, mustThrow) = fuzzPick(waits, &generator)
            return metadataField(["callbackValues", es, "wait"], wait, mustThrow: mustThrow, kind: .callbackState)
        case 4:
            let values: [(String, String, Bool)] = [
                ("best", "nan", true), ("best", "inf", false), ("best", "-inf", false), ("best", "abc", true), ("best", "", true),
                ("best", "1e39", false), ("best", "-0", false), ("stopped_epoch", "3", false), ("stopped_epoch", "-2", true),
                ("stopped_epoch", "x", true),
            ]
            let (field, value, mustThrow) = fuzzPick(values, &generator)
            return metadataField(["callbackValues", es, field], value, mustThrow: mustThrow, kind: .callbackState)
        default:
            let whole: [([String], Any?, Bool)] = [
                (["callbackValues"], nil, true), (["callbackValues"], [String: Any](), false), (["callbackValues", es], 5, true),
                (["callbackValues", es, "wait"], 5, true), (["callbackValues", mc], nil, false),
                (["callbackValues", "Unknown"], ["a": "b"], false), (["callbackValues", mc, "count"], nil, false),
            ]
            let (path, value, mustThrow) = fuzzPick(whole, &generator)
            return metadataField(path, value, mustThrow: mustThrow, kind: .callbackState)
        }
    }

    func metricState(_ generator: inout RandomGenerator) -> FuzzMutation {
        let cases: [([String], Any?, Bool)] = [
            (["epochSums", "train/loss"], [1], true), (["epochSums", "train/loss"], [1, 2, 3], true),
            (["epochSums", "train/loss"], [Any](), true), (["epochSums", "train/loss"], ["nan", 1], true),
            (["epochSums", "train/loss"], [1, "nan"], true), (["epochSums", "train/loss"], [1, -1], true),
            (["epochSums", "train/loss"], [1, 0], false), (["epochSums", "train/loss"], [1e308, 1e308], false),
            (["epochSums", "train/loss"], [1, "inf"], true), (["epochSums", "train/loss"], ["inf", 1], true),
            (["epochSums", "train/loss"], [-1e308, 1e-308], false), (["epochSums", "train/loss"], ["x", 1], true),
            (["epochSums"], 5, true), (["epochSums", "other"], [1, 1], false), (["stepValues", "train/loss_step"], "nan", false),
            (["stepValues", "train/loss_step"], "inf", false), (["stepValues", "train/loss_step"], fuzzRaw("1e39"), true),
            (["epochNames", "train/loss"], "", false), (["epochNames"], nil, true), ([], NSNull(), false), ([], nil, false),
            ([], 5, true), (["stepValues"], [Any](), true),
        ]
        let (path, value, mustThrow) = fuzzPick(cases, &generator)
        return metadataField(["metricState"] + path, value, mustThrow: mustThrow, kind: .metricState)
    }

    // MARK: Tensors

    func tensorFill(_ name: String, _ value: Double, mustThrow: Bool = false, kind: FuzzMutation.Kind = .tensorValues)
        -> FuzzMutation
    {
        var mutation = FuzzMutation(kind: kind, label: "\(name) filled with \(value)", mustThrow: mustThrow)
        mutation.imageSteps = [{ image in
            guard let index = image.index(of: name) else { return }
            let word = Float(value).bitPattern.littleEndian
            image.entries[index].bytes = (0..<(image.entries[index].bytes.count / 4)).flatMap { _ in
                withUnsafeBytes(of: word) { Array($0) }
            }
        }]
        return mutation
    }

    func tensorValues(_ generator: inout RandomGenerator) -> FuzzMutation {
        let name = fuzzPick(modelKeys + slotKeys + optimizerKeys, &generator)
        let isModel = !name.contains("/")
        let isSlot = name.hasSuffix(".exp_avg") || name.hasSuffix(".exp_avg_sq")
        let values: [Double] = [.nan, .infinity, -.infinity, 3e38, -3e38, 1e-45, 0, -1, 1e20]
        let value = fuzzPick(values, &generator)
        var mutation: FuzzMutation
        if generator.nextInt(below: 4) == 0 {
            // One random word of the tensor to random bits.
            let position = generator.nextInt(below: 1 << 20), bits = UInt32(truncatingIfNeeded: generator.next())
            mutation = FuzzMutation(kind: .tensorValues, label: "\(name) word \(position) set to bits \(bits)")
            mutation.imageSteps = [{ image in
                guard let index = image.index(of: name), image.entries[index].bytes.count >= 4 else { return }
                let at = 4 * (position % (image.entries[index].bytes.count / 4))
                withUnsafeBytes(of: bits.littleEndian) { image.entries[index].bytes.replaceSubrange(at..<(at + 4), with: $0) }
            }]
            mutation.mayDiverge = true
            return mutation
        }
        mutation = tensorFill(name, value)
        // Every value must be finite; steps whole counts; second moments in [0, 1e36]; other
        // optimizer slots within ±1e18. Finite model weights of any size load (then may diverge).
        let isSecondMoment = name.hasSuffix(".exp_avg_sq")
        mutation.mustThrow = !value.isFinite || (name.hasSuffix(".step") && (value < 0 || value > 1e12))
            || (name.hasSuffix(".step") && value == 1e-45)
            || (isSlot && isSecondMoment && (value < 0 || value > 1e36))
            || (isSlot && !isSecondMoment && Swift.abs(value) > 1e18)
        mutation.mayDiverge = isModel || isSlot
        return mutation
    }

    func tensorShape(_ generator: inout RandomGenerator) -> FuzzMutation {
        let name = fuzzPick(modelKeys + optimizerKeys, &generator)
        guard let original = image.index(of: name).map({ image.entries[$0] }) else { preconditionFailure("no entry \(name)") }
        let count = original.shape.reduce(1, *)
        let changes: [(String, [Int], Int)] = [  // label, shape, element count
            ("flattened", [count], count), ("with a leading 1", [1] + original.shape, count),
            ("reversed", original.shape.reversed(), count), ("one longer", [count + 1], count + 1), ("empty", [0], 0),
            ("a scalar", [], 1), ("with a zero dimension", original.shape + [0], 0), ("doubled", original.shape + [2], 2 * count),
        ]
        let (label, shape, elements) = fuzzPick(changes, &generator)
        let dtype = fuzzPick(["F32", "F32", "F64", "F16", "BF16", "I64", "I32"], &generator)
        var mutation = FuzzMutation(kind: .tensorShape, label: "\(name) \(label) \(shape) as \(dtype)")
        let sameShape = shape == original.shape || (elements == 1 && count == 1)
        mutation.mustThrow = !sameShape
        mutation.imageSteps = [{ image in
            guard let index = image.index(of: name) else { return }
            let old = image.entries[index].bytes
            let floats = (0..<elements).map { i -> Float in
                let at = 4 * (i % Swift.max(1, old.count / 4))
                guard old.count >= 4 else { return 1 }
                return Float(bitPattern: UInt32(old[at]) | UInt32(old[at + 1]) << 8 | UInt32(old[at + 2]) << 16 | UInt32(old[at + 3]) << 24)
            }
            image.entries[index].shape = shape
            image.entries[index].dtype = dtype
            image.entries[index].bytes = floats.flatMap { fuzzEncode($0, as: dtype) }
        }]
        // Weights and moments stored in a narrower or integer dtype load rounded.
        mutation.mayDiverge = true
        return mutation
    }

    func stateKeys(_ generator: inout RandomGenerator) -> FuzzMutation {
        let adds: [(String, [Int], Bool)] = [
            ("extra.weight", [2], true), ("optimizer/optimizer", [1], true), ("optimizer/other/param.x.step", [], false),
            ("optimizer/optimizer/param.nope.exp_avg", [3], true), ("optimizer/optimizer/group.nope.learning_rate", [], true),
            ("optimizer/optimizer/weird", [], true), ("optimizer/optimizer/param.encoder.weight.bogus", [3, 4], false),
            ("optimizer/optimizer/param.encoder.weight.exp_avg_sq2", [4, 3], true), ("callback/ModelCheckpoint/x", [2], false),
            ("callback/EarlyStopping/wait", [], false), ("callback/Nobody/x", [1], false), ("optimizer//x", [1], false),
            ("optimizer/optimizer/param..step", [], true), ("", [1], true), ("callback/x", [1], true),
        ]
        if generator.nextInt(below: 2) == 0 {
            let (name, shape, mustThrow) = fuzzPick(adds, &generator)
            var mutation = FuzzMutation(kind: .stateKeys, label: "added \"\(name)\" \(shape)", mustThrow: mustThrow)
            mutation.imageSteps = [{ image in
                if let index = image.index(of: name) { image.entries.remove(at: index) }
                let bytes = (0..<shape.reduce(1, *)).flatMap { _ in fuzzEncode(1, as: "F32") }
                image.entries.append(.init(name: name, dtype: "F32", shape: shape, bytes: bytes))
            }]
            return mutation
        }
        let name = fuzzPick(image.names, &generator)
        let renamed = generator.nextInt(below: 3) == 0
        let target = name + ".renamed"
        var mutation = FuzzMutation(kind: .stateKeys, label: renamed ? "\(name) renamed to \(target)" : "\(name) removed",
                                    mustThrow: !name.contains("/") || renamed)
        mutation.imageSteps = [{ image in
            guard let index = image.index(of: name) else { return }
            if renamed { image.entries[index].name = target } else { image.entries.remove(at: index) }
        }]
        return mutation
    }

    func optimizerStep(_ generator: inout RandomGenerator) -> FuzzMutation {
        let name = fuzzPick(stepKeys, &generator)
        let values: [(Double, Bool)] = [(1e30, true), (-1, true), (.nan, true), (1.5, true), (.infinity, true),
                                        (Double(1 << 40), false), (Double(1 << 41), true), (0, false), (1e-45, true), (1, false)]
        if generator.nextInt(below: 5) == 0 {
            var mutation = FuzzMutation(kind: .optimizerStep, label: "\(name) as two values", mustThrow: true)
            mutation.imageSteps = [{ image in
                guard let index = image.index(of: name) else { return }
                image.entries[index].shape = [2]
                image.entries[index].bytes += image.entries[index].bytes
            }]
            return mutation
        }
        let (value, mustThrow) = fuzzPick(values, &generator)
        return tensorFill(name, value, mustThrow: mustThrow, kind: .optimizerStep)
    }
}


/// The little-endian bytes of `value` in a safetensors dtype.
private func fuzzEncode(_ value: Float, as dtype: String) -> [UInt8] {
    func bytes<T>(_ word: T) -> [UInt8] { withUnsafeBytes(of: word) { Array($0) } }
    switch dtype {
    case "F64": return bytes(Double(value).bitPattern.littleEndian)
    case "F16": return bytes(Float16(value).bitPattern.littleEndian)
    case "BF16": return bytes(UInt16(truncatingIfNeeded: value.bitPattern >> 16).littleEndian)
    case "I64": return bytes(Int64(value.isFinite ? Swift.max(-1e18, Swift.min(1e18, value.rounded())) : 0).littleEndian)
    case "I32": return bytes(Int32(value.isFinite ? Swift.max(-2e9, Swift.min(2e9, value.rounded())) : 0).littleEndian)
    default: return bytes(value.bitPattern.littleEndian)
    }
}

/// Replaces the header text of a safetensors file (its padding kept out), fixing the length.
/// A file whose length field an earlier step damaged counts as all header.
private func fuzzReplaceHeader(_ file: inout [UInt8], _ change: (inout [UInt8]) -> Void) {
    if file.count < 8 { file += Array(repeating: 0, count: 8 - file.count) }
    let length = fuzzHeaderLength(file)
    var text = Array(file[8..<(8 + length)])
    while text.last == 0x20 { text.removeLast() }
    change(&text)
    file = fuzzFile(headerBytes: text, data: Array(file[(8 + length)...]))
}

/// The header length a file declares, clamped to what follows it (0 for a file under 8 bytes).
private func fuzzHeaderLength(_ file: [UInt8]) -> Int {
    guard file.count >= 8 else { return 0 }
    var length: UInt64 = 0
    for index in 0..<8 { length |= UInt64(file[index]) << (8 * UInt64(index)) }
    return Int(min(length, UInt64(file.count - 8)))
}

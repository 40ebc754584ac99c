import Foundation
import SSLNN

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The run directories of one run name, `<root>/<name>/version_<n>`, as Lightning lays them
/// out: claiming a new one (atomically, so two runs started together never share a version),
/// finding the checkpoint to resume from, and tidying what killed writes left behind.
///
/// ```swift
/// let runs = RunDirectory(root: "runs", name: "simclr")
/// let directory = try runs.claimNextVersion()          // runs/simclr/version_3
/// let checkpoint = try runs.newestCompleteCheckpoint()  // for --resume last
/// ```
public struct RunDirectory: Sendable {
    /// `<root>/<name>`.
    public let base: String

    public init(root: String, name: String) {
        base = (root as NSString).appendingPathComponent(name)
    }

    /// The `version_<n>` numbers that exist, newest first.
    public func versions() -> [Int] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: base)) ?? []
        return entries.compactMap { $0.hasPrefix("version_") ? Int($0.dropFirst("version_".count)) : nil }.sorted(by: >)
    }

    public func path(ofVersion number: Int) -> String {
        (base as NSString).appendingPathComponent("version_\(number)")
    }

    /// Creates `version_<n>` for the first free n after the newest, claiming it with a
    /// `mkdir` that fails if the directory exists (then the next number is tried), so two
    /// runs started at the same moment get different versions.
    public func claimNextVersion() throws -> String {
        try createBase()
        var number = (versions().first ?? -1) + 1
        for _ in 0..<10_000 {
            let candidate = path(ofVersion: number)
            if mkdir(candidate, 0o755) == 0 { return candidate }
            let code = errno
            guard code == EEXIST else {
                throw TrainingError.badFile(path: candidate, problem: "cannot create the run directory: \(String(cString: strerror(code)))")
            }
            number += 1
        }
        throw TrainingError.badFile(path: base, problem: "no free version_<n> directory after 10000 tries")
    }

    /// Creates (or reuses) `version_<number>`.
    public func use(version number: Int) throws -> String {
        try createBase()
        let candidate = path(ofVersion: number)
        try Self.createDirectory(candidate)
        return candidate
    }

    private func createBase() throws {
        try Self.createDirectory(base)
    }

    /// Creates `path` and its parents, saying which component is in the way when one is a file.
    static func createDirectory(_ path: String) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else {
                throw TrainingError.badFile(path: path, problem: "is a file, not a directory (the run directory must be a folder)")
            }
            return
        }
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            prefix = (prefix as NSString).appendingPathComponent(String(component))
            if FileManager.default.fileExists(atPath: prefix, isDirectory: &isDirectory), !isDirectory.boolValue {
                throw TrainingError.badFile(path: prefix, problem: "is a file, so \(path) cannot be created as a directory")
            }
        }
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            let reason = (error as NSError).userInfo[NSUnderlyingErrorKey].map { "\($0)" } ?? error.localizedDescription
            throw TrainingError.badFile(path: path, problem: "cannot be created as a directory: \(reason)")
        }
    }

    // MARK: Finding a checkpoint

    /// The newest complete checkpoint of the newest run that has one: its `last.safetensors`,
    /// or a periodic `epoch=E-step=S.safetensors` with more steps (a kill between writing the
    /// two leaves `last` behind or missing). Files that do not read as checkpoints are skipped.
    public func newestCompleteCheckpoint() throws -> String {
        for number in versions() {
            let folder = (path(ofVersion: number) as NSString).appendingPathComponent("checkpoints")
            if let found = Self.newestCompleteCheckpoint(in: folder) { return found }
        }
        throw TrainingError.checkpointNotFound("no complete checkpoint in \(base)/version_*/checkpoints (train once with checkpointing enabled, or pass a path)")
    }

    /// The checkpoint in `folder` with the most optimizer steps that reads completely. Periodic
    /// files are tried newest first (by the step in their name) and only while they could be
    /// newer than `last`, so a folder of many checkpoints costs one or two reads.
    static func newestCompleteCheckpoint(in folder: String) -> String? {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        let lastPath = (folder as NSString).appendingPathComponent(ModelCheckpoint.lastName)
        let lastStep = names.contains(ModelCheckpoint.lastName) ? (try? Checkpoint.read(from: lastPath))?.metadata.globalStep : nil
        let periodic = names.compactMap { name -> (name: String, step: Int)? in
            guard ModelCheckpoint.isCheckpointName(name), let step = ModelCheckpoint.step(inName: name) else { return nil }
            return (name, step)
        }.sorted { $0.step > $1.step }
        for candidate in periodic where candidate.step > (lastStep ?? -1) {
            let path = (folder as NSString).appendingPathComponent(candidate.name)
            if let checkpoint = try? Checkpoint.read(from: path), checkpoint.metadata.globalStep > (lastStep ?? -1) {
                return path
            }
        }
        return lastStep == nil ? nil : lastPath
    }

    // MARK: Tidying

    /// Removes the temporary files of checkpoint writes that were killed (`.<name>.tmp-<pid>-<n>`
    /// whose process is gone) from every version's `checkpoints` folder; returns what it removed.
    @discardableResult
    public func removeAbandonedTemporaryFiles() -> [String] {
        versions().flatMap { number in
            AtomicFile.removeAbandonedTemporaryFiles(in: (path(ofVersion: number) as NSString).appendingPathComponent("checkpoints"))
        }
    }
}

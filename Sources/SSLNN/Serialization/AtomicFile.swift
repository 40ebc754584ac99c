import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes files so that a crash or kill never leaves a partial file under the final name: the
/// bytes go to a temporary file in the same directory, which is flushed to disk (`fsync`) and
/// then renamed over the destination; the directory is synced so the rename survives a crash.
public enum AtomicFile {
    /// Writes `data` to `path` atomically.
    public static func write(_ data: Data, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent().path
        let temporary = "\(directory)/.\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        guard descriptor >= 0 else {
            throw AtomicFileError(path: path, problem: "cannot create temporary file \(temporary): \(String(cString: strerror(errno)))")
        }
        var written = 0
        let failure: String? = data.withUnsafeBytes { buffer -> String? in
            while written < buffer.count {
                guard let base = buffer.baseAddress else { return nil }
                let result = systemWrite(descriptor, base + written, buffer.count - written)
                if result < 0 {
                    if errno == EINTR { continue }
                    return "write failed: \(String(cString: strerror(errno)))"
                }
                written += result
            }
            return nil
        }
        if let failure {
            close(descriptor)
            unlink(temporary)
            throw AtomicFileError(path: path, problem: failure)
        }
        guard fsync(descriptor) == 0 else {
            let message = String(cString: strerror(errno))
            close(descriptor)
            unlink(temporary)
            throw AtomicFileError(path: path, problem: "fsync failed: \(message)")
        }
        close(descriptor)
        guard rename(temporary, path) == 0 else {
            let message = String(cString: strerror(errno))
            unlink(temporary)
            throw AtomicFileError(path: path, problem: "rename into place failed: \(message)")
        }
        let directoryDescriptor = open(directory.isEmpty ? "." : directory, O_RDONLY)
        if directoryDescriptor >= 0 {
            fsync(directoryDescriptor)
            close(directoryDescriptor)
        }
    }
}

/// A file that could not be written: which file and why.
public struct AtomicFileError: Error, CustomStringConvertible, Equatable {
    public let path: String
    public let problem: String
    public var description: String { "cannot write \(path): \(problem)" }
}

/// The POSIX `write(2)` (named apart from `AtomicFile.write`).
private func systemWrite(_ descriptor: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
    #if canImport(Glibc)
    return Glibc.write(descriptor, bytes, count)
    #else
    return Darwin.write(descriptor, bytes, count)
    #endif
}

extension AtomicFile {
    /// Removes, from `directory`, the temporary files of writes whose process was killed before
    /// the rename (`.<name>.tmp-<pid>-<n>` with no live process `<pid>`); returns their paths.
    /// Files of a live process (a write in progress, or this process) are left alone.
    @discardableResult
    public static func removeAbandonedTemporaryFiles(in directory: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        var removed: [String] = []
        for name in names where name.hasPrefix(".") {
            guard let marker = name.range(of: ".tmp-", options: .backwards) else { continue }
            let parts = name[marker.upperBound...].split(separator: "-")
            guard parts.count == 2, let pid = Int32(parts[0]), UInt32(parts[1]) != nil, pid > 0 else { continue }
            guard pid != getpid(), kill(pid, 0) != 0, errno == ESRCH else { continue }
            let path = (directory as NSString).appendingPathComponent(name)
            if unlink(path) == 0 { removed.append(path) }
        }
        return removed
    }
}

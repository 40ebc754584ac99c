import Foundation
import XCTest

/// The package's executables as the tests run them: built next to the test bundle, run with
/// their output (standard output and error together) read from a pipe, as a user's shell or a
/// CI log would.
enum BuiltExecutable {
    /// Runs `name` with `arguments`; skips the test when it was not built.
    static func run(_ name: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(name)
        guard FileManager.default.isExecutableFile(atPath: executable.path) else {
            throw XCTSkip("\(name) was not built next to the test bundle (\(executable.path))")
        }
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, output)
    }

    /// A new temporary directory named after `prefix`.
    static func temporaryDirectory(_ prefix: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}

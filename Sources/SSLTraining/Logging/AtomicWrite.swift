import Foundation
import SSLNN

/// Writes small files (logs, reports) atomically through `SSLNN.AtomicFile`, turning its error
/// into a `TrainingError`.
enum AtomicWrite {
    static func write(_ data: Data, to path: String) throws {
        do {
            try AtomicFile.write(data, to: path)
        } catch let error as AtomicFileError {
            throw TrainingError.badFile(path: path, problem: error.problem)
        }
    }
}

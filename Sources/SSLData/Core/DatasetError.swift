/// A dataset file (or folder) that could not be loaded: which one, and precisely what is wrong.
///
/// Every reader throws this for missing, unreadable, truncated or malformed input; none of them
/// crashes or returns part of a dataset.
///
/// ```swift
/// do {
///     let train = try FashionMNIST.load(split: .train)
/// } catch let error as DatasetError {
///     print(error)   // "cannot load /usr/share/datasets/fashion-mnist: …"
/// }
/// ```
public struct DatasetError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file or directory concerned.
    public let path: String
    /// What is wrong with it.
    public let problem: String

    public init(path: String, problem: String) {
        self.path = path
        self.problem = problem
    }

    public var description: String { "cannot load \(path): \(problem)" }
}

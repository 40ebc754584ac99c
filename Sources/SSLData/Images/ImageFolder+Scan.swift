#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension ImageFolder {
    /// Where labels come from.
    public enum LabelSource: Sendable {
        /// From first-level sub-folders when any of them holds images, else none.
        case automatic
        /// From first-level sub-folders; an error when none holds images.
        case subfolders
        /// None: every image anywhere under the folder, unlabelled.
        case none
    }

    /// The image files of a folder, with their labels: what `ImageFolder.scan` finds before
    /// anything is decoded.
    public struct Listing: Sendable, Equatable {
        /// The folder walked.
        public let directory: String
        /// The image files, in order: by class, then by directory path, then by name.
        public let files: [String]
        /// The label of each file (its class's index in `classNames`); all 0 when unlabelled.
        public let labels: [Int]
        /// The class names (first-level sub-folder names, sorted); empty when unlabelled.
        public let classNames: [String]
        /// Files left out: other extensions, and image files directly in the folder when the
        /// labels come from its sub-folders (torchvision leaves those out too).
        public let ignoredFileCount: Int

        /// Whether the images have labels (the folder has class sub-folders).
        public var isLabelled: Bool { !classNames.isEmpty }
    }

    /// The file extensions decoded (compared case-insensitively).
    public static let imageExtensions: Set<String> = ["png", "jpg", "jpeg"]

    /// Walks `directory`: image files (`.png`, `.jpg`, `.jpeg`, any case) with labels from the
    /// first-level sub-folders, in torchvision's `ImageFolder` order: classes sorted by name,
    /// then each class's files by directory path and name (byte order). Names starting with "."
    /// are skipped. Symbolic links are followed; a directory reached twice (a link loop, or two
    /// links to one place) is listed once, where the walk (by name, depth first) first meets it.
    public static func scan(directory: String, labels: LabelSource = .automatic) throws -> Listing {
        var root = directory
        while root.count > 1 && root.hasSuffix("/") { root.removeLast() }
        var walker = FolderWalker()
        guard let rootIdentity = FolderWalker.identity(of: root, isDirectory: true) else {
            throw DatasetError(path: directory, problem: "is not a directory (or cannot be examined)")
        }
        walker.visited.insert(rootIdentity)
        let top = try walker.entries(of: root)

        var classNames: [String] = [], files: [String] = [], fileLabels: [Int] = []
        if labels != .none {
            for entry in top where entry.kind == .directory {
                guard let identity = FolderWalker.identity(of: entry.path, isDirectory: true),
                      walker.visited.insert(identity).inserted else { continue }
                let found = try walker.images(under: entry.path)
                guard !found.isEmpty else { continue }  // empty class folders are left out
                fileLabels += [Int](repeating: classNames.count, count: found.count)
                classNames.append(entry.name)
                files += found
            }
        }
        if classNames.isEmpty {
            guard labels != .subfolders else {
                throw DatasetError(path: directory, problem: "has no sub-folder holding .png, .jpg or .jpeg files, so there are no labels")
            }
            // Unlabelled: everything under the folder (only the top level when .automatic found
            // no images in sub-folders, which is the same files).
            walker.visited = [rootIdentity]
            walker.ignored = 0
            files = try walker.images(under: root)
            fileLabels = [Int](repeating: 0, count: files.count)
        } else {
            walker.ignored += top.filter { $0.kind != .directory }.count
        }
        return Listing(directory: directory, files: files, labels: fileLabels, classNames: classNames,
                       ignoredFileCount: walker.ignored)
    }
}

/// A depth-first walk that lists image files, skips hidden names, follows links and visits
/// each directory (by device and inode) once.
struct FolderWalker {
    enum Kind { case directory, image, other }

    struct Entry {
        let name: String
        let path: String
        let kind: Kind
    }

    struct Identity: Hashable {
        let device: UInt64
        let inode: UInt64
    }

    var visited: Set<Identity> = []
    /// Files seen that are not images.
    var ignored = 0

    /// The device and inode of `path` (links followed), when it is a directory (or a file).
    static func identity(of path: String, isDirectory: Bool) -> Identity? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        guard !isDirectory || (info.st_mode & S_IFMT) == S_IFDIR else { return nil }
        return Identity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
    }

    /// Whether `name` ends in an image extension, in any case.
    static func isImageName(_ name: String) -> Bool {
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return false }
        return ImageFolder.imageExtensions.contains(name[name.index(after: dot)...].lowercased())
    }

    /// The visible entries of `directory`, sorted by name (byte order).
    mutating func entries(of directory: String) throws -> [Entry] {
        guard let stream = opendir(directory) else {
            throw DatasetError(path: directory, problem: "cannot be listed: \(String(cString: strerror(errno)))")
        }
        defer { closedir(stream) }
        var result: [Entry] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: &entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            guard !name.isEmpty, !name.hasPrefix(".") else { continue }  // ".", ".." and hidden names
            let path = directory == "/" ? "/" + name : directory + "/" + name
            var info = stat()
            let kind: Kind
            if stat(path, &info) == 0 {
                switch info.st_mode & S_IFMT {
                case S_IFDIR: kind = .directory
                default: kind = FolderWalker.isImageName(name) ? .image : .other
                }
            } else {
                // A broken link named like an image is listed: loading it reports the problem.
                kind = FolderWalker.isImageName(name) ? .image : .other
            }
            result.append(Entry(name: name, path: path, kind: kind))
        }
        result.sort { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
        return result
    }

    /// Every image file under `directory` (already marked visited by the caller, or the root),
    /// ordered by directory path then name, as torchvision's `sorted(os.walk(...))`.
    mutating func images(under directory: String) throws -> [String] {
        var groups: [(directory: String, files: [String])] = []
        var pending = [directory]
        while let current = pending.popLast() {
            let listed = try entries(of: current)
            var files: [String] = [], subdirectories: [String] = []
            for entry in listed {
                switch entry.kind {
                case .image:
                    files.append(entry.path)
                case .directory:
                    if let identity = FolderWalker.identity(of: entry.path, isDirectory: true),
                       visited.insert(identity).inserted {
                        subdirectories.append(entry.path)
                    }
                case .other:
                    ignored += 1
                }
            }
            groups.append((current, files))
            pending += subdirectories.reversed()  // popped in name order
        }
        groups.sort { $0.directory.utf8.lexicographicallyPrecedes($1.directory.utf8) }
        return groups.flatMap { $0.files }
    }
}

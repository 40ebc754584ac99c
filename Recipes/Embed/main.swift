// ssl-embed: what a trained encoder sees in a folder of images. It loads the encoder of a
// recipe run, embeds every image of the folder, and writes the embeddings (safetensors, with
// the file paths), each image's nearest neighbours, the near-duplicate groups, the outliers and
// a self-contained gallery page.
//
//   swift run -c release ssl-embed --help
//   swift run -c release ssl-embed --run runs/simclr/version_0 --images ~/photos
import Foundation
import SelfSupervised
import SSLRecipes

let usage = """
    usage: ssl-embed --run RUN --images PATH [options]
      --run PATH                 a run directory (runs/<recipe>/version_N) or a checkpoint in one
      --images PATH              a folder of .png/.jpg/.jpeg images (sub-folders are classes)
      --out DIR                  where the files go (default: RUN/embeddings)
      --neighbours K             nearest neighbours per image (default 5)
      --duplicate-threshold X    cosine similarity at which two images count as near-duplicates (default 0.95)
      --outliers N               how many outliers to list (default 20)
      --batch-size N             images per forward pass (default 256)
      --uncentred                compare the raw embeddings (default: centred, the folder's mean embedding removed)
      --skip-bad-files           leave out files that cannot be decoded (default: stop with an error naming the file)
      -h, --help                 this text
    """

struct EmbedOptions {
    var run = "", images = "", out: String?
    var neighbours = 5, outliers = 20, batchSize = 256
    var duplicateThreshold: Float = 0.95
    var skipBadFiles = false
    var centred = true

    static func parse(_ arguments: [String]) throws -> EmbedOptions {
        var options = EmbedOptions(), index = 0
        func value() throws -> String {
            index += 1
            guard index < arguments.count else { throw EmbedError("option \(arguments[index - 1]) needs a value") }
            return arguments[index]
        }
        func count(_ minimum: Int) throws -> Int {
            let text = try value()
            guard let number = Int(text), number >= minimum else { throw EmbedError("invalid value \"\(text)\" for \(arguments[index - 1]) (expected an integer ≥ \(minimum))") }
            return number
        }
        while index < arguments.count {
            switch arguments[index] {
            case "-h", "--help": print(usage); exit(0)
            case "--run": options.run = try value()
            case "--images": options.images = try value()
            case "--out": options.out = try value()
            case "--neighbours", "--neighbors": options.neighbours = try count(1)
            case "--outliers": options.outliers = try count(0)
            case "--batch-size": options.batchSize = try count(1)
            case "--skip-bad-files": options.skipBadFiles = true
            case "--uncentred": options.centred = false
            case "--duplicate-threshold":
                let text = try value()
                guard let threshold = Float(text), (-1...1).contains(threshold) else {
                    throw EmbedError("invalid value \"\(text)\" for --duplicate-threshold (expected a cosine similarity in [-1, 1])")
                }
                options.duplicateThreshold = threshold
            default: throw EmbedError("unknown option \(arguments[index])")
            }
            index += 1
        }
        guard !options.run.isEmpty, !options.images.isEmpty else { throw EmbedError("--run and --images are required") }
        return options
    }
}

struct EmbedError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

func say(_ text: String) { FileHandle.standardOutput.write(Data((text + "\n").utf8)) }

let options: EmbedOptions
do {
    options = try EmbedOptions.parse(Array(CommandLine.arguments.dropFirst()))
} catch {
    FileHandle.standardError.write(Data("ssl-embed: \(error)\n\(usage)\n".utf8))
    exit(2)
}

do {
    let start = Date()
    let run = try RunEncoder.load(options.run)
    let shape = run.description
    say("encoder: \(shape.backbone), \(shape.features) features, images \(shape.channels)×\(shape.height)×\(shape.width) (from \(run.directory))")
    let terminal = isatty(STDOUT_FILENO) == 1
    let folder = try ImageFolder.load(directory: options.images, imageSize: shape.height, channels: shape.channels,
                                      skipBadFiles: options.skipBadFiles) { done, total in
        // A refreshing line on a terminal; in a pipe or file, a line at each quarter.
        if terminal {
            FileHandle.standardOutput.write(Data("\rdecoding \(done)/\(total)".utf8))
        } else if done == total || (done * 4 / total) != ((done - 1) * 4 / total) {
            say("decoding \(done)/\(total)")
        }
    }
    say((terminal ? "\r" : "") + folder.summary)
    if !folder.skippedFiles.isEmpty {
        say("skipped \(folder.skippedFiles.count) bad file\(folder.skippedFiles.count == 1 ? "" : "s"), the first: "
            + folder.skippedFiles.prefix(3).map(\.description).joined(separator: "; "))
    }
    let loader = DataLoader(folder.images, batchSize: options.batchSize,
                            views: MultiViewTransform([Normalize(mean: shape.mean, std: shape.std)]), shuffle: false, dropLast: false)
    let embedded = try OfflineEvaluation.extractFeatures(run.encoder, from: loader)
    let facts = EmbeddingExport.Facts(features: embedded.features, paths: folder.paths,
                                      labels: folder.isLabelled ? embedded.labels : nil, classNames: folder.classNames,
                                      neighbours: options.neighbours, duplicateThreshold: options.duplicateThreshold,
                                      outlierCount: options.outliers, centred: options.centred)
    let out = options.out ?? (run.directory as NSString).appendingPathComponent("embeddings")
    let written = try EmbeddingExport.write(facts, to: out)
    let thumbnails = GalleryThumbnails(dataset: folder.images)
    let title = "\((options.images as NSString).lastPathComponent) — \((run.directory as NSString).lastPathComponent)"
    let gallery = (out as NSString).appendingPathComponent("gallery.html")
    try EmbeddingGallery(facts: facts, title: title) { thumbnails.dataURI(of: $0) }.write(to: gallery)
    for path in written + [gallery] { say("wrote \(path)") }
    say("images \(folder.count)")
    say("duplicate-groups \(facts.duplicateGroups.count)")
    if let largest = facts.duplicateGroups.first, largest.count * 20 > folder.count {
        say("warning: the largest duplicate group holds \(largest.count) of \(folder.count) images; a higher --duplicate-threshold separates them")
    }
    say("wall-seconds \(String(format: "%.1f", Date().timeIntervalSince(start)))")
} catch {
    FileHandle.standardError.write(Data("ssl-embed: \(error)\n".utf8))
    exit(1)
}

import Foundation
import SelfSupervised
import SSLRecipes
import XCTest

/// `ssl-embed` end to end on a small folder: a run directory made by hand (hparams.json and an
/// encoder.safetensors of a seeded ConvNet), a folder of PNGs in two class sub-folders with one
/// exact duplicate and one broken file.
final class EmbedCommandTests: XCTestCase {
    private var directory = ""
    override func setUpWithError() throws {
        directory = try BuiltExecutable.temporaryDirectory("ssl-embed-cli")
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    private func makeRun() throws -> String {
        let run = directory + "/runs/simclr/version_0"
        try FileManager.default.createDirectory(atPath: run, withIntermediateDirectories: true)
        let description = RunEncoder.Description(backbone: "convnet", features: 128, channels: 1, height: 28, width: 28,
                                                 mean: [0.5], std: [0.25], encoderKey: "backbone")
        let encoder = ParameterInitialization.withSeed(3) { RecipeSetup.makeBackbone("convnet", channels: 1, height: 28, width: 28).module }
        try SafeTensors.write(encoder.stateDict(), to: run + "/encoder.safetensors")
        let data = try JSONSerialization.data(withJSONObject: description.hyperparameters.merging(["method": "simclr"]) { a, _ in a })
        try data.write(to: URL(fileURLWithPath: run + "/hparams.json"))
        return run
    }

    private func makeFolder() throws -> String {
        let images = BuiltinShapes.load(split: .test, count: 24, seed: 1)
        let folder = directory + "/images"
        for (index, label) in images.labels.enumerated() {
            let classFolder = folder + "/class_\(label % 2 == 0 ? "even" : "odd")"
            try FileManager.default.createDirectory(atPath: classFolder, withIntermediateDirectories: true)
            let pixels = Array(images.pixels[(index * 784)..<((index + 1) * 784)])
            let png = try ImageEncoder.png(rows: pixels, width: 28, height: 28, color: .grey)
            try Data(png).write(to: URL(fileURLWithPath: classFolder + "/image \(index).png"))
            if index == 0 { try Data(png).write(to: URL(fileURLWithPath: classFolder + "/copy of image 0.png")) }
        }
        try Data("not a png".utf8).write(to: URL(fileURLWithPath: folder + "/class_odd/broken.png"))
        return folder
    }

    private func runEmbed(_ arguments: [String]) throws -> (status: Int32, output: String) {
        try BuiltExecutable.run("ssl-embed", arguments)
    }

    func testEmbedWritesEveryFileAndFindsTheDuplicate() throws {
        let run = try makeRun(), folder = try makeFolder()
        let refused = try runEmbed(["--run", run, "--images", folder])
        XCTAssertEqual(refused.status, 1, refused.output)
        XCTAssertTrue(refused.output.contains("broken.png"), "a bad file stops the run naming it: \(refused.output)")

        let (status, output) = try runEmbed(["--run", run, "--images", folder, "--skip-bad-files", "--neighbours", "3",
                                             "--duplicate-threshold", "0.9999"])
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains("skipped 1 bad file"), output)
        XCTAssertTrue(output.contains("images 25"), output)
        let out = run + "/embeddings"
        for file in ["embeddings.safetensors", "embeddings.csv", "neighbours.csv", "duplicates.csv", "outliers.csv", "gallery.html"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: "\(out)/\(file)"), "\(file) missing: \(output)")
        }
        let (state, metadata) = try SafeTensors.readWithMetadata(from: out + "/embeddings.safetensors")
        XCTAssertEqual(state["embeddings"]?.shape, [25, 128])
        XCTAssertTrue(metadata["paths"]?.contains("copy of image 0.png") ?? false)
        let duplicates = try String(contentsOfFile: out + "/duplicates.csv", encoding: .utf8)
        XCTAssertTrue(duplicates.contains("copy of image 0.png") && duplicates.contains("image 0.png"), duplicates)
        let gallery = try String(contentsOfFile: out + "/gallery.html", encoding: .utf8)
        XCTAssertTrue(gallery.contains("data:image/png;base64,") && gallery.contains("class_even"), "thumbnails and class names")
    }

    func testBadOptionsAndAMissingRunAreOneLineErrors() throws {
        let missing = try runEmbed(["--images", directory])
        XCTAssertEqual(missing.status, 2)
        XCTAssertTrue(missing.output.hasPrefix("ssl-embed: --run and --images are required"), missing.output)
        let absent = try runEmbed(["--run", directory + "/nothing", "--images", directory])
        XCTAssertEqual(absent.status, 1)
        XCTAssertTrue(absent.output.contains("nothing: does not exist"), absent.output)
    }
}

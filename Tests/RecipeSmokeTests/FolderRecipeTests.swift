import Foundation
import SelfSupervised
import XCTest

/// A recipe on a folder of the user's own images, then `ssl-embed` on its run: the README's two
/// commands, end to end on a small folder.
final class FolderRecipeTests: XCTestCase {
    private var directory = ""
    override func setUpWithError() throws {
        directory = try BuiltExecutable.temporaryDirectory("ssl-folder")
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    /// 40 built-in images as PNGs, in two class folders or flat.
    private func makeFolder(labelled: Bool) throws -> String {
        let images = BuiltinShapes.load(split: .train, count: 40, seed: 2)
        let folder = directory + (labelled ? "/labelled" : "/flat")
        for (index, label) in images.labels.enumerated() {
            let target = labelled ? folder + "/\(label % 2 == 0 ? "round" : "square")" : folder
            try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
            let png = try ImageEncoder.png(rows: Array(images.pixels[(index * 784)..<((index + 1) * 784)]), width: 28, height: 28,
                                           color: .grey)
            try Data(png).write(to: URL(fileURLWithPath: "\(target)/\(index).png"))
        }
        return folder
    }

    private func run(_ name: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        try BuiltExecutable.run(name, arguments)
    }

    private func train(_ folder: String, _ extra: [String] = []) throws -> (status: Int32, output: String) {
        try run("simclr", ["--dataset", "folder", "--data-dir", folder, "--image-size", "24", "--channels", "1",
                           "--val-fraction", "0.25", "--epochs", "1", "--batch-size", "8", "--workers", "1",
                           "--run-dir", directory + "/runs", "--no-progress-bar", "--temperature", "0.5"] + extra)
    }

    func testTrainingOnALabelledFolderThenEmbeddingIt() throws {
        let folder = try makeFolder(labelled: true)
        let (status, output) = try train(folder)
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains("dataset: labelled: 40 images in 2 classes (1×24×24"), output)
        let lines = output.split(separator: "\n").map(String.init)
        let knn = try XCTUnwrap(lines.first { $0.hasPrefix("knn-accuracy ") }, output)
        XCTAssertNotNil(Float(knn.dropFirst("knn-accuracy ".count)), knn)
        let run = directory + "/runs/simclr/version_0"
        let hparams = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: run + "/hparams.json"))) as? [String: String]
        XCTAssertEqual(hparams?["image_height"], "24")
        XCTAssertEqual(hparams?["dataset"], "folder")
        let report = try String(contentsOfFile: run + "/report.html", encoding: .utf8)
        XCTAssertTrue(report.contains("augmented views of the first batch") && report.contains("data:image/png;base64,"), "report pictures")
        XCTAssertTrue(report.contains(">round<") || report.contains(">square<"), "class names in the legend")

        let embed = try self.run("ssl-embed", ["--run", run, "--images", folder])
        XCTAssertEqual(embed.status, 0, embed.output)
        XCTAssertTrue(FileManager.default.fileExists(atPath: run + "/embeddings/gallery.html"), embed.output)
        XCTAssertTrue(embed.output.contains("images 40"), embed.output)
    }

    func testAnUnlabelledFolderTrainsAndSaysWhyItIsNotClassified() throws {
        let folder = try makeFolder(labelled: false)
        let (status, output) = try train(folder)
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains("the folder has no class sub-folders"), output)
        XCTAssertTrue(output.contains("knn-accuracy n/a (unlabelled"), output)
        XCTAssertTrue(output.contains("effective-rank "), output)
    }

    func testASeparateValidationFolderIsEvaluatedOnAndMustHaveTheSameClasses() throws {
        let labelled = try makeFolder(labelled: true), flat = try makeFolder(labelled: false)
        let common = ["--dataset", "folder", "--data-dir", labelled, "--image-size", "16", "--channels", "1", "--epochs", "1",
                      "--batch-size", "8", "--workers", "1", "--run-dir", directory + "/runs", "--no-progress-bar"]
        let (status, output) = try run("simclr", common + ["--val-dir", labelled])
        XCTAssertEqual(status, 0, output)
        XCTAssertEqual(output.components(separatedBy: "dataset: labelled: 40 images in 2 classes").count, 3,
                       "both folders decoded in full, nothing held out: \(output)")
        XCTAssertTrue(output.contains("knn-accuracy "), output)

        let mismatch = try run("simclr", common + ["--val-dir", flat])
        XCTAssertEqual(mismatch.status, 1, mismatch.output)
        XCTAssertTrue(mismatch.output.contains("--val-dir \(flat) must hold images in the same class sub-folders"), mismatch.output)
    }

    func testATinyMemoryBudgetStreamsTheFolderAndTrainsAsInMemory() throws {
        let folder = try makeFolder(labelled: true)
        let memory = try train(folder)
        let streamed = try train(folder, ["--memory-budget", "0.00001"])   // 10 737 bytes
        XCTAssertEqual(streamed.status, 0, streamed.output)
        XCTAssertTrue(streamed.output.contains("dataset: labelled: 40 images in 2 classes (1×24×24, streaming: 23 kB decoded "
                                               + "would exceed the memory budget of 10 kB)"), streamed.output)
        func finalLines(_ output: String) -> [String] {
            output.split(separator: "\n").map(String.init).filter {
                ["rankme ", "effective-rank ", "knn-accuracy ", "linear-probe-accuracy "].contains(where: $0.hasPrefix)
            }
        }
        XCTAssertEqual(finalLines(streamed.output).count, 4, streamed.output)
        XCTAssertEqual(finalLines(streamed.output), finalLines(memory.output),
                       "the same pixels, statistics and seed train the same encoder, streamed or in memory")
        let invalid = try train(folder, ["--memory-budget", "0"])
        XCTAssertEqual(invalid.status, 2)
        XCTAssertTrue(invalid.output.contains("a positive number of GiB"), invalid.output)
    }

    func testAFolderOptionWithoutADirectoryIsAClearError() throws {
        let (status, output) = try run("simclr", ["--dataset", "folder"])
        XCTAssertEqual(status, 1)
        XCTAssertTrue(output.contains("--dataset folder needs --data-dir PATH"), output)
    }
}

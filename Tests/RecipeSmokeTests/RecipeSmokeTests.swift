import Foundation
import XCTest

/// Runs each recipe executable for a few steps on a small slice of the built-in dataset, so CI
/// covers the recipe code paths end to end (options, data, training, checkpoints, evaluation,
/// report, export, the closing lines).
final class RecipeSmokeTests: XCTestCase {
    private var directory = ""
    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("ssl-recipes-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    private func run(_ recipe: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        try BuiltExecutable.run(recipe, arguments)
    }

    private func smoke(_ recipe: String, extra: [String] = [],
                       files: [String] = ["metrics.csv", "metrics.jsonl", "hparams.json", "report.html", "encoder.safetensors",
                                          "checkpoints/last.safetensors"]) throws {
        let (status, output) = try run(recipe, ["--dataset", "builtin", "--train-samples", "64", "--test-samples", "32",
                                                "--epochs", "1", "--batch-size", "16", "--workers", "1",
                                                "--run-dir", directory, "--no-progress-bar"] + extra)
        XCTAssertEqual(status, 0, output)
        let lines = output.split(separator: "\n").map(String.init)
        XCTAssertGreaterThanOrEqual(lines.count, 5, output)
        let ranks = Array(lines.suffix(5).prefix(2)), last = Array(lines.suffix(3))
        XCTAssertTrue(ranks[0].hasPrefix("rankme "), output)
        XCTAssertTrue(ranks[1].hasPrefix("effective-rank "), output)
        XCTAssertTrue(last[0].hasPrefix("knn-accuracy "), output)
        XCTAssertTrue(last[1].hasPrefix("linear-probe-accuracy "), output)
        XCTAssertTrue(last[2].hasPrefix("wall-seconds "), output)
        for line in last.prefix(2) {
            let value = Float(line.split(separator: " ")[1]) ?? -1
            XCTAssertTrue((0...1).contains(value), line)
        }
        for line in ranks {
            let value = Float(line.split(separator: " ")[1]) ?? -1
            XCTAssertGreaterThanOrEqual(value, 1, line)
        }
        let run = directory + "/\(recipe)/version_0"
        for file in files {
            XCTAssertTrue(FileManager.default.fileExists(atPath: "\(run)/\(file)"), "\(file) missing from \(run)")
        }
        let report = try String(contentsOfFile: run + "/report.html", encoding: .utf8)
        XCTAssertTrue(report.contains("Test embeddings"), "the report has the embedding map")
    }

    func testSimCLRRecipeRunsEndToEnd() throws { try smoke("simclr", extra: ["--temperature", "0.5"]) }

    func testBYOLRecipeRunsEndToEnd() throws { try smoke("byol", extra: ["--ema-base", "0.99", "--backbone", "mlp"]) }

    func testVICRegRecipeRunsEndToEnd() throws {
        try smoke("vicreg", extra: ["--invariance-weight", "25", "--variance-weight", "25", "--covariance-weight", "1"])
    }

    func testBarlowTwinsRecipeRunsEndToEnd() throws { try smoke("barlowtwins", extra: ["--lambda", "5e-3", "--backbone", "mlp"]) }

    func testMoCoV3RecipeRunsEndToEnd() throws {
        try smoke("mocov3", extra: ["--temperature", "0.2", "--ema-base", "0.99", "--backbone", "mlp"])
    }

    /// Multi-crop end to end: 2 global 28 px and 2 local 12 px crops through the ConvNet.
    func testDINORecipeRunsEndToEndWithMultiCrop() throws {
        try smoke("dino", extra: ["--local-crops", "2", "--out-dim", "256", "--teacher-temperature", "0.07", "--center-momentum", "0.9"])
        let hyperparameters = try String(contentsOfFile: directory + "/dino/version_0/hparams.json", encoding: .utf8)
        XCTAssertTrue(hyperparameters.contains("\"local_crop_size\" : \"12\""), hyperparameters)
    }

    /// `--epochs 0` trains nothing and evaluates the encoder at initialisation (the learning
    /// checks' baseline), with the same closing lines, report and exported encoder.
    func testZeroEpochsEvaluatesTheEncoderAtInitialisation() throws {
        try smoke("simclr", extra: ["--epochs", "0"], files: ["hparams.json", "report.html", "encoder.safetensors"])
    }

    func testMalformedOptionsGiveAOneLineErrorTheUsageAndExitCode2() throws {
        let (status, output) = try run("simclr", ["--epochs", "zero"])
        XCTAssertEqual(status, 2)
        XCTAssertTrue(output.hasPrefix("simclr: invalid value \"zero\" for --epochs (expected an integer ≥ 0)\nusage: simclr"), output)
        let unknown = try run("byol", ["--temperature", "0.5"])
        XCTAssertEqual(unknown.status, 2, "--temperature is SimCLR's")
        XCTAssertTrue(unknown.output.hasPrefix("byol: unknown option --temperature"), unknown.output)
        for (recipe, option) in [("vicreg", "--lambda"), ("barlowtwins", "--variance-weight"), ("simclr", "--lambda"),
                                 ("simclr", "--ema-base"), ("mocov3", "--local-crops"), ("dino", "--temperature"),
                                 ("byol", "--out-dim")] {
            let other = try run(recipe, [option, "1"])
            XCTAssertEqual(other.status, 2, "\(option) is not \(recipe)'s")
            XCTAssertTrue(other.output.hasPrefix("\(recipe): unknown option \(option)"), other.output)
        }
        let mlp = try run("dino", ["--backbone", "mlp", "--dataset", "builtin", "--train-samples", "32", "--run-dir", directory])
        XCTAssertEqual(mlp.status, 1, "the MLP backbone takes only image-size crops")
        XCTAssertTrue(mlp.output.contains("--backbone mlp takes only 28×28 images"), mlp.output)
        let help = try run("simclr", ["--help"])
        XCTAssertEqual(help.status, 0)
        XCTAssertTrue(help.output.contains("--backbone mlp|convnet|resnet18"))
    }
}

import Foundation
import SSLData
@testable import SSLRecipes
import SSLTraining
import XCTest

/// The recipe side of issue 17: the options that decide what a failure costs, and the errors a
/// recipe user meets with mismatched data or a run directory that is a file.
final class RecipeSafetyTests: XCTestCase {
    private var directory = ""
    override func setUpWithError() throws {
        directory = try BuiltExecutable.temporaryDirectory("ssl-recipe-safety")
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    private func setup(_ arguments: [String]) throws -> RecipeSetup {
        try RecipeSetup(RecipeOptions.parse(["--dataset", "builtin", "--train-samples", "32", "--test-samples", "16",
                                             "--run-dir", directory] + arguments, method: .simclr))
    }

    private func checkpointCallback(_ trainer: Trainer) throws -> ModelCheckpoint {
        try XCTUnwrap(trainer.callbacks.compactMap { $0 as? ModelCheckpoint }.first)
    }

    func testRecipesCheckpointEveryHundredStepsByDefaultAndAsAsked() throws {
        let byDefault = try setup([]).makeTrainer(name: "simclr", features: 8, hyperparameters: [:])
        XCTAssertEqual(try checkpointCallback(byDefault).lastEveryNTrainSteps, 100)
        XCTAssertEqual(try checkpointCallback(byDefault).everyNEpochs, 1)
        XCTAssertEqual(try checkpointCallback(byDefault).onWriteFailure, .stop)
        XCTAssertEqual(byDefault.nonFiniteLoss, .stop)
        let asked = try setup(["--checkpoint-every-steps", "7", "--checkpoint-failure", "warn", "--on-nan", "skip"])
            .makeTrainer(name: "simclr", features: 8, hyperparameters: [:])
        XCTAssertEqual(try checkpointCallback(asked).lastEveryNTrainSteps, 7)
        XCTAssertEqual(try checkpointCallback(asked).onWriteFailure, .warn)
        XCTAssertEqual(asked.nonFiniteLoss, .skipBatch)
        XCTAssertEqual(asked.hyperparameters["checkpoint_every_steps"], "7")
        let off = try setup(["--checkpoint-every-steps", "0"]).makeTrainer(name: "simclr", features: 8, hyperparameters: [:])
        XCTAssertNil(try checkpointCallback(off).lastEveryNTrainSteps)
        XCTAssertThrowsError(try RecipeOptions.parse(["--on-nan", "ignore"], method: .byol))
    }

    func testTheNonFiniteLossMessageNamesTheRecipeOption() {
        let message = TrainingError.nonFiniteLoss(value: .nan, epoch: 0, batchIndex: 3, globalStep: 3).description
        XCTAssertTrue(message.contains("--on-nan skip"), message)
    }

    /// Fashion-MNIST files whose test images are 784×1 instead of 28×28.
    private func writeMismatchedFashionMNIST() throws -> String {
        let folder = directory + "/fashion"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        func idx(_ magic: UInt32, _ dimensions: [UInt32], payload: Int) -> Data {
            var data = Data()
            for word in [magic] + dimensions { withUnsafeBytes(of: word.bigEndian) { data.append(contentsOf: $0) } }
            data.append(Data(count: payload))
            return data
        }
        try idx(0x803, [4, 28, 28], payload: 4 * 784).write(to: URL(fileURLWithPath: folder + "/train-images-idx3-ubyte"))
        try idx(0x801, [4], payload: 4).write(to: URL(fileURLWithPath: folder + "/train-labels-idx1-ubyte"))
        try idx(0x803, [2, 784, 1], payload: 2 * 784).write(to: URL(fileURLWithPath: folder + "/t10k-images-idx3-ubyte"))
        try idx(0x801, [2], payload: 2).write(to: URL(fileURLWithPath: folder + "/t10k-labels-idx1-ubyte"))
        return folder
    }

    func testATestSplitOfAnotherImageShapeIsAnErrorSayingWhatDiffers() throws {
        let folder = try writeMismatchedFashionMNIST()
        XCTAssertThrowsError(try RecipeSetup(RecipeOptions.parse(["--dataset", "fashion-mnist", "--data-dir", folder], method: .simclr))) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("1×784×1") && text.contains("1×28×28") && text.contains("height and width differ"), text)
        }
    }

    private func runSimCLR(_ arguments: [String]) throws -> (status: Int32, output: String) {
        try BuiltExecutable.run("simclr", ["--train-samples", "32", "--test-samples", "16", "--epochs", "1", "--batch-size", "16",
                                           "--workers", "1", "--no-progress-bar"] + arguments)
    }

    /// Piped output (CI logs, `| tee`): the recipe's first lines come before the progress lines.
    func testTheFirstLinesComeFirstWhenTheOutputIsAPipe() throws {
        let (status, output) = try runSimCLR(["--run-dir", directory])
        XCTAssertEqual(status, 0, output)
        let lines = output.split(separator: "\n").map(String.init)
        let dataset = try XCTUnwrap(lines.firstIndex { $0.hasPrefix("dataset: ") }, output)
        let run = try XCTUnwrap(lines.firstIndex { $0.hasPrefix("run directory: ") }, output)
        let progress = try XCTUnwrap(lines.firstIndex { $0.hasPrefix("Epoch 1/1") }, output)
        XCTAssertLessThan(dataset, run, output)
        XCTAssertLessThan(run, progress, output)
    }

    func testARunDirectoryThatIsAFileIsAPlainError() throws {
        let file = directory + "/runs-file"
        XCTAssertTrue(FileManager.default.createFile(atPath: file, contents: Data("x".utf8)))
        let (status, output) = try runSimCLR(["--dataset", "builtin", "--run-dir", file])
        XCTAssertEqual(status, 1, output)
        XCTAssertTrue(output.contains("runs-file: is a file"), output)
        XCTAssertFalse(output.contains("NSCocoaErrorDomain"), output)
    }

    /// A folder's photographic augmentations blur only images above 32 px, as SimCLR (ImageNet,
    /// not CIFAR): a folder of 28 px images is augmented as the same images from IDX files.
    func testFolderImagesAreBlurredOnlyAbove32Pixels() {
        XCTAssertFalse(RecipeSetup.folderImagesAreBlurred(imageSize: 28))
        XCTAssertFalse(RecipeSetup.folderImagesAreBlurred(imageSize: 32))
        XCTAssertTrue(RecipeSetup.folderImagesAreBlurred(imageSize: 64))
        func steps(photographic: Bool, blur: Bool) -> [String] {
            RecipeSetup.augmentation(size: 28, channels: 1, photographic: photographic, blur: blur, mean: [0], std: [1])
                .transforms.map { "\(type(of: $0))" }
        }
        XCTAssertEqual(steps(photographic: true, blur: false), steps(photographic: false, blur: false))
        XCTAssertTrue(steps(photographic: true, blur: true).contains("GaussianBlur"))
        XCTAssertFalse(steps(photographic: false, blur: false).contains("GaussianBlur"))
    }

    /// `--blur on|off` and `--crop-scale X` reach every training view and the run's hyperparameters;
    /// without them the builtin data is neither blurred nor cropped below 0.3.
    func testBlurAndCropScaleOptionsReachTheViews() throws {
        func describe(_ setup: RecipeSetup) throws -> (blurred: Bool, scales: [ClosedRange<Float>]) {
            let views = setup.trainLoader.views.transforms.compactMap { $0 as? Compose }
            XCTAssertEqual(views.count, 2)
            let steps = views.flatMap(\.transforms)
            return (steps.contains { $0 is GaussianBlur }, steps.compactMap { ($0 as? RandomResizedCrop)?.scale })
        }
        let byDefault = try setup([])
        XCTAssertFalse(byDefault.viewsAreBlurred)
        XCTAssertFalse(try describe(byDefault).blurred)
        XCTAssertEqual(try describe(byDefault).scales, [0.3...1, 0.3...1])
        let asked = try setup(["--blur", "on", "--crop-scale", "0.5"])
        XCTAssertTrue(try describe(asked).blurred)
        XCTAssertEqual(try describe(asked).scales, [0.5...1, 0.5...1])
        let hyperparameters = asked.makeTrainer(name: "simclr", features: 8, hyperparameters: [:]).hyperparameters
        XCTAssertEqual(hyperparameters["blur"], "on")
        XCTAssertEqual(hyperparameters["crop_scale"], "0.5")
        for bad in [["--crop-scale", "0"], ["--crop-scale", "1.5"], ["--blur", "yes"]] {
            XCTAssertThrowsError(try RecipeOptions.parse(bad, method: .simclr), "\(bad)")
        }
    }

    /// DINO's head has BatchNorm unless `--bn-in-head off`; the choice is in the hyperparameters,
    /// and the option belongs to DINO alone.
    func testDINOHeadBatchNormIsOnUnlessTurnedOff() throws {
        let byDefault = try RecipeOptions.parse([], method: .dino)
        XCTAssertTrue(byDefault.batchNormInHead)
        XCTAssertEqual(byDefault.dinoHyperparameters(imageSize: 28)["bn_in_head"], "true")
        let off = try RecipeOptions.parse(["--bn-in-head", "off"], method: .dino)
        XCTAssertFalse(off.batchNormInHead)
        XCTAssertEqual(off.dinoHyperparameters(imageSize: 28)["bn_in_head"], "false")
        XCTAssertTrue(try RecipeOptions.parse(["--bn-in-head", "on"], method: .dino).batchNormInHead)
        XCTAssertThrowsError(try RecipeOptions.parse(["--bn-in-head", "yes"], method: .dino))
        XCTAssertThrowsError(try RecipeOptions.parse(["--bn-in-head", "on"], method: .simclr))
    }
}

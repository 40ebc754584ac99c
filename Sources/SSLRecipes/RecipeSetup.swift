import Foundation
import SSLData
import SSLDistributed
import SSLMethods
import SSLNN
import SSLTensor
import SSLTraining

/// The data, augmentations and backbone a recipe trains with, built from its options.
///
/// Augmentations (each view): random resized crop to the image size (scale 0.3–1, ratio
/// 3/4–4/3), horizontal flip p 0.5, brightness ±0.4 and contrast 0.6–1.4 applied with p 0.8,
/// then normalisation (Fashion-MNIST: mean 0.2860, std 0.3530). On an image folder, as
/// SimCLR on real photos: colour jitter with saturation 0.4 and hue 0.1 (RGB), grey with p 0.2
/// (RGB), and, for images above 32 px, a Gaussian blur with p 0.5 whose kernel is about 10% of
/// the crop's side (SimCLR blurs ImageNet-size images but not CIFAR's 32 px ones, so a folder of
/// 28 px images gets the augmentations of the same images read from IDX files; DINO's local
/// crops of a larger image are blurred too). Evaluation uses the
/// un-augmented, normalised images.
///
/// DINO (`method: .dino`) trains on multi-crop batches instead: two global crops (scale 0.4–1,
/// `--global-crop-size`, default the image size) in `"image"` and `--local-crops` local crops
/// (scale 0.05–0.4, `--local-crop-size`, default 96/224 of the image size) in `"image_local"`,
/// each with the augmentations above (DINO's own scales; its per-crop blur and solarisation
/// are not used on grey images).
public struct RecipeSetup {
    public let datasetName: String
    /// The images trained on and evaluated on: in memory, or a streamed image folder.
    public let train: any ImageDataset
    public let test: any ImageDataset
    public let trainLoader: DataLoader
    public let validationLoader: DataLoader
    /// Un-augmented loaders for feature extraction.
    public let trainEvaluationLoader: DataLoader
    public let testEvaluationLoader: DataLoader
    public let epochs: Int
    /// Whether the training views are blurred (`--blur`, or a folder of images above 32 px).
    public let viewsAreBlurred: Bool

    public var classCount: Int { Swift.max(train.classCount, test.classCount) }
    /// The classes' names, as the report's and the embedding map's legends show them.
    public var classNames: [String] { folderClassNames ?? Self.classNames(dataset: datasetName, count: classCount) }
    /// Whether the images have class labels (an unlabelled folder has none: no kNN or probe).
    public let isLabelled: Bool
    private let folderClassNames: [String]?

    /// Fashion-MNIST's and CIFAR-10's class names; "class i" for the others.
    static func classNames(dataset: String, count: Int) -> [String] {
        let known: [String]
        switch dataset {
        case "fashion-mnist":
            known = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
        case "cifar10":
            known = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
        case "mnist":
            known = (0..<10).map(String.init)
        default:
            known = []
        }
        return (0..<count).map { $0 < known.count ? known[$0] : "class \($0)" }
    }
    public var inputChannels: Int { train.channels }

    /// The options the setup was made from.
    public let options: RecipeOptions
    /// The per-channel mean and standard deviation every view is normalised with.
    public let normalization: (mean: [Float], std: [Float])
    /// The ranks of a data-parallel launch (`mpirun -np N`), or a single process.
    public let communicator: any Communicator

    public init(_ options: RecipeOptions) throws {
        self.options = options
        communicator = try Communicators.fromEnvironment()
        if communicator.isDistributed && communicator.isRoot {
            writeLine("data-parallel: \(communicator.worldSize) ranks (\(communicator.backendDescription)), \(ComputeContext.default.threadCount) thread\(ComputeContext.default.threadCount == 1 ? "" : "s") each")
        }
        let dataset = options.dataset ?? (FashionMNIST.isAvailable(directory: options.dataDirectory) ? "fashion-mnist" : "builtin")
        if options.dataset == nil {
            if dataset == "fashion-mnist" {
                writeLine("dataset: fashion-mnist (found installed; --dataset builtin uses the built-in procedural images)")
            } else {
                writeLine("dataset: builtin (Fashion-MNIST is not installed: `apt-get install dataset-fashion-mnist`, or --data-dir PATH with its IDX files)")
            }
        }
        var train: any ImageDataset, test: any ImageDataset
        var mean: [Float], std: [Float]
        var labelled = true, names: [String]?
        switch dataset {
        case "folder":
            let folder = try Self.loadFolder(options)
            (train, test, labelled, names) = (folder.train, folder.test, folder.isLabelled, folder.classNames)
            (mean, std) = try Self.statistics(of: train)
        case "fashion-mnist":
            train = try FashionMNIST.load(split: .train, directory: options.dataDirectory)
            test = try FashionMNIST.load(split: .test, directory: options.dataDirectory)
            (mean, std) = ([0.2860], [0.3530])
        case "mnist":
            guard let directory = options.dataDirectory else {
                throw TrainingError.invalidConfiguration("--dataset mnist needs --data-dir with the MNIST IDX files")
            }
            train = try MNIST.load(split: .train, directory: directory)
            test = try MNIST.load(split: .test, directory: directory)
            (mean, std) = ([0.1307], [0.3081])
        case "cifar10":
            guard let directory = options.dataDirectory else {
                throw TrainingError.invalidConfiguration("--dataset cifar10 needs --data-dir with the CIFAR-10 binary batches")
            }
            train = try CIFAR10.load(split: .train, directory: directory)
            test = try CIFAR10.load(split: .test, directory: directory)
            (mean, std) = ([0.4914, 0.4822, 0.4465], [0.2470, 0.2435, 0.2616])
        default:
            train = BuiltinShapes.load(split: .train, count: options.trainSamples, seed: options.seed)
            test = BuiltinShapes.load(split: .test, count: options.testSamples, seed: options.seed)
            (mean, std) = try Self.statistics(of: train)
        }
        try Self.checkSplitsAgree(train: train, test: test)
        if let limit = options.trainSamples { train = train.prefix(Swift.min(limit, train.count)) }
        if let limit = options.testSamples { test = test.prefix(Swift.min(limit, test.count)) }
        self.datasetName = dataset
        self.isLabelled = labelled
        self.folderClassNames = names
        self.normalization = (mean, std)
        self.train = train
        self.test = test
        let blur = options.blur ?? (dataset == "folder" && Self.folderImagesAreBlurred(imageSize: train.height))
        viewsAreBlurred = blur
        let view = Self.augmentation(size: train.height, channels: train.channels, photographic: dataset == "folder", blur: blur,
                                     mean: mean, std: std, scale: options.cropMinimumScale...1)
        let plain = MultiViewTransform([Normalize(mean: mean, std: std)])
        let batchSize = Swift.min(options.batchSize, train.count)
        let trainViews = options.method == .dino
            ? try Self.multiCrop(options, size: train.height, channels: train.channels, photographic: dataset == "folder", blur: blur,
                                 mean: mean, std: std)
            : MultiViewTransform(view, count: 2)
        trainLoader = DataLoader(train, batchSize: batchSize, views: trainViews, shuffle: true,
                                 dropLast: true, seed: options.seed, workers: options.workers)
        validationLoader = DataLoader(test, batchSize: Swift.min(512, test.count), views: plain, shuffle: false, dropLast: false,
                                      seed: options.seed, workers: options.workers)
        trainEvaluationLoader = DataLoader(train, batchSize: 512, views: plain, shuffle: false, dropLast: false,
                                           seed: options.seed, workers: options.workers)
        testEvaluationLoader = validationLoader
        epochs = options.epochs ?? (dataset == "builtin" ? 2 : 1)
    }

    /// Whether an image folder's augmentations blur: images above 32 px (SimCLR blurs
    /// ImageNet-size images, not CIFAR's).
    static func folderImagesAreBlurred(imageSize: Int) -> Bool { imageSize > 32 }

    /// One view's augmentation: the reference settings, plus, for photographs (an image
    /// folder), saturation and hue jitter and grey (RGB), and with `blur` a Gaussian blur about
    /// 10% of the crop's side.
    static func augmentation(size: Int, channels: Int, photographic: Bool, blur: Bool, mean: [Float], std: [Float],
                             scale: ClosedRange<Float> = 0.3...1) -> Compose {
        var steps: [ImageTransform] = [RandomResizedCrop(size: size, scale: scale), RandomHorizontalFlip(p: 0.5)]
        if photographic && channels == 3 {
            steps.append(RandomApply([ColorJitter(brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.1)], p: 0.8))
            steps.append(RandomGrayscale(p: 0.2))
        } else {
            steps.append(RandomApply([ColorJitter(brightness: 0.4, contrast: 0.4)], p: 0.8))
        }
        if blur {
            let kernel = Swift.max(3, (size / 10) | 1)    // odd, about a tenth of the side
            steps.append(GaussianBlur(kernelSize: kernel, sigma: 0.1...2.0, p: 0.5))
        }
        steps.append(Normalize(mean: mean, std: std))
        return Compose(steps)
    }

    /// DINO's crops: two global and `--local-crops` local ones (see the type's notes). The
    /// MLP backbone takes only images of the image size: other crop sizes are an error.
    static func multiCrop(_ options: RecipeOptions, size: Int, channels: Int, photographic: Bool, blur: Bool,
                          mean: [Float], std: [Float]) throws -> MultiViewTransform {
        let globalSize = options.globalCropSize ?? size
        let localSize = options.localCropSize ?? RecipeOptions.defaultLocalCropSize(imageSize: size)
        if options.backbone == "mlp" && (globalSize != size || (options.localCrops > 0 && localSize != size)) {
            throw TrainingError.invalidConfiguration("--backbone mlp takes only \(size)×\(size) images, but the crops are \(globalSize) (global) and \(localSize) (local) px: use --backbone convnet or resnet18, or --local-crop-size \(size) (or --local-crops 0) and no --global-crop-size")
        }
        let global = augmentation(size: globalSize, channels: channels, photographic: photographic, blur: blur, mean: mean, std: std,
                                  scale: 0.4...1)
        let local = augmentation(size: localSize, channels: channels, photographic: photographic, blur: blur, mean: mean, std: std,
                                 scale: 0.05...0.4)
        return MultiViewTransform([global, global], local: Array(repeating: local, count: options.localCrops))
    }

    /// Throws when the two splits' images differ in channels, height or width (a reshaped or
    /// mismatched file would otherwise train on one shape and evaluate on another).
    static func checkSplitsAgree(train: any ImageDataset, test: any ImageDataset) throws {
        let trainShape = [train.channels, train.height, train.width], testShape = [test.channels, test.height, test.width]
        guard trainShape != testShape else { return }
        let differing = zip(["channels", "height", "width"], zip(trainShape, testShape)).filter { $0.1.0 != $0.1.1 }.map(\.0)
        func shape(_ values: [Int]) -> String { values.map(String.init).joined(separator: "×") }
        throw TrainingError.invalidConfiguration("the test split \"\(test.name)\" holds \(shape(testShape)) images (channels×height×width) but the training split \"\(train.name)\" holds \(shape(trainShape)): the \(differing.joined(separator: " and ")) differ\(differing.count == 1 ? "s" : ""); both splits must have one image shape")
    }

    /// Per-channel mean and standard deviation of a dataset's pixels in [0, 1]. A streamed
    /// folder of more than `streamedStatisticsLimit` images is measured on that many, evenly
    /// spread (each is decoded for it); every other dataset on all its images.
    static func statistics(of dataset: any ImageDataset) throws -> ([Float], [Float]) {
        let plane = dataset.height * dataset.width, channels = dataset.channels
        var sums = [Double](repeating: 0, count: channels), squares = [Double](repeating: 0, count: channels)
        func add(_ bytes: some Collection<UInt8>) {
            for (index, byte) in bytes.enumerated() {
                let channel = (index / plane) % channels
                let value = Double(byte) / 255
                sums[channel] += value
                squares[channel] += value * value
            }
        }
        var imageCount = dataset.count
        if let inMemory = dataset as? InMemoryImageDataset {
            add(inMemory.pixels)
        } else {
            let chosen = Self.statisticsSample(count: dataset.count, limit: streamedStatisticsLimit)
            imageCount = chosen.count
            try forEachDecoded(dataset, chosen) { add($0) }
        }
        let count = Double(imageCount * plane)
        let mean = sums.map { $0 / count }
        let std = zip(squares, mean).map { (($0 / count) - $1 * $1).squareRoot() }
        return (mean.map(Float.init), std.map { Float(Swift.max($0, 1e-3)) })
    }

    /// The backbone the options name, for this dataset's channels.
    public func makeBackbone(_ name: String) -> (module: Module, features: Int) {
        Self.makeBackbone(name, channels: train.channels, height: train.height, width: train.width)
    }

    /// The backbone `name` (`mlp`, `resnet18`, else the ConvNet) for images of this shape.
    public static func makeBackbone(_ name: String, channels: Int, height: Int, width: Int) -> (module: Module, features: Int) {
        switch name {
        case "mlp":
            let backbone = MLPBackbone(inputSize: channels * height * width, hiddenSizes: [1024, 1024])
            return (backbone, backbone.outputFeatures)
        case "resnet18":
            let backbone = ResNet18(inputChannels: channels, stem: .forImages(side: Swift.min(height, width)))
            return (backbone, backbone.outputFeatures)
        default:
            let backbone = ConvNet(channels: [32, 64, 128], inputChannels: channels)
            return (backbone, backbone.outputFeatures)
        }
    }

    /// The monitors every recipe runs: the progress display (plain lines when asked or when
    /// not on a terminal), a linear probe, a kNN and RankMe on the validation set, and the
    /// learning rate and throughput.
    public func monitors(features: Int, plainProgressLines: Bool) -> [Callback] {
        let probes: [Callback] = isLabelled
            ? [OnlineProbe(featureCount: features, classCount: classCount), OnlineKNN(queueLength: 20_000, classCount: classCount)]
            : []
        return [ProgressBar(forceTerminal: plainProgressLines ? false : nil)] + probes
            + [RankMe(), LearningRateMonitor(), ThroughputMonitor()]
    }

    /// The trainer every recipe runs: the options' epochs, seed, run directory and failure
    /// policies, the monitors, and checkpoints at every epoch end and every
    /// `--checkpoint-every-steps` steps. `hyperparameters` adds the method's own to the common ones;
    /// `encoderKey` is where the evaluated encoder sits in the module's state (`backbone`, or
    /// `backbone.teacher` for an EMA teacher), so `ssl-embed` can take it from a checkpoint.
    public func makeTrainer(name: String, features: Int, hyperparameters: [String: String],
                            encoderKey: String = "backbone") -> Trainer {
        let checkpoint = ModelCheckpoint(lastEveryNTrainSteps: options.checkpointEverySteps > 0 ? options.checkpointEverySteps : nil,
                                         onWriteFailure: options.onCheckpointFailure)
        let common = ["method": name, "dataset": datasetName, "backbone": options.backbone,
                      "batch_size": String(options.batchSize), "lr": String(options.learningRate), "optimizer": options.optimizer,
                      "checkpoint_every_steps": String(options.checkpointEverySteps),
                      "blur": viewsAreBlurred ? "on" : "off",
                      "crop_scale": options.method == .dino ? "0.4 (global), 0.05 (local)" : String(options.cropMinimumScale)]
            .merging(RunEncoder.Description(backbone: options.backbone, features: features, channels: train.channels,
                                            height: train.height, width: train.width, mean: normalization.mean,
                                            std: normalization.std, encoderKey: encoderKey).hyperparameters) { a, _ in a }
        return Trainer(maxEpochs: epochs, seed: options.seed,
                       callbacks: [RunDirectoryAnnouncement()] + monitors(features: features, plainProgressLines: !options.progressBar)
                           + [FirstBatchViews(), checkpoint]
                           + (communicator.isDistributed ? [DataParallelRecipeSetup(communicator: communicator)] : []),
                       rootDirectory: options.runDirectory, name: name, nonFiniteLoss: options.onNonFiniteLoss,
                       hyperparameters: common.merging(hyperparameters) { _, method in method },
                       strategy: communicator.isDistributed ? .dataParallel(communicator) : .singleProcess)
    }
}

/// Prints `run directory: PATH` when a fit starts, before any progress line.
final class RunDirectoryAnnouncement: Callback {
    func onFitStart(_ trainer: Trainer, _ module: TrainableModule) {
        if let directory = trainer.runDirectory { writeLine("run directory: \(directory)") }
    }
}

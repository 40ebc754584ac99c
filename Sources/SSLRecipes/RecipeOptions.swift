import Foundation
import SSLTraining

/// The command-line options shared by the recipes, parsed by hand (the package has no
/// dependencies). Unknown or malformed options print a one-line error and the usage and exit
/// with status 2; `--help` prints the usage and exits 0.
public struct RecipeOptions: Sendable {
    public enum Method: String, Sendable { case simclr, byol, vicreg, barlowtwins, mocov3, dino }

    public var method: Method
    public var dataset: String?          // nil: Fashion-MNIST when installed, else builtin
    public var dataDirectory: String?
    public var backbone = "convnet"
    public var epochs: Int?
    public var batchSize = 256
    public var learningRate: Float = 2e-3
    public var weightDecay: Float = 1e-4
    public var optimizer = "adamw"
    public var workers = 2
    public var seed: UInt64 = 0
    public var runDirectory = "runs"
    public var resume: String?
    /// NT-Xent's (simclr) or InfoNCE's (mocov3) temperature.
    public var temperature: Float = 0.2
    /// The EMA teacher's coefficient at the first and last step (byol, mocov3: 0.99; dino: 0.996).
    public var emaBase: Float = 0.99
    public var emaFinal: Float = 1.0
    /// DINO: prototypes (the head's output), local crops per image, the crops' sides (nil:
    /// the image size, and 96/224 of it as DINO's 96 px of 224), the temperatures and the
    /// centre's momentum.
    public var outputDimension = 4096
    public var localCrops = 6
    public var globalCropSize: Int?
    public var localCropSize: Int?
    public var teacherTemperature: Float = 0.07
    public var warmupTeacherTemperature: Float = 0.04
    public var studentTemperature: Float = 0.1
    public var centerMomentum: Float = 0.9
    /// DINO: BatchNorm in the head's MLP (the official `--use_bn_in_head`). On by default: with
    /// the ConvNet on Fashion-MNIST it keeps the features' effective rank above the collapse
    /// criterion's quarter (docs/benchmarks.md, Recipe runs).
    public var batchNormInHead = true
    /// VICReg's loss weights (the official `sim_coeff`, `std_coeff`, `cov_coeff`).
    public var invarianceWeight: Float = 25
    public var varianceWeight: Float = 25
    public var covarianceWeight: Float = 1
    /// Barlow Twins' weight of the off-diagonal terms.
    public var lambda: Float = 5e-3
    /// `--dataset folder`: the side images are resized and cropped to (default 64), their
    /// channels (default 3), the held-out fraction evaluated on (default 0.1), and whether bad
    /// files are skipped.
    public var imageSize: Int?
    public var channels: Int?
    public var validationFraction = 0.1
    /// `--val-dir`: a second folder evaluated on instead of a held-out share of `--data-dir`.
    public var validationDirectory: String?
    public var skipBadFiles = false
    /// `--blur on|off`: a Gaussian blur (p 0.5) in every view; nil: only for folder images
    /// above 32 px. `--crop-scale X`: the smallest share of the image a view's crop covers
    /// (two-view methods; DINO has its own).
    public var blur: Bool?
    public var cropMinimumScale: Float = 0.3
    /// `--memory-budget GiB`: a folder whose decoded images would take more is streamed (its
    /// files decoded by the loader's workers each epoch); nil: half the machine's memory.
    public var memoryBudgetGiB: Double?
    /// `--stream`: stream the folder whatever its size.
    public var stream = false
    public var trainSamples: Int?
    public var testSamples: Int?
    public var progressBar = true
    /// Also write `last.safetensors` every this many optimizer steps (0: only at epoch ends).
    public var checkpointEverySteps = 100
    /// What a NaN or infinite loss does.
    public var onNonFiniteLoss: Trainer.NonFiniteLossPolicy = .stop
    /// What a checkpoint that cannot be written does.
    public var onCheckpointFailure: ModelCheckpoint.WriteFailurePolicy = .stop

    public init(method: Method) {
        self.method = method
        if method == .dino { emaBase = 0.996 }
    }

    public static func usage(_ method: Method) -> String {
        var text = """
            usage: \(method.rawValue) [options]
              --dataset builtin|fashion-mnist|mnist|cifar10|folder   (default: fashion-mnist when installed, else builtin)
              --data-dir PATH        where the dataset files are (default for fashion-mnist: /usr/share/datasets/fashion-mnist;
                                     for folder: a folder of .png/.jpg images, sub-folders as classes)
              --image-size N         folder: shorter side resized to N, then centre-cropped to N×N (default 64)
              --channels 1|3         folder: grey or RGB (default 3)
              --val-fraction X       folder: the share of images held out for evaluation, seeded (default 0.1)
              --val-dir PATH         folder: evaluate on this folder instead (same class sub-folders); nothing held out
              --skip-bad-files       folder: leave out files that cannot be decoded (default: stop naming the file)
              --memory-budget GiB    folder: above this decoded size, stream: decode the files every epoch (default: half the memory)
              --stream               folder: stream the files whatever their decoded size
              --blur on|off          Gaussian blur (p 0.5) in the views (default: on for folder images above 32 px)
              --crop-scale X         the smallest share of the image a crop covers (default 0.3; DINO: its own)
              --backbone mlp|convnet|resnet18   (default convnet)
              --epochs N             (default: 1 on fashion-mnist/mnist/cifar10, 2 on builtin; 0: no training, the
                                     final lines evaluate the encoder at initialisation)
              --batch-size N         images per batch, not views (default 256)
              --lr X                 learning rate (default 2e-3)
              --weight-decay X       (default 1e-4)
              --optimizer adamw|lars|sgd   (default adamw; cosine annealing to 0 over all steps)
              --workers N            data-loading threads (default 2)
              --seed N               (default 0)
              --run-dir PATH         runs are written to PATH/\(method.rawValue)/version_N (default runs)
              --resume last|PATH     continue from the newest last checkpoint, or a checkpoint file
              --train-samples N      use only the first N training images (smoke tests)
              --test-samples N       use only the first N test images
              --no-progress-bar      plain periodic progress lines instead of a refreshing bar
              --checkpoint-every-steps N   also write checkpoints/last.safetensors every N optimizer steps (default 100; 0: epoch ends only)
              --on-nan stop|skip     a NaN or infinite loss stops the run with an error, or skips that batch (default stop)
              --checkpoint-failure stop|warn   a checkpoint that cannot be written stops the run, or warns and goes on (default stop)
            """
        switch method {
        case .simclr: text += "\n  --temperature X        NT-Xent temperature (default 0.2)"
        case .byol: text += "\n  --ema-base X           EMA coefficient at the first step (default 0.99)\n  --ema-final X          EMA coefficient at the last step (default 1.0)"
        case .vicreg:
            text += "\n  --invariance-weight X  weight of the invariance term (sim_coeff, default 25)"
            text += "\n  --variance-weight X    weight of the variance term (std_coeff, default 25)"
            text += "\n  --covariance-weight X  weight of the covariance term (cov_coeff, default 1)"
        case .barlowtwins: text += "\n  --lambda X             weight of the off-diagonal terms (default 5e-3)"
        case .mocov3:
            text += "\n  --temperature X        InfoNCE temperature (default 0.2)"
            text += "\n  --ema-base X           momentum encoder's EMA coefficient at the first step (default 0.99)"
            text += "\n  --ema-final X          at the last step (default 1.0)"
        case .dino:
            text += "\n  --local-crops N        local crops per image besides the 2 global ones (default 6; 0: none)"
            text += "\n  --global-crop-size N   side of the global crops (default: the image size)"
            text += "\n  --local-crop-size N    side of the local crops (default: 96/224 of the image size, 12 on 28)"
            text += "\n  --out-dim N            prototypes of the DINO head (default 4096)"
            text += "\n  --teacher-temperature X          after the warm-up (default 0.07)"
            text += "\n  --warmup-teacher-temperature X   at the first step, rising over 30% of the steps (default 0.04)"
            text += "\n  --student-temperature X          (default 0.1)"
            text += "\n  --center-momentum X    momentum of the teacher's centre (default 0.9)"
            text += "\n  --bn-in-head on|off    BatchNorm in the head's MLP (the official --use_bn_in_head; default on)"
            text += "\n  --ema-base X           teacher's EMA coefficient at the first step (default 0.996)"
            text += "\n  --ema-final X          at the last step (default 1.0)"
        }
        return text + "\n  -h, --help             this text"
    }

    /// Parses `arguments` (without the program name); on an error prints it with the usage and
    /// exits 2.
    public static func parseOrExit(_ arguments: [String], method: Method) -> RecipeOptions {
        do {
            return try parse(arguments, method: method)
        } catch OptionError.help {
            writeLine(usage(method))
            exit(0)
        } catch {
            FileHandle.standardError.write(Data("\(method.rawValue): \(error)\n\(usage(method))\n".utf8))
            exit(2)
        }
    }

    enum OptionError: Error, CustomStringConvertible {
        case help
        case unknown(String)
        case missingValue(String)
        case invalid(String, String, String)
        var description: String {
            switch self {
            case .help: return "help"
            case .unknown(let option): return "unknown option \(option)"
            case .missingValue(let option): return "option \(option) needs a value"
            case .invalid(let option, let value, let expected): return "invalid value \"\(value)\" for \(option) (expected \(expected))"
            }
        }
    }

    public static func parse(_ arguments: [String], method: Method) throws -> RecipeOptions {
        var options = RecipeOptions(method: method)
        var index = 0
        func value(_ option: String) throws -> String {
            index += 1
            guard index < arguments.count else { throw OptionError.missingValue(option) }
            return arguments[index]
        }
        func integer(_ option: String, minimum: Int = 1) throws -> Int {
            let text = try value(option)
            guard let number = Int(text), number >= minimum else { throw OptionError.invalid(option, text, "an integer ≥ \(minimum)") }
            return number
        }
        func real(_ option: String) throws -> Float {
            let text = try value(option)
            guard let number = Float(text), number.isFinite, number >= 0 else { throw OptionError.invalid(option, text, "a non-negative number") }
            return number
        }
        func positive(_ option: String) throws -> Float {
            let number = try real(option)
            guard number > 0 else { throw OptionError.invalid(option, "0", "a positive number") }
            return number
        }
        func choice(_ option: String, _ allowed: [String]) throws -> String {
            let text = try value(option)
            guard allowed.contains(text) else { throw OptionError.invalid(option, text, allowed.joined(separator: "|")) }
            return text
        }
        while index < arguments.count {
            let argument = arguments[index]
            switch argument {
            case "-h", "--help": throw OptionError.help
            case "--dataset": options.dataset = try choice(argument, ["builtin", "fashion-mnist", "mnist", "cifar10", "folder"])
            case "--image-size": options.imageSize = try integer(argument, minimum: 8)
            case "--channels": options.channels = Int(try choice(argument, ["1", "3"]))
            case "--skip-bad-files": options.skipBadFiles = true
            case "--stream": options.stream = true
            case "--memory-budget":
                let text = try value(argument)
                guard let gibibytes = Double(text), gibibytes > 0, gibibytes.isFinite else {
                    throw OptionError.invalid(argument, text, "a positive number of GiB")
                }
                options.memoryBudgetGiB = gibibytes
            case "--val-fraction":
                let text = try value(argument)
                guard let fraction = Double(text), fraction > 0, fraction < 1 else {
                    throw OptionError.invalid(argument, text, "a fraction between 0 and 1")
                }
                options.validationFraction = fraction
            case "--data-dir": options.dataDirectory = try value(argument)
            case "--val-dir": options.validationDirectory = try value(argument)
            case "--blur": options.blur = try choice(argument, ["on", "off"]) == "on"
            case "--crop-scale":
                options.cropMinimumScale = try positive(argument)
                guard options.cropMinimumScale <= 1 else { throw OptionError.invalid(argument, "\(options.cropMinimumScale)", "a share in (0, 1]") }
            case "--backbone": options.backbone = try choice(argument, ["mlp", "convnet", "resnet18"])
            case "--epochs": options.epochs = try integer(argument, minimum: 0)
            case "--batch-size": options.batchSize = try integer(argument, minimum: 2)
            case "--lr": options.learningRate = try real(argument)
            case "--weight-decay": options.weightDecay = try real(argument)
            case "--optimizer": options.optimizer = try choice(argument, ["adamw", "lars", "sgd"])
            case "--workers": options.workers = try integer(argument, minimum: 0)
            case "--seed": options.seed = UInt64(try integer(argument, minimum: 0))
            case "--run-dir": options.runDirectory = try value(argument)
            case "--resume": options.resume = try value(argument)
            case "--train-samples": options.trainSamples = try integer(argument)
            case "--test-samples": options.testSamples = try integer(argument)
            case "--no-progress-bar": options.progressBar = false
            case "--checkpoint-every-steps": options.checkpointEverySteps = try integer(argument, minimum: 0)
            case "--on-nan": options.onNonFiniteLoss = try choice(argument, ["stop", "skip"]) == "skip" ? .skipBatch : .stop
            case "--checkpoint-failure":
                options.onCheckpointFailure = try choice(argument, ["stop", "warn"]) == "warn" ? .warn : .stop
            case "--temperature" where method == .simclr || method == .mocov3:
                options.temperature = try real(argument)
                guard options.temperature > 0 else { throw OptionError.invalid(argument, "0", "a positive number") }
            case "--ema-base" where method.hasTeacher: options.emaBase = try real(argument)
            case "--ema-final" where method.hasTeacher: options.emaFinal = try real(argument)
            case "--invariance-weight" where method == .vicreg: options.invarianceWeight = try real(argument)
            case "--variance-weight" where method == .vicreg: options.varianceWeight = try real(argument)
            case "--covariance-weight" where method == .vicreg: options.covarianceWeight = try real(argument)
            case "--lambda" where method == .barlowtwins: options.lambda = try real(argument)
            case "--local-crops" where method == .dino: options.localCrops = try integer(argument, minimum: 0)
            case "--global-crop-size" where method == .dino: options.globalCropSize = try integer(argument, minimum: 4)
            case "--local-crop-size" where method == .dino: options.localCropSize = try integer(argument, minimum: 4)
            case "--out-dim" where method == .dino: options.outputDimension = try integer(argument)
            case "--teacher-temperature" where method == .dino: options.teacherTemperature = try positive(argument)
            case "--warmup-teacher-temperature" where method == .dino: options.warmupTeacherTemperature = try positive(argument)
            case "--student-temperature" where method == .dino: options.studentTemperature = try positive(argument)
            case "--bn-in-head" where method == .dino: options.batchNormInHead = try choice(argument, ["on", "off"]) == "on"
            case "--center-momentum" where method == .dino:
                options.centerMomentum = try real(argument)
                guard options.centerMomentum <= 1 else { throw OptionError.invalid(argument, "\(options.centerMomentum)", "a value in [0, 1]") }
            default: throw OptionError.unknown(argument)
            }
            index += 1
        }
        if method.hasTeacher && !(options.emaBase <= 1 && options.emaFinal <= 1) {
            throw OptionError.invalid("--ema-base/--ema-final", "\(options.emaBase)/\(options.emaFinal)", "values in [0, 1]")
        }
        return options
    }

    /// DINO's options as run hyperparameters (the crop sides resolved for `imageSize`).
    public func dinoHyperparameters(imageSize: Int) -> [String: String] {
        ["out_dim": String(outputDimension), "local_crops": String(localCrops), "bn_in_head": String(batchNormInHead),
         "global_crop_size": String(globalCropSize ?? imageSize),
         "local_crop_size": String(localCropSize ?? Self.defaultLocalCropSize(imageSize: imageSize)),
         "teacher_temperature": String(teacherTemperature), "warmup_teacher_temperature": String(warmupTeacherTemperature),
         "student_temperature": String(studentTemperature), "center_momentum": String(centerMomentum),
         "ema_base": String(emaBase), "ema_final": String(emaFinal)]
    }

    /// The local crops' default side: 96/224 of the image's (DINO's 96 px local crops of 224 px
    /// images), 12 on 28 px images.
    public static func defaultLocalCropSize(imageSize: Int) -> Int {
        Swift.max(4, Int((Double(imageSize) * 96 / 224).rounded()))
    }

    /// The optimizer the options ask for, with cosine annealing to 0 over the fit. DINO's
    /// starts with a linear warm-up over the first 10% of the steps (the official code's 10
    /// epochs of 100), without which its teacher collapses onto one prototype in the first steps.
    public var optimizerSpec: OptimizerSpec {
        let schedule: OptimizerSpec.Schedule = method == .dino
            ? .warmupCosine(warmupFraction: 0.1, startFactor: 0.01, finalLearningRate: 0) : .cosine
        switch optimizer {
        case "lars": return .lars(learningRate: learningRate, weightDecay: weightDecay,
                                  schedule: method == .dino ? schedule : .warmupCosine)
        case "sgd": return .sgd(learningRate: learningRate, momentum: 0.9, weightDecay: weightDecay, schedule: schedule)
        default: return .adamW(learningRate: learningRate, weightDecay: weightDecay, schedule: schedule)
        }
    }

    /// The trainer's resume source.
    public var resumeSource: Trainer.ResumeSource? { resume.map { Trainer.ResumeSource(stringLiteral: $0) } }
}

extension RecipeOptions.Method {
    /// Whether the method trains against an EMA teacher (and takes `--ema-base`/`--ema-final`).
    public var hasTeacher: Bool { self == .byol || self == .mocov3 || self == .dino }
}

/// Writes one line of a recipe's output straight to standard output, as the progress display
/// does, so the lines come out in the order they happen even when the output is a pipe or a
/// file (Swift's `print` is block-buffered there and would come out last).
func writeLine(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}

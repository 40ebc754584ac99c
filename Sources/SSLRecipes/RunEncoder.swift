import Foundation
import SSLNN
import SSLTensor
import SSLTraining

/// The trained encoder of a recipe run, loaded back from its run directory (`hparams.json`
/// says which backbone, image shape and normalisation; `encoder.safetensors` holds the
/// weights) or from one of its checkpoints (the encoder is taken from the model state under
/// `encoder_key`).
///
/// ```swift
/// let run = try RunEncoder.load("runs/simclr/version_0")
/// let embeddings = run.encoder(images)          // images normalised with run.description.mean/std
/// ```
public struct RunEncoder {
    /// What a run records about its encoder, in `hparams.json`.
    public struct Description: Sendable, Equatable {
        public var backbone: String
        public var features: Int
        public var channels: Int
        public var height: Int
        public var width: Int
        public var mean: [Float]
        public var std: [Float]
        public var encoderKey: String

        public init(backbone: String, features: Int, channels: Int, height: Int, width: Int, mean: [Float], std: [Float],
                    encoderKey: String) {
            (self.backbone, self.features, self.channels, self.height, self.width) = (backbone, features, channels, height, width)
            (self.mean, self.std, self.encoderKey) = (mean, std, encoderKey)
        }

        /// The `hparams.json` entries.
        public var hyperparameters: [String: String] {
            ["backbone": backbone, "features": String(features), "image_channels": String(channels),
             "image_height": String(height), "image_width": String(width),
             "normalize_mean": mean.map { String($0) }.joined(separator: ","),
             "normalize_std": std.map { String($0) }.joined(separator: ","), "encoder_key": encoderKey]
        }

        /// Reads the entries back; `source` names the file in errors.
        public init(hyperparameters values: [String: String], source: String) throws {
            func value(_ key: String) throws -> String {
                guard let text = values[key] else {
                    throw TrainingError.badFile(path: source, problem: "has no \"\(key)\" (was the run made by an older version? it needs backbone, features, image_channels, image_height, image_width, normalize_mean, normalize_std)")
                }
                return text
            }
            func count(_ key: String) throws -> Int {
                let text = try value(key)
                guard let number = Int(text), number > 0, number <= 1 << 20 else {
                    throw TrainingError.badFile(path: source, problem: "\"\(key)\" is \(text), not a positive size")
                }
                return number
            }
            func floats(_ key: String) throws -> [Float] {
                let text = try value(key)
                let numbers = text.split(separator: ",").compactMap { Float($0) }
                guard !numbers.isEmpty, numbers.count == text.split(separator: ",").count, numbers.allSatisfy(\.isFinite) else {
                    throw TrainingError.badFile(path: source, problem: "\"\(key)\" is \(text), not a list of numbers")
                }
                return numbers
            }
            self.init(backbone: try value("backbone"), features: try count("features"), channels: try count("image_channels"),
                      height: try count("image_height"), width: try count("image_width"), mean: try floats("normalize_mean"),
                      std: try floats("normalize_std"), encoderKey: values["encoder_key"] ?? "backbone")
            guard mean.count == channels, std.count == channels, std.allSatisfy({ $0 > 0 }) else {
                throw TrainingError.badFile(path: source, problem: "normalize_mean/normalize_std do not give one positive value per channel (\(channels))")
            }
        }
    }

    public let description: Description
    public let encoder: Module
    /// The run directory.
    public let directory: String

    /// Loads the encoder of the run at `path`: a run directory (`…/version_N`, using its
    /// `encoder.safetensors`) or a checkpoint file inside one (`…/checkpoints/last.safetensors`).
    public static func load(_ path: String) throws -> RunEncoder {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw TrainingError.badFile(path: path, problem: "does not exist (give a run directory such as runs/simclr/version_0, or a checkpoint in it)")
        }
        let directory = isDirectory.boolValue ? path
            : ((path as NSString).deletingLastPathComponent as NSString).deletingLastPathComponent
        let hparamsPath = (directory as NSString).appendingPathComponent("hparams.json")
        let values: [String: String]
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: hparamsPath))
            guard let object = try JSONSerialization.jsonObject(with: data) as? [String: String] else {
                throw TrainingError.badFile(path: hparamsPath, problem: "is not a JSON object of strings")
            }
            values = object
        } catch let error as TrainingError {
            throw error
        } catch {
            throw TrainingError.badFile(path: hparamsPath, problem: "cannot be read: \(error.localizedDescription)")
        }
        let description = try Description(hyperparameters: values, source: hparamsPath)
        let (encoder, features) = RecipeSetup.makeBackbone(description.backbone, channels: description.channels,
                                                           height: description.height, width: description.width)
        guard features == description.features else {
            throw TrainingError.badFile(path: hparamsPath, problem: "says \(description.features) features, but backbone \(description.backbone) gives \(features)")
        }
        let weightsPath: String
        let state: StateDict
        if isDirectory.boolValue {
            weightsPath = (directory as NSString).appendingPathComponent("encoder.safetensors")
            do { state = try SafeTensors.read(from: weightsPath) } catch {
                throw TrainingError.badFile(path: weightsPath, problem: "\(error) (a run writes encoder.safetensors when it ends; pass a checkpoint of an unfinished run instead)")
            }
        } else {
            weightsPath = path
            state = try Checkpoint.read(from: path).model.scoped(to: description.encoderKey)
        }
        do {
            try encoder.loadStateDict(state, strict: true)
        } catch {
            throw TrainingError.badFile(path: weightsPath, problem: "does not hold a \(description.backbone) encoder: \(error)")
        }
        encoder.eval()
        return RunEncoder(description: description, encoder: encoder, directory: directory)
    }
}

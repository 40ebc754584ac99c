import SSLTensor

/// A small convolutional encoder: one stage per entry of `channels`, each two 3×3
/// convolution → BatchNorm2d → ReLU blocks (no conv bias, padding 1), the first conv of every
/// stage after the first with stride 2; then global average pooling and flattening.
/// `outputFeatures` is the last channel count.
///
/// Parameter names: `stages.0.conv1.weight`, `stages.0.bn1.running_mean`, …
///
/// ```swift
/// let encoder = ConvNet(channels: [32, 64, 128], inputChannels: 1)   // [N,1,28,28] → [N,128]
/// ```
public final class ConvNet: Module {
    public let channels: [Int]
    public let inputChannels: Int
    public let stages: [ConvStage]

    public init(channels: [Int] = [32, 64, 128], inputChannels: Int = 1) {
        precondition(!channels.isEmpty, "ConvNet: needs at least one stage")
        self.channels = channels
        self.inputChannels = inputChannels
        var stages: [ConvStage] = []
        var width = inputChannels
        for (index, channelCount) in channels.enumerated() {
            stages.append(ConvStage(width, channelCount, stride: index == 0 ? 1 : 2))
            width = channelCount
        }
        self.stages = stages
        super.init()
    }

    /// The size of the feature vector.
    public var outputFeatures: Int { channels[channels.count - 1] }

    public override func forward(_ input: Tensor) -> Tensor {
        precondition(input.rank == 4 && input.shape[1] == inputChannels,
                     "ConvNet: input shape \(input.shape) must be [N, \(inputChannels), H, W]")
        let features = stages.reduce(input) { $1($0) }
        return features.adaptiveAvgPool2dToOne().flatten()
    }

    public override func makeCopy() -> Module { ConvNet(channels: channels, inputChannels: inputChannels) }
}

/// One stage of `ConvNet`: conv1 → bn1 → ReLU → conv2 → bn2 → ReLU.
public final class ConvStage: Module {
    public let conv1: Conv2d
    public let bn1: BatchNorm2d
    public let conv2: Conv2d
    public let bn2: BatchNorm2d

    public init(_ inputChannels: Int, _ outputChannels: Int, stride: Int) {
        conv1 = Conv2d(inputChannels, outputChannels, kernelSize: 3, stride: stride, padding: 1, bias: false)
        bn1 = BatchNorm2d(outputChannels)
        conv2 = Conv2d(outputChannels, outputChannels, kernelSize: 3, padding: 1, bias: false)
        bn2 = BatchNorm2d(outputChannels)
        super.init()
    }

    public override func forward(_ input: Tensor) -> Tensor {
        bn2.callAsFunctionThenReLU(conv2(bn1.callAsFunctionThenReLU(conv1(input))))
    }

    public override func makeCopy() -> Module {
        ConvStage(conv1.inputChannels, conv1.outputChannels, stride: conv1.stride)
    }
}

import SSLTensor

/// ResNet-18: a stem, four stages of two basic blocks (widths 64, 128, 256, 512 ×
/// `widthMultiplier`, strides 1, 2, 2, 2), global average pooling and no classifier. Names
/// follow torchvision (`conv1`, `bn1`, `layer1.0.conv1`, `layer2.0.downsample.0`, …), so
/// weights move to and from PyTorch.
///
/// The stem: `.lowResolution` (a 3×3 stride-1 first convolution and no max-pool, for 28–63 px
/// images as CIFAR-style ResNets and solo-learn use) or `.imageNet` (torchvision's 7×7
/// stride-2 convolution then a 3×3 stride-2 max-pool, for 64 px and up). `Stem.forImages(side:)`
/// picks by size.
/// [He et al. 2016](https://arxiv.org/abs/1512.03385)
///
/// ```swift
/// let encoder = ResNet18(inputChannels: 1)                   // [N, 1, 28, 28] → [N, 512]
/// let photos = ResNet18(inputChannels: 3, stem: .imageNet)   // [N, 3, 96, 96] → [N, 512]
/// ```
public final class ResNet18: Module {
    /// The first layers, before the residual stages.
    public enum Stem: String, Sendable {
        case lowResolution, imageNet

        /// `.imageNet` from 64 px up, `.lowResolution` below.
        public static func forImages(side: Int) -> Stem { side >= 64 ? .imageNet : .lowResolution }
    }

    public let inputChannels: Int
    public let widthMultiplier: Int
    public let stem: Stem
    public let conv1: Conv2d
    public let bn1: BatchNorm2d
    public let layer1: Sequential
    public let layer2: Sequential
    public let layer3: Sequential
    public let layer4: Sequential

    public init(inputChannels: Int = 3, widthMultiplier: Int = 1, stem: Stem = .lowResolution) {
        precondition(inputChannels > 0 && widthMultiplier > 0,
                     "ResNet18: invalid input channels \(inputChannels) or width multiplier \(widthMultiplier)")
        self.inputChannels = inputChannels
        self.widthMultiplier = widthMultiplier
        self.stem = stem
        let widths = [64, 128, 256, 512].map { $0 * widthMultiplier }
        switch stem {
        case .lowResolution: conv1 = Conv2d(inputChannels, widths[0], kernelSize: 3, stride: 1, padding: 1, bias: false)
        case .imageNet: conv1 = Conv2d(inputChannels, widths[0], kernelSize: 7, stride: 2, padding: 3, bias: false)
        }
        bn1 = BatchNorm2d(widths[0])
        func stage(_ input: Int, _ output: Int, stride: Int) -> Sequential {
            Sequential([BasicBlock(input, output, stride: stride), BasicBlock(output, output, stride: 1)])
        }
        layer1 = stage(widths[0], widths[0], stride: 1)
        layer2 = stage(widths[0], widths[1], stride: 2)
        layer3 = stage(widths[1], widths[2], stride: 2)
        layer4 = stage(widths[2], widths[3], stride: 2)
        super.init()
    }

    /// The size of the feature vector.
    public var outputFeatures: Int { 512 * widthMultiplier }

    public override func forward(_ input: Tensor) -> Tensor {
        precondition(input.rank == 4 && input.shape[1] == inputChannels,
                     "ResNet18: input shape \(input.shape) must be [N, \(inputChannels), H, W]")
        var stemOutput = bn1.callAsFunctionThenReLU(conv1(input))
        if stem == .imageNet { stemOutput = stemOutput.maxPool2d(kernelSize: 3, stride: 2, padding: 1) }
        let features = layer4(layer3(layer2(layer1(stemOutput))))
        return features.adaptiveAvgPool2dToOne().flatten()
    }

    public override func makeCopy() -> Module { ResNet18(inputChannels: inputChannels, widthMultiplier: widthMultiplier, stem: stem) }
}

/// The two-convolution residual block of ResNet-18/34, with a 1×1 convolution + BatchNorm
/// shortcut (`downsample`) when the stride or width changes.
public final class BasicBlock: Module {
    public let conv1: Conv2d
    public let bn1: BatchNorm2d
    public let conv2: Conv2d
    public let bn2: BatchNorm2d
    public let downsample: Sequential?

    public init(_ inputChannels: Int, _ outputChannels: Int, stride: Int) {
        conv1 = Conv2d(inputChannels, outputChannels, kernelSize: 3, stride: stride, padding: 1, bias: false)
        bn1 = BatchNorm2d(outputChannels)
        conv2 = Conv2d(outputChannels, outputChannels, kernelSize: 3, padding: 1, bias: false)
        bn2 = BatchNorm2d(outputChannels)
        downsample = stride != 1 || inputChannels != outputChannels
            ? Sequential([Conv2d(inputChannels, outputChannels, kernelSize: 1, stride: stride, bias: false),
                          BatchNorm2d(outputChannels)])
            : nil
        super.init()
    }

    public override func forward(_ input: Tensor) -> Tensor {
        let residual = conv2(bn1.callAsFunctionThenReLU(conv1(input)))
        let shortcut = downsample.map { $0(input) } ?? input
        // relu(bn2(residual) + shortcut) in one fused operation: neither bn2's output nor the sum is
        // kept for backward.
        return bn2.callAsFunctionAddingThenReLU(residual, shortcut: shortcut)
    }

    public override func makeCopy() -> Module {
        BasicBlock(conv1.inputChannels, conv1.outputChannels, stride: conv1.stride)
    }
}

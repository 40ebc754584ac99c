import SSLTensor

/// A 2-D convolution over `[N, C, H, W]` with a square kernel, equal stride and zero padding.
///
/// Weights `[out, in, k, k]` and bias `[out]` start as PyTorch's (Kaiming-uniform with a = √5,
/// so U(−1/√(in·k²), 1/√(in·k²))).
///
/// ```swift
/// let conv = Conv2d(1, 32, kernelSize: 3, padding: 1, bias: false)
/// let y = conv(images)   // [N, 1, 28, 28] → [N, 32, 28, 28]
/// ```
public final class Conv2d: Module {
    public let inputChannels: Int
    public let outputChannels: Int
    public let kernelSize: Int
    public let stride: Int
    public let padding: Int
    public let weight: Tensor
    public let bias: Tensor?

    public init(_ inputChannels: Int, _ outputChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0,
                bias: Bool = true) {
        precondition(inputChannels > 0 && outputChannels > 0 && kernelSize > 0 && stride > 0 && padding >= 0,
                     "Conv2d: invalid configuration in \(inputChannels) out \(outputChannels) kernel \(kernelSize) stride \(stride) padding \(padding)")
        self.inputChannels = inputChannels
        self.outputChannels = outputChannels
        self.kernelSize = kernelSize
        self.stride = stride
        self.padding = padding
        var generator = ParameterInitialization.makeGenerator()
        weight = Tensor.kaimingUniform([outputChannels, inputChannels, kernelSize, kernelSize],
                                       a: Float(5).squareRoot(), generator: &generator)
        let bound = 1 / Float(inputChannels * kernelSize * kernelSize).squareRoot()
        self.bias = bias ? Tensor.uniform([outputChannels], low: -bound, high: bound, generator: &generator) : nil
        super.init()
        registerParameter("weight", weight)
        if let b = self.bias { registerParameter("bias", b) }
    }

    public override func forward(_ input: Tensor) -> Tensor {
        input.conv2d(weight: weight, bias: bias, stride: stride, padding: padding)
    }

    public override func makeCopy() -> Module {
        Conv2d(inputChannels, outputChannels, kernelSize: kernelSize, stride: stride, padding: padding, bias: bias != nil)
    }
}

import SSLTensor

/// Average pooling over `[N, C, H, W]` with a square window (padding counted, as PyTorch).
public final class AvgPool2d: Module {
    public let kernelSize: Int, stride: Int, padding: Int
    public init(kernelSize: Int, stride: Int? = nil, padding: Int = 0) {
        self.kernelSize = kernelSize
        self.stride = stride ?? kernelSize
        self.padding = padding
        super.init()
    }
    public override func forward(_ input: Tensor) -> Tensor {
        input.avgPool2d(kernelSize: kernelSize, stride: stride, padding: padding)
    }
    public override func makeCopy() -> Module { AvgPool2d(kernelSize: kernelSize, stride: stride, padding: padding) }
}

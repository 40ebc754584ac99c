import SSLTensor

/// Average pooling over `[N, C, H, W]` with a square window (padding counted, as PyTorch).
public final class AvgPool2d: Pool2d {
    public override func forward(_ input: Tensor) -> Tensor {
        input.avgPool2d(kernelSize: kernelSize, stride: stride, padding: padding)
    }
}

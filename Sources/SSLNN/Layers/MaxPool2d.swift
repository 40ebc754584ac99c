import SSLTensor

/// Max pooling over `[N, C, H, W]` with a square window (stride defaults to the window).
public final class MaxPool2d: Pool2d {
    public override func forward(_ input: Tensor) -> Tensor {
        input.maxPool2d(kernelSize: kernelSize, stride: stride, padding: padding)
    }
}

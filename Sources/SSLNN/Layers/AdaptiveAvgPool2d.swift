import SSLTensor

/// Global average pooling to 1×1 (PyTorch's `AdaptiveAvgPool2d(1)`): `[N, C, H, W]` →
/// `[N, C, 1, 1]`.
public final class AdaptiveAvgPool2d: Module {
    public init(outputSize: Int = 1) {
        precondition(outputSize == 1, "AdaptiveAvgPool2d: only output size 1 is supported, got \(outputSize)")
        super.init()
    }
    public override func forward(_ input: Tensor) -> Tensor { input.adaptiveAvgPool2dToOne() }
    public override func makeCopy() -> Module { AdaptiveAvgPool2d() }
}

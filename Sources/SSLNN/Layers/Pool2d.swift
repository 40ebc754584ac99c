import SSLTensor

/// The window that `MaxPool2d` and `AvgPool2d` share (PyTorch's `_MaxPoolNd` and `_AvgPoolNd`):
/// a square `kernelSize`, a `stride` that defaults to the window, and a `padding` (0 by default).
/// A pooling layer subclasses it and implements `forward` from these three; it is not a layer by
/// itself.
///
/// ```swift
/// let pool = MaxPool2d(kernelSize: 3, stride: 2, padding: 1)
/// let y = pool(x)   // [N, C, 32, 32] → [N, C, 16, 16]
/// ```
public class Pool2d: Module {
    public let kernelSize: Int, stride: Int, padding: Int

    public required init(kernelSize: Int, stride: Int? = nil, padding: Int = 0) {
        self.kernelSize = kernelSize
        self.stride = stride ?? kernelSize
        self.padding = padding
        super.init()
    }

    /// A layer of the same kind with the same window (pooling has no parameters to copy).
    public override func makeCopy() -> Module { Self(kernelSize: kernelSize, stride: stride, padding: padding) }
}

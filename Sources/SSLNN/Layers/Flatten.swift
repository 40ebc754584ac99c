import SSLTensor

/// Flattens axes `startAxis…` into one (`[N, C, H, W]` → `[N, C·H·W]` by default).
public final class Flatten: Module {
    public let startAxis: Int
    public init(startAxis: Int = 1) {
        self.startAxis = startAxis
        super.init()
    }
    public override func forward(_ input: Tensor) -> Tensor { input.flatten(startAxis: startAxis) }
    public override func makeCopy() -> Module { Flatten(startAxis: startAxis) }
}

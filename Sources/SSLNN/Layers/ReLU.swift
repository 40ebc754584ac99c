import SSLTensor

/// max(x, 0) as a layer.
public final class ReLU: Module {
    public override init() { super.init() }
    public override func forward(_ input: Tensor) -> Tensor { input.relu() }
    public override func makeCopy() -> Module { ReLU() }
}

import SSLTensor

/// The exact GELU, x·Φ(x), as a layer.
public final class GELU: Module {
    public override init() { super.init() }
    public override func forward(_ input: Tensor) -> Tensor { input.gelu() }
    public override func makeCopy() -> Module { GELU() }
}

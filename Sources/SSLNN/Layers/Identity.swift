import SSLTensor

/// Returns its input (a placeholder, e.g. for a removed classifier head).
public final class Identity: Module {
    public override init() { super.init() }
    public override func forward(_ input: Tensor) -> Tensor { input }
    public override func makeCopy() -> Module { Identity() }
}

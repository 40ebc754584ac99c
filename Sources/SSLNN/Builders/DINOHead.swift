import SSLTensor

/// DINO's projection head: an MLP down to a bottleneck (Linear → GELU between layers, with
/// BatchNorm before each GELU when `batchNorm`, the code's `use_bn_in_head`), its output
/// L2-normalised, then a weight-normalised linear layer onto `outputDimension` prototypes, whose
/// logits the DINO loss turns into distributions.
///
/// As the official `DINOHead` (main_dino.py / vision_transformer.py): the MLP's Linear weights
/// start from N(0, 0.02²) (`trunc_normal_(std=.02)`, whose ±2 bounds are 100 σ away) with zero
/// biases; the last layer keeps `Linear`'s initialisation with its lengths g at 1, fixed when
/// `normalizesLastLayer` (`norm_last_layer=True`, the default). Keys are the official ones:
/// `mlp.0.weight`, …, `last_layer.weight_g`, `last_layer.weight_v`. The official defaults are
/// 2048 hidden, a 256 bottleneck and 65536 prototypes.
/// [Caron et al. 2021](https://arxiv.org/abs/2104.14294)
///
/// ```swift
/// let head = DINOHead(inputFeatures: 128, outputDimension: 4096, hiddenFeatures: 1024)
/// let logits = head(backbone(images))          // [N, 4096]
/// ```
public final class DINOHead: Module {
    public let inputFeatures: Int
    public let outputDimension: Int
    public let hiddenFeatures: Int
    public let bottleneckFeatures: Int
    public let layerCount: Int
    public let usesBatchNorm: Bool
    public let normalizesLastLayer: Bool
    /// Linear → GELU → … → Linear to the bottleneck (`layerCount` Linear layers).
    public let mlp: MLP
    /// The weight-normalised prototypes.
    public let lastLayer: WeightNormalizedLinear

    public init(inputFeatures: Int, outputDimension: Int = 65536, hiddenFeatures: Int = 2048, bottleneckFeatures: Int = 256,
                layerCount: Int = 3, batchNorm: Bool = false, normalizesLastLayer: Bool = true) {
        precondition(layerCount >= 1, "DINOHead: layerCount must be at least 1, got \(layerCount)")
        self.inputFeatures = inputFeatures
        self.outputDimension = outputDimension
        self.hiddenFeatures = hiddenFeatures
        self.bottleneckFeatures = bottleneckFeatures
        self.layerCount = layerCount
        self.usesBatchNorm = batchNorm
        self.normalizesLastLayer = normalizesLastLayer
        let sizes = [inputFeatures] + Array(repeating: hiddenFeatures, count: layerCount - 1) + [bottleneckFeatures]
        mlp = MLP(sizes, batchNorm: batchNorm, activation: .gelu)
        var generator = ParameterInitialization.makeGenerator()
        for case let linear as Linear in mlp.layers {
            linear.weight.copyIn(Tensor.normal(linear.weight.shape, std: 0.02, generator: &generator))
            if let bias = linear.bias { bias.copyIn(Tensor.zeros(bias.shape)) }
        }
        lastLayer = WeightNormalizedLinear(bottleneckFeatures, outputDimension, trainsNorm: !normalizesLastLayer)
        super.init()
        registerModule("mlp", mlp)
        registerModule("last_layer", lastLayer)
    }

    public override func forward(_ input: Tensor) -> Tensor {
        lastLayer(mlp(input).l2Normalize(axis: -1))
    }

    public override func makeCopy() -> Module {
        DINOHead(inputFeatures: inputFeatures, outputDimension: outputDimension, hiddenFeatures: hiddenFeatures,
                 bottleneckFeatures: bottleneckFeatures, layerCount: layerCount, batchNorm: usesBatchNorm,
                 normalizesLastLayer: normalizesLastLayer)
    }
}

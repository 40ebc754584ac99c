import SSLTensor

/// Zeroes elements with probability `probability` in training (scaling the rest by
/// 1/(1 − p)); the identity in evaluation. Its random stream is its own, seeded from
/// `ParameterInitialization`.
public final class Dropout: Module {
    public let probability: Float
    private var generator: RandomGenerator

    public init(probability: Float = 0.5) {
        precondition(probability >= 0 && probability < 1, "Dropout: probability \(probability) must be in [0, 1)")
        self.probability = probability
        generator = ParameterInitialization.makeGenerator()
        super.init()
    }

    public override func forward(_ input: Tensor) -> Tensor {
        input.dropout(probability: probability, training: isTraining, generator: &generator)
    }

    public override func makeCopy() -> Module { Dropout(probability: probability) }
}

// MARK: - Creating tensors

extension Tensor {
    /// A tensor with the given shape and row-major values.
    ///
    /// ```swift
    /// let x = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
    /// ```
    public convenience init(shape: [Int], scalars: [Float], requiresGrad: Bool = false) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor(shape:scalars:): negative dimension in shape \(shape)")
        let count = shape.reduce(1, *)
        precondition(count == scalars.count,
                     "Tensor(shape:scalars:): shape \(shape) holds \(count) values but \(scalars.count) were given")
        let storage = TensorStorage(uninitializedCount: count)
        scalars.withUnsafeBufferPointer { buffer in
            if let base = buffer.baseAddress { storage.pointer.update(from: base, count: count) }
        }
        self.init(storage: storage, shape: shape, strides: Tensor.contiguousStrides(for: shape),
                  requiresGrad: requiresGrad)
    }

    /// A 1-D tensor of the given values.
    public convenience init(_ scalars: [Float], requiresGrad: Bool = false) {
        self.init(shape: [scalars.count], scalars: scalars, requiresGrad: requiresGrad)
    }

    /// A 2-D tensor from rows of equal length.
    public convenience init(_ rows: [[Float]], requiresGrad: Bool = false) {
        let columns = rows.first?.count ?? 0
        precondition(rows.allSatisfy { $0.count == columns }, "Tensor(rows): rows have different lengths")
        self.init(shape: [rows.count, columns], scalars: rows.flatMap { $0 }, requiresGrad: requiresGrad)
    }

    /// A 0-dimensional tensor holding one value.
    public convenience init(_ value: Float) {
        self.init(shape: [], scalars: [value])
    }

    /// A tensor filled with `value`.
    public static func full(_ shape: [Int], value: Float, requiresGrad: Bool = false) -> Tensor {
        let result = Tensor(uninitializedShape: shape)
        result.dataPointer.update(repeating: value, count: result.count)
        if requiresGrad { result.requiringGrad() }
        return result
    }

    /// A tensor of zeros.
    public static func zeros(_ shape: [Int], requiresGrad: Bool = false) -> Tensor {
        full(shape, value: 0, requiresGrad: requiresGrad)
    }

    /// A tensor of ones.
    public static func ones(_ shape: [Int], requiresGrad: Bool = false) -> Tensor {
        full(shape, value: 1, requiresGrad: requiresGrad)
    }

    /// Zeros with this tensor's shape.
    public func zerosLike() -> Tensor { Tensor.zeros(shape) }

    /// `start, start + step, …` below `end` (a 1-D tensor).
    public static func arange(_ start: Float = 0, _ end: Float, step: Float = 1) -> Tensor {
        precondition(step != 0, "arange: step must be non-zero")
        let count = Swift.max(0, Int(((end - start) / step).rounded(.up)))
        return Tensor(shape: [count], scalars: (0..<count).map { start + Float($0) * step })
    }

    /// Values drawn uniformly from [low, high).
    public static func uniform(
        _ shape: [Int], low: Float = 0, high: Float = 1, generator: inout RandomGenerator
    ) -> Tensor {
        let result = Tensor(uninitializedShape: shape)
        let pointer = result.dataPointer
        for i in 0..<result.count { pointer[i] = generator.nextUniform(in: low..<high) }
        return result
    }

    /// Values drawn from a normal distribution.
    public static func normal(
        _ shape: [Int], mean: Float = 0, std: Float = 1, generator: inout RandomGenerator
    ) -> Tensor {
        let result = Tensor(uninitializedShape: shape)
        let pointer = result.dataPointer
        for i in 0..<result.count { pointer[i] = mean + std * generator.nextNormal() }
        return result
    }

    /// Fan-in and fan-out of a weight shape, as PyTorch computes them: `[out, in, kh, kw…]`.
    public static func fans(of shape: [Int]) -> (fanIn: Int, fanOut: Int) {
        precondition(shape.count >= 2, "fans(of:): weight shape \(shape) needs at least 2 dimensions")
        let receptive = shape.dropFirst(2).reduce(1, *)
        return (shape[1] * receptive, shape[0] * receptive)
    }

    /// Which fan an initialiser scales by.
    public enum FanMode: Sendable { case fanIn, fanOut }

    /// Kaiming (He) uniform initialisation for a leaky-ReLU of negative slope `a`:
    /// U(−b, b) with b = √(6 / ((1 + a²)·fan)). PyTorch's default for Linear and Conv weights is
    /// `a = √5`, which gives b = 1/√fanIn. [He et al. 2015](https://arxiv.org/abs/1502.01852)
    public static func kaimingUniform(
        _ shape: [Int], a: Float = 0, mode: FanMode = .fanIn, generator: inout RandomGenerator
    ) -> Tensor {
        let (fanIn, fanOut) = fans(of: shape)
        let fan = Float(mode == .fanIn ? fanIn : fanOut)
        let gain = (2 / (1 + a * a)).squareRoot()
        let bound = gain * (3 / fan).squareRoot()
        return uniform(shape, low: -bound, high: bound, generator: &generator)
    }

    /// Kaiming (He) normal initialisation: N(0, gain²/fan) with gain √(2 / (1 + a²)).
    public static func kaimingNormal(
        _ shape: [Int], a: Float = 0, mode: FanMode = .fanIn, generator: inout RandomGenerator
    ) -> Tensor {
        let (fanIn, fanOut) = fans(of: shape)
        let fan = Float(mode == .fanIn ? fanIn : fanOut)
        let std = (2 / (1 + a * a)).squareRoot() / fan.squareRoot()
        return normal(shape, std: std, generator: &generator)
    }

    /// Xavier (Glorot) uniform initialisation: U(−b, b), b = gain·√(6 / (fanIn + fanOut)).
    /// [Glorot & Bengio 2010](https://proceedings.mlr.press/v9/glorot10a.html)
    public static func xavierUniform(
        _ shape: [Int], gain: Float = 1, generator: inout RandomGenerator
    ) -> Tensor {
        let (fanIn, fanOut) = fans(of: shape)
        let bound = gain * (6 / Float(fanIn + fanOut)).squareRoot()
        return uniform(shape, low: -bound, high: bound, generator: &generator)
    }

    /// Xavier (Glorot) normal initialisation: N(0, gain²·2 / (fanIn + fanOut)).
    public static func xavierNormal(
        _ shape: [Int], gain: Float = 1, generator: inout RandomGenerator
    ) -> Tensor {
        let (fanIn, fanOut) = fans(of: shape)
        let std = gain * (2 / Float(fanIn + fanOut)).squareRoot()
        return normal(shape, std: std, generator: &generator)
    }

    /// A contiguous copy with its own storage (never a view of this tensor), not recorded.
    public func contiguousCopy() -> Tensor {
        let result = Tensor(uninitializedShape: shape)
        result.assign(from: self, operation: "contiguousCopy")
        return result
    }

    /// Adds `other` (broadcast to this shape) into this tensor's elements, without recording.
    public func addInPlace(_ other: Tensor) {
        Tensor.zipElements(self, other, into: self, operation: "addInPlace", Elementwise.Add())
    }

    /// Overwrites this tensor's elements with `other`'s (broadcast), without recording; for
    /// optimizers, EMA updates and loading weights.
    public func copyIn(_ other: Tensor) {
        assign(from: other, operation: "copyIn")
    }
}

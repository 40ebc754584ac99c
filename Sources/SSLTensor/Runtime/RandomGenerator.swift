/// A seeded pseudo-random generator (xoshiro256**, state seeded through SplitMix64).
///
/// Everything random in the framework takes a generator explicitly, so runs are reproducible
/// and there is no hidden global state. The state is four words (`state`), which checkpoints
/// save and restore. Independent streams for (seed, epoch, sample, view) come from
/// `init(seed:stream:)`.
///
/// ```swift
/// var generator = RandomGenerator(seed: 42)
/// let weights = Tensor.normal([64, 32], std: 0.02, generator: &generator)
/// let coin = generator.nextUniform() < 0.5
/// ```
public struct RandomGenerator: Sendable, Equatable, Codable {
    /// The generator's full state; restore it to resume the exact same sequence.
    public var state: [UInt64]

    /// A generator whose sequence is determined by `seed`.
    public init(seed: UInt64) {
        var mixer = seed
        state = (0..<4).map { _ in Self.splitMix64(&mixer) }
        if state.allSatisfy({ $0 == 0 }) { state[0] = 1 }
    }

    /// An independent stream derived from a seed and a list of integers (for example epoch,
    /// sample index and view), so each sample's draws do not depend on the order of work.
    public init(seed: UInt64, stream: [UInt64]) {
        var mixer = seed
        var hash = Self.splitMix64(&mixer)
        for value in stream {
            var combined = hash ^ (value &* 0x9E37_79B9_7F4A_7C15)
            hash = Self.splitMix64(&combined)
        }
        self.init(seed: hash)
    }

    /// A generator restored from a saved `state`.
    public init(state: [UInt64]) {
        precondition(state.count == 4, "RandomGenerator(state:): expected 4 words, got \(state.count)")
        self.state = state
    }

    @inline(__always)
    static func splitMix64(_ x: inout UInt64) -> UInt64 {
        x &+= 0x9E37_79B9_7F4A_7C15
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    @inline(__always)
    private static func rotateLeft(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 &- k)) }

    /// The next 64 random bits.
    @inline(__always)
    public mutating func next() -> UInt64 {
        let result = Self.rotateLeft(state[1] &* 5, 7) &* 9
        let t = state[1] << 17
        state[2] ^= state[0]
        state[3] ^= state[1]
        state[1] ^= state[2]
        state[0] ^= state[3]
        state[2] ^= t
        state[3] = Self.rotateLeft(state[3], 45)
        return result
    }

    /// A uniform float in [0, 1) with 24 random bits.
    @inline(__always)
    public mutating func nextUniform() -> Float {
        Float(next() >> 40) * (1.0 / 16_777_216.0)
    }

    /// A uniform float in [low, high).
    @inline(__always)
    public mutating func nextUniform(in range: Range<Float>) -> Float {
        range.lowerBound + (range.upperBound - range.lowerBound) * nextUniform()
    }

    /// A uniform integer in `0..<bound`.
    public mutating func nextInt(below bound: Int) -> Int {
        precondition(bound > 0, "RandomGenerator.nextInt(below:): bound must be positive, got \(bound)")
        return Int(next().multipliedFullWidth(by: UInt64(bound)).high)
    }

    /// A standard normal sample (Box–Muller, in double precision).
    public mutating func nextNormal() -> Float {
        let u1 = (Double(next() >> 11) + 1.0) * (1.0 / 9_007_199_254_740_992.0)  // (0, 1]
        let u2 = Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
        let radius = (-2.0 * _log(u1)).squareRoot()
        return Float(radius * _cos(2.0 * Double.pi * u2))
    }

    /// A random permutation of `0..<count` (Fisher–Yates).
    public mutating func permutation(_ count: Int) -> [Int] {
        var values = Array(0..<count)
        if count < 2 { return values }
        for i in stride(from: count - 1, to: 0, by: -1) {
            let j = nextInt(below: i + 1)
            values.swapAt(i, j)
        }
        return values
    }
}

/// Reading counts and indices back from saved state (checkpoints, state dicts), where a damaged
/// or hand-edited file may hold anything: `Int(savedCount:)` returns nil instead of trapping on
/// a value that is not finite, not whole, negative or beyond `limit`, so the caller can throw
/// an error that names the file and the entry.
///
/// ```swift
/// guard let step = Int(savedCount: state["step"] ?? .nan) else { throw … }
/// guard let position = Int(savedCount: text, limit: queueLength - 1) else { throw … }
/// ```
extension Int {
    /// The largest count any saved state may hold (2^40: far past any step count or queue).
    public static let largestSavedCount = 1 << 40

    /// The whole number `value` holds, when it is finite, whole and in `0...limit`.
    public init?(savedCount value: Float, limit: Int = Int.largestSavedCount) {
        guard value.isFinite, value >= 0, value.rounded(.towardZero) == value, Double(value) <= Double(limit) else {
            return nil
        }
        self = Int(value)
    }

    /// The whole number `value` holds, when it is finite, whole and in `0...limit`.
    public init?(savedCount value: Double, limit: Int = Int.largestSavedCount) {
        guard value.isFinite, value >= 0, value.rounded(.towardZero) == value, value <= Double(limit) else {
            return nil
        }
        self = Int(value)
    }

    /// The decimal integer `text` holds, when it is in `0...limit`.
    public init?(savedCount text: String, limit: Int = Int.largestSavedCount) {
        guard let value = Int(text), value >= 0, value <= limit else { return nil }
        self = value
    }
}

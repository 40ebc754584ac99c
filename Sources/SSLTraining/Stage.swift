/// Which loop a forward pass belongs to, as Lightning's stages.
public enum Stage: String, Sendable, CaseIterable, Codable {
    case fit
    case validate
    case test
    case predict
}

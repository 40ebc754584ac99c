import Foundation
import SSLTensor

// MARK: - Metadata

extension FuzzCheckpointMutations {
    func metadataMap(_ generator: inout RandomGenerator) -> FuzzMutation {
        let cases: [(String, Any?)] = [
            ("__metadata__ = 5", 5), ("__metadata__ = []", [Any]()), ("__metadata__ = \"x\"", "x"),
            ("__metadata__ = null", NSNull()), ("no __metadata__", nil), ("ssl.checkpoint = 5", ["ssl.checkpoint": 5]),
            ("no ssl.checkpoint", ["format": "pt"]), ("ssl.checkpoint empty", ["ssl.checkpoint": ""]),
            ("ssl.checkpoint = {", ["ssl.checkpoint": "{"]), ("ssl.checkpoint = []", ["ssl.checkpoint": "[]"]),
            ("ssl.checkpoint = null", ["ssl.checkpoint": "null"]), ("ssl.checkpoint = 5 (text)", ["ssl.checkpoint": "5"]),
            ("ssl.checkpoint = {} (text)", ["ssl.checkpoint": "{}"]),
        ]
        let (label, value) = fuzzPick(cases, &generator)
        var mutation = FuzzMutation(kind: .metadataMap, label: label, mustThrow: true)
        mutation.headerSteps = [{ header, _ in header["__metadata__"] = value }]
        if generator.nextInt(below: 3) == 0 {
            mutation.label = "an extra non-string __metadata__ value"
            mutation.headerSteps = [{ header, _ in header = fuzzSetting(header, ["__metadata__", "extra"], [1]) }]
        }
        return mutation
    }

    func metadataField(_ path: [String], _ value: Any?, mustThrow: Bool = false, kind: FuzzMutation.Kind = .trainerMetadata)
        -> FuzzMutation
    {
        var mutation = FuzzMutation(kind: kind, label: "\(path.joined(separator: ".")) = \(value.map { "\($0)" } ?? "removed")",
                                    mustThrow: mustThrow)
        mutation.imageSteps = [{ image in image.checkpoint = fuzzSetting(image.checkpoint, path, value) }]
        return mutation
    }

    func trainerMetadata(_ generator: inout RandomGenerator) -> FuzzMutation {
        if generator.nextInt(below: 4) == 0 {
            let states: [(Any?, Bool)] = [
                ([Int](), true), ([1, 2, 3], true), ([1, 2, 3, 4, 5], true), ([0, 0, 0, 0], false), ([-1, 1, 1, 1], true),
                ([1.5, 1, 1, 1], true), (["a", 1, 1, 1], true), (Array(repeating: UInt64.max, count: 4), false),
                ([fuzzRaw("18446744073709551616"), 1, 1, 1], true), (NSNull(), true), (5, true), (nil, true),
                ([fuzzRaw("1e400"), 1, 1, 1], true),
            ]
            let (state, mustThrow) = fuzzPick(states, &generator)
            return metadataField(["generatorState"], state, mustThrow: mustThrow)
        }
        let fields = ["epoch", "batchIndex", "globalStep", "elapsedSeconds", "loggedRowCount", "formatVersion",
                      "stepRowPending", "integerKeys", "hyperparameters", "callbackMetrics"]
        let field = fuzzPick(fields, &generator)
        let values: [Any?] = [
            0, 1, 2, 4, 5, 1000, 1 << 40, (1 << 40) + 1, 1 << 53, Int.max, 9.3e18, 1e30, -1, -(1 << 40), 1.5,
            fuzzRaw("NaN"), "nan", "inf", "5", NSNull(), true, [Any](), [String: Any](), nil,
            ["encoder.weight", "nope"], ["train/loss": "nan"], ["train/loss": fuzzRaw("1e39")], ["x": 5],
        ]
        let value = fuzzPick(values, &generator)
        return metadataField([field], value, mustThrow: mustRefuse(field: field, value: value))
    }

    /// Whether a trainer metadata field set to `value` can only be refused (false where the
    /// outcome depends on the decoder: a Bool from a number, a Float that overflows).
    private func mustRefuse(field: String, value: Any?) -> Bool {
        let optional = field == "loggedRowCount" || field == "stepRowPending"
        guard let value, !(value is NSNull) else { return !optional }
        if value is String { return true }  // no field is a string; "@raw:NaN@" is not JSON
        if let array = value as? [Any] { return field != "integerKeys" || !array.allSatisfy { $0 is String } }
        if let map = value as? [String: Any] {
            switch field {
            case "hyperparameters": return !map.values.allSatisfy { $0 is String }
            case "callbackMetrics": return false
            default: return true
            }
        }
        if value is Bool { return false }
        let number: Double
        if let int = value as? Int { number = Double(int) } else if let double = value as? Double { number = double } else { return false }
        let whole = number == number.rounded()
        switch field {
        case "formatVersion": return number != 1
        case "epoch", "globalStep", "loggedRowCount": return number < 0 || number > Double(Int.largestSavedCount) || !whole
        case "batchIndex": return number < 0 || number > Double(fuzzBatchCount) || !whole
        case "elapsedSeconds": return number < 0
        case "stepRowPending": return false
        default: return true
        }
    }

    func schedulerState(_ generator: inout RandomGenerator) -> FuzzMutation {
        let steps: [(Any?, Bool)] = [
            (1e30, true), (-1, true), (1.5, true), (1 << 40, false), (Double(1 << 41), true), (0, false), (3, false),
            ("nan", true), ("inf", true), (3.4e38, true), (fuzzRaw("1e39"), true), (NSNull(), true), ("x", true),
            (nil, true), (fuzzRaw("NaN"), true), (1e-30, true),
        ]
        switch generator.nextInt(below: 3) {
        case 0, 1:
            let (step, mustThrow) = fuzzPick(steps, &generator)
            return metadataField(["schedulerStates", "optimizer", "step"], step, mustThrow: mustThrow, kind: .schedulerState)
        default:
            let states: [(Any?, Bool)] = [
                ([String: Any](), false), (["other": ["step": 1]], false), (5, true), (["optimizer": 5], true),
                (["optimizer": [String: Any]()], true), (["optimizer": ["step": 2, "extra": 1]], false), (nil, true),
            ]
            let (state, mustThrow) = fuzzPick(states, &generator)
            return metadataField(["schedulerStates"], state, mustThrow: mustThrow, kind: .schedulerState)
        }
    }

    func callbackState(_ generator: inout RandomGenerator) -> FuzzMutation {
        let mc = "ModelCheckpoint", es = "EarlyStopping"
        switch generator.nextInt(below: 6) {
        case 0:
            let counts: [(String, Bool)] = [("-1", true), ("0", false), ("1", false), ("2", true), ("3", true), ("1048576", true),
                                            ("1048577", true), ("99999999999999999999", true), ("abc", true), ("", true),
                                            (" 1", true), ("1.5", true)]
            let (count, mustThrow) = fuzzPick(counts, &generator)
            return metadataField(["callbackValues", mc, "count"], count, mustThrow: mustThrow, kind: .callbackState)
        case 1:
            let paths: [(String, Bool)] = [
                ("/etc/passwd", true), (outside, false), ("../x", true), ("../../outside/epoch=0-step=2.safetensors", false),
                ("", true), ("epoch=0-step=2.safetensors", false), ("epoch=-step=2.safetensors", true),
                ("epoch=0-step=99999999999999999999999.safetensors", false), ("epoch=\u{663}-step=2.safetensors", true),
                ("last.safetensors", true), ("\u{0}", true), ("/", true), ("epoch=0-step=2.safetensors/..", true),
            ]
            let (path, mustThrow) = fuzzPick(paths, &generator)
            // Two kept entries: the resume's first save trims to one and deletes the others.
            var mutation = metadataField(["callbackValues", mc, "path.0"], path, mustThrow: mustThrow, kind: .callbackState)
            mutation.imageSteps.append { image in
                image.checkpoint = fuzzSetting(image.checkpoint, ["callbackValues", mc, "count"], "2")
                image.checkpoint = fuzzSetting(image.checkpoint, ["callbackValues", mc, "path.1"], path)
            }
            return mutation
        case 2:
            let scores: [(String, Bool)] = [("abc", true), ("nan", true), ("inf", false), ("-inf", false), ("1e40", false),
                                            ("", true), ("0x1p3", false), ("-0", false)]
            let (score, mustThrow) = fuzzPick(scores, &generator)
            return metadataField(["callbackValues", mc, "score.0"], score, mustThrow: mustThrow, kind: .callbackState)
        case 3:
            let waits: [(String, Bool)] = [("-1", true), ("0", false), ("4", false), ("5", false), ("1000", false),
                                           ("1099511627776", false), ("1099511627777", true), ("abc", true), ("", true),
                                           ("1e3", true)]
            let (wait, mustThrow) = fuzzPick(waits, &generator)
            return metadataField(["callbackValues", es, "wait"], wait, mustThrow: mustThrow, kind: .callbackState)
        case 4:
            let values: [(String, String, Bool)] = [
                ("best", "nan", true), ("best", "inf", false), ("best", "-inf", false), ("best", "abc", true), ("best", "", true),
                ("best", "1e39", false), ("best", "-0", false), ("stopped_epoch", "3", false), ("stopped_epoch", "-2", true),
                ("stopped_epoch", "x", true),
            ]
            let (field, value, mustThrow) = fuzzPick(values, &generator)
            return metadataField(["callbackValues", es, field], value, mustThrow: mustThrow, kind: .callbackState)
        default:
            let whole: [([String], Any?, Bool)] = [
                (["callbackValues"], nil, true), (["callbackValues"], [String: Any](), false), (["callbackValues", es], 5, true),
                (["callbackValues", es, "wait"], 5, true), (["callbackValues", mc], nil, false),
                (["callbackValues", "Unknown"], ["a": "b"], false), (["callbackValues", mc, "count"], nil, false),
            ]
            let (path, value, mustThrow) = fuzzPick(whole, &generator)
            return metadataField(path, value, mustThrow: mustThrow, kind: .callbackState)
        }
    }

    func metricState(_ generator: inout RandomGenerator) -> FuzzMutation {
        let cases: [([String], Any?, Bool)] = [
            (["epochSums", "train/loss"], [1], true), (["epochSums", "train/loss"], [1, 2, 3], true),
            (["epochSums", "train/loss"], [Any](), true), (["epochSums", "train/loss"], ["nan", 1], true),
            (["epochSums", "train/loss"], [1, "nan"], true), (["epochSums", "train/loss"], [1, -1], true),
            (["epochSums", "train/loss"], [1, 0], false), (["epochSums", "train/loss"], [1e308, 1e308], false),
            (["epochSums", "train/loss"], [1, "inf"], true), (["epochSums", "train/loss"], ["inf", 1], true),
            (["epochSums", "train/loss"], [-1e308, 1e-308], false), (["epochSums", "train/loss"], ["x", 1], true),
            (["epochSums"], 5, true), (["epochSums", "other"], [1, 1], false), (["stepValues", "train/loss_step"], "nan", false),
            (["stepValues", "train/loss_step"], "inf", false), (["stepValues", "train/loss_step"], fuzzRaw("1e39"), true),
            (["epochNames", "train/loss"], "", false), (["epochNames"], nil, true), ([], NSNull(), false), ([], nil, false),
            ([], 5, true), (["stepValues"], [Any](), true),
        ]
        let (path, value, mustThrow) = fuzzPick(cases, &generator)
        return metadataField(["metricState"] + path, value, mustThrow: mustThrow, kind: .metricState)
    }
}

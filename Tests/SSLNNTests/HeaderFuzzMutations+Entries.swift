import Foundation
import SSLTensor

// MARK: - Header entries

extension HeaderFuzzMutations {
    func entryField(_ name: String, _ field: String, _ value: Any?, kind: HeaderFuzzMutation.Kind,
                    _ expectation: HeaderFuzzMutation.Expectation) -> HeaderFuzzMutation {
        var mutation = HeaderFuzzMutation(kind: kind, label: "\(name).\(field) = \(value.map { "\($0)" } ?? "removed")",
                                          expectation: expectation)
        mutation.headerSteps = [{ header, _ in header = headerFuzzSetting(header, [name, field], value) }]
        return mutation
    }

    /// Whether `shape` (as the header holds it) is valid for `byteCount` bytes of `width`-byte
    /// elements: true or false, or nil where the reader may go either way (a whole float, a
    /// Boolean read as a number).
    static func isValid(shape: Any?, byteCount: Int, width: Int) -> Bool? {
        guard let values = shape as? [Any] else { return false }
        var dimensions: [Int] = []
        for value in values {
            if value is Bool { return nil }
            if let int = value as? Int { dimensions.append(int) } else if value is Double { return nil } else { return false }
        }
        var elements = 1, span = 1
        for dimension in dimensions {
            guard dimension >= 0, dimension < 9_000_000_000_000_000 else { return false }
            let (product, overflow) = elements.multipliedReportingOverflow(by: dimension)
            let (nextSpan, spanOverflow) = span.multipliedReportingOverflow(by: max(dimension, 1))
            guard !overflow, !spanOverflow, nextSpan <= 1 << 48 else { return false }
            (elements, span) = (product, nextSpan)
        }
        let (bytes, overflow) = elements.multipliedReportingOverflow(by: width)
        return !overflow && bytes == byteCount
    }

    func shape(_ image: HeaderFuzzImage, _ generator: inout RandomGenerator) -> HeaderFuzzMutation {
        let entry = headerFuzzPick(image.entries, &generator)
        let count = entry.shape.reduce(1, *)
        let huge = 4_000_000_000_000_000
        let shapes: [Any?] = [
            [0, huge, huge], [huge, huge, 0], [-1], [-3, -4], [1.5, 2], [Double(count)], [1e30], [9_007_199_254_740_993],
            [Int.max], [UInt64.max], [], ["3"], [NSNull()], "3x4", 12, [[count]], [true], [1 << 24, 1 << 24, 0],
            [1 << 48, 0], [(1 << 48) + 1, 0], [0], [count + 1], Array(entry.shape.reversed()), [1, count],
            Array(repeating: 1, count: 200) + [count], nil, [headerFuzzRaw("NaN")], [headerFuzzRaw("-0")],
            [headerFuzzRaw("1e400")], [count, 0], [0, count], [1 << 30, 1 << 30, 0], [-1, 0], [-count], [2, count / 2],
            [1 << 62, 4], [1 << 32, 1 << 32], [1 << 31, 1 << 31, 4], Array(repeating: 2, count: 64),
        ]
        let value = headerFuzzPick(shapes, &generator)
        let valid: Bool?
        if let text = (value as? [Any])?.first as? String, text.hasPrefix("@raw:") {
            valid = text == headerFuzzRaw("-0") ? (entry.bytes.isEmpty ? nil : false) : false
        } else {
            valid = Self.isValid(shape: value, byteCount: entry.bytes.count, width: HeaderFuzzImage.width(entry.dtype) ?? 1)
        }
        return entryField(entry.name, "shape", value, kind: .shape, valid.map { $0 ? .decodes : .throwsError } ?? .either)
    }

    func dtypeMismatch(_ image: HeaderFuzzImage, _ generator: inout RandomGenerator) -> HeaderFuzzMutation {
        let entry = headerFuzzPick(image.entries, &generator)
        var dtypes: [Any?] = HeaderFuzzImage.dtypes.map { $0 }
        dtypes += ["f32", "F8_E4M3", "", "U32", "F32 ", "i64", "FLOAT", "bool", 5, NSNull(), ["F32"], nil]
        let value = headerFuzzPick(dtypes, &generator)
        let count = entry.shape.reduce(1, *)
        let expectation: HeaderFuzzMutation.Expectation
        if let dtype = value as? String, let width = HeaderFuzzImage.width(dtype) {
            expectation = width * count == entry.bytes.count ? .decodes : .throwsError
        } else {
            expectation = .throwsError
        }
        return entryField(entry.name, "dtype", value, kind: .dtypeMismatch, expectation)
    }

    func dataOffsets(_ image: HeaderFuzzImage, _ generator: inout RandomGenerator) -> HeaderFuzzMutation {
        let entry = headerFuzzPick(image.entries, &generator)
        let choice = generator.nextInt(below: 20)
        let name = entry.name
        // A zero-length tensor may sit at any offset between others, so only damage to a
        // tensor with bytes is sure to be refused.
        var mutation = HeaderFuzzMutation(kind: .dataOffsets, label: "\(name).data_offsets #\(choice)",
                                          expectation: entry.bytes.isEmpty ? .either : .throwsError)
        mutation.headerSteps = [{ header, data in
            guard let offsets = (header[name] as? [String: Any])?["data_offsets"] as? [Int], offsets.count == 2 else { return }
            let (begin, end) = (offsets[0], offsets[1])
            let values: [Any?] = [
                [end, begin], [begin, end &+ 4], [begin &- 4, end &- 4], [0, data.count &+ 1], [begin, begin], [-4, end],
                [begin, 1e30], [begin, Int.max], [begin, UInt64.max], [begin], [begin, end, end], ["0", "4"],
                [0.5, end], "0-4", [begin &+ data.count, end &+ data.count], [begin &+ 1, end &+ 1], [begin &- 1, end &- 1],
                nil, [Int.min, end], [begin, headerFuzzRaw("1e400")],
            ]
            header = headerFuzzSetting(header, [name, "data_offsets"], values[choice])
        }]
        return mutation
    }

    func entries(_ image: HeaderFuzzImage, _ generator: inout RandomGenerator) -> HeaderFuzzMutation {
        let entry = headerFuzzPick(image.entries, &generator)
        let name = entry.name
        let sure: HeaderFuzzMutation.Expectation = entry.bytes.isEmpty ? .either : .throwsError
        var mutation = HeaderFuzzMutation(kind: .entries, label: "", expectation: .throwsError)
        switch generator.nextInt(below: 9) {
        case 0:
            mutation.label = "\(name) removed from the header (its bytes stay)"
            mutation.expectation = sure
            mutation.headerSteps = [{ header, _ in header[name] = nil }]
        case 1:
            mutation.label = "\(name) removed with its bytes"
            mutation.expectation = .decodesTheSameValues
            mutation.imageSteps = [{ image in image.entries.removeAll { $0.name == name } }]
        case 2:
            mutation.label = "\(name) duplicated as \(name).copy (same bytes)"
            mutation.expectation = sure
            mutation.headerSteps = [{ header, _ in header[name + ".copy"] = header[name] }]
        case 3:
            let target = headerFuzzPick(["\(name).renamed", "", "é/ü", String(repeating: "k", count: 4_096), "a\u{0}b"], &generator)
            mutation.label = "\(name) renamed to a \(target.count)-character name"
            mutation.expectation = .decodesTheSameValues
            mutation.imageSteps = [{ image in
                if let index = image.entries.firstIndex(where: { $0.name == name }) { image.entries[index].name = target }
            }]
        case 4:
            mutation.label = "\(name) renamed to __metadata__"
            mutation.headerSteps = [{ header, _ in
                header["__metadata__"] = header[name]
                header[name] = nil
            }]
        case 5:
            let value: Any = headerFuzzPick([5, "F32", [1, 2], NSNull(), true] as [Any], &generator)
            mutation.label = "\(name) entry is \(value)"
            mutation.headerSteps = [{ header, _ in header[name] = value }]
        case 6:
            mutation.label = "\(name) has an extra field"
            mutation.expectation = .decodesTheSameValues
            mutation.headerSteps = [{ header, _ in header = headerFuzzSetting(header, [name, "extra"], ["a": [1]]) }]
        case 7:
            let count = headerFuzzPick([1, 10, 1_000], &generator)
            mutation.label = "\(count) extra empty tensors"
            mutation.expectation = .decodesTheSameValues
            mutation.imageSteps = [{ image in
                for index in 0..<count { image.entries.append(.init(name: "extra.\(index)", dtype: "F32", shape: [0], bytes: [], values: [])) }
            }]
        default:
            let field = headerFuzzPick(["dtype", "shape", "data_offsets"], &generator)
            mutation = entryField(name, field, nil, kind: .entries, .throwsError)
        }
        return mutation
    }
}

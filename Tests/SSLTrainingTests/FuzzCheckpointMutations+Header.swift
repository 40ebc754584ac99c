import Foundation
import SSLTensor

// MARK: - Header entries

extension FuzzCheckpointMutations {
    func entryField(_ name: String, _ field: String, _ value: Any?, mustThrow: Bool = false) -> FuzzMutation {
        var mutation = FuzzMutation(kind: .headerEntry, label: "\(name).\(field) = \(value.map { "\($0)" } ?? "removed")",
                                    mustThrow: mustThrow)
        mutation.headerSteps = [{ header, _ in header = fuzzSetting(header, [name, field], value) }]
        return mutation
    }

    func headerEntry(_ generator: inout RandomGenerator) -> FuzzMutation {
        let name = fuzzPick(image.names, &generator)
        guard let entry = image.index(of: name).map({ image.entries[$0] }) else { preconditionFailure("no entry \(name)") }
        let count = entry.shape.reduce(1, *)
        let huge = 4_000_000_000_000_000
        switch generator.nextInt(below: 4) {
        case 0:
            let shapes: [(Any?, Bool)] = [
                ([0, huge, huge], true), ([huge, huge, 0], true), ([-1], true), ([-3, -4], true), ([1.5, 2], true),
                ([Double(count)], false), ([1e30], true), ([9_007_199_254_740_993], true), ([Int.max], true),
                ([UInt64.max], true), ([], count != 1), (["3"], true), ([NSNull()], true), ("3x4", true), (12, true),
                ([[count]], true), ([true], false), ([1 << 24, 1 << 24, 0], true), ([1 << 48, 0], true),
                ([(1 << 48) + 1, 0], true), ([0], count != 0), ([count + 1], true), (Array(entry.shape.reversed()), false),
                ([1, count], false), (Array(repeating: 1, count: 200) + [count], false), (nil, true),
                ([fuzzRaw("NaN")], true), ([fuzzRaw("-0")], count != 0), ([fuzzRaw("1e400")], true),
            ]
            let (shape, mustThrow) = fuzzPick(shapes, &generator)
            return entryField(name, "shape", shape, mustThrow: mustThrow)
        case 1:
            let dtypes: [(Any?, Bool)] = [
                ("F64", true), ("F16", true), ("BF16", true), ("I64", true), ("I32", false), ("I16", true), ("I8", true),
                ("U8", true), ("BOOL", true), ("f32", true), ("F8_E4M3", true), ("", true), (5, true), (NSNull(), true),
                (["F32"], true), (nil, true), ("U32", true), ("F32 ", true),
            ]
            let (dtype, mustThrow) = fuzzPick(dtypes, &generator)
            return entryField(name, "dtype", dtype, mustThrow: mustThrow && count > 0)
        case 2:
            var mutation = FuzzMutation(kind: .headerEntry, label: "", mustThrow: true)
            let choice = generator.nextInt(below: 16)
            mutation.label = "\(name).data_offsets #\(choice)"
            mutation.headerSteps = [{ header, data in
                guard let offsets = (header[name] as? [String: Any])?["data_offsets"] as? [Int], offsets.count == 2 else { return }
                let (begin, end) = (offsets[0], offsets[1])
                let values: [Any] = [
                    [end, begin], [begin, end &+ 4], [begin &- 4, end &- 4], [0, data.count &+ 1], [begin, begin], [-4, end],
                    [begin, 1e30], [begin, Int.max], [begin, UInt64.max], [begin], [begin, end, end], ["0", "4"],
                    [0.5, end], "0-4", [begin &+ data.count, end &+ data.count], [begin &+ 4, end &+ 4],
                ]
                header = fuzzSetting(header, [name, "data_offsets"], values[choice])
            }]
            return mutation
        default:
            let replacements: [(String, Any?)] = [
                ("not an object", 5), ("a string", "F32"), ("an array", [1, 2]), ("null", NSNull()),
                ("an extra field", "extra"), ("no data_offsets", "-data_offsets"), ("no dtype", "-dtype"),
            ]
            let (what, value) = fuzzPick(replacements, &generator)
            var mutation = FuzzMutation(kind: .headerEntry, label: "\(name) entry is \(what)", mustThrow: what != "an extra field")
            mutation.headerSteps = [{ header, _ in
                switch value {
                case let field as String where field.hasPrefix("-"):
                    header = fuzzSetting(header, [name, String(field.dropFirst())], nil)
                case let field as String where field == "extra":
                    header = fuzzSetting(header, [name, "extra"], [1, 2])
                default:
                    header[name] = value
                }
            }]
            return mutation
        }
    }

    // MARK: Header structure

    func headerStructure(_ generator: inout RandomGenerator) -> FuzzMutation {
        let name = fuzzPick(image.names, &generator)
        var mutation = FuzzMutation(kind: .headerStructure, label: "", mustThrow: true)
        switch generator.nextInt(below: 8) {
        case 0:
            mutation.label = "\(name) removed from the header (its bytes stay)"
            mutation.headerSteps = [{ header, _ in header[name] = nil }]
        case 1:
            let copy = fuzzPick(["\(name).copy", "optimizer/optimizer/param.x.step", "zz"], &generator)
            mutation.label = "\(name) duplicated as \(copy) (same bytes)"
            mutation.headerSteps = [{ header, _ in header[copy] = header[name] }]
        case 2:
            mutation.label = "\(name) renamed to __metadata__"
            mutation.headerSteps = [{ header, _ in
                header["__metadata__"] = header[name]
                header[name] = nil
            }]
        case 3:
            let cut = generator.nextInt(below: 10_000)
            mutation.label = "header JSON cut at \(cut) of its length"
            mutation.byteSteps = [{ file in fuzzReplaceHeader(&file) { text in text = Array(text.prefix(text.count * cut / 10_000)) } }]
        case 4:
            let position = generator.nextInt(below: 10_000)
            let byte = fuzzPick(Array("{}[]\",:0-eE.\\ ".utf8) + [0, 0xff, 0xc3, 0x7f], &generator)
            mutation.label = "header byte at \(position)/10000 set to \(byte)"
            mutation.mustThrow = false  // a space for a space, a digit for a digit in a learning rate…
            mutation.byteSteps = [{ file in fuzzReplaceHeader(&file) { text in
                guard !text.isEmpty else { return }
                text[Swift.min(text.count - 1, text.count * position / 10_000)] = byte
            } }]
        case 5:
            let depth = fuzzPick([100, 600, 100_000], &generator)
            mutation.label = "an entry's shape nested \(depth) deep"
            mutation.byteSteps = [{ file in fuzzReplaceHeader(&file) { text in
                let nested = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
                text = Array("{\"deep\":{\"dtype\":\"F32\",\"shape\":\(nested),\"data_offsets\":[0,0]},".utf8) + text.dropFirst()
            } }]
        case 6:
            let body = fuzzPick(["[]", "null", "\"text\"", "", "   ", "{}", "{\"__metadata__\":{}}", "{\"a\":NaN}",
                                 "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}"], &generator)
            mutation.label = "header replaced by \(body)"
            mutation.byteSteps = [{ file in fuzzReplaceHeader(&file) { text in text = Array(body.utf8) } }]
        default:
            mutation.label = "\(name) given twice in the header text (first as F64)"
            mutation.mustThrow = false
            mutation.byteSteps = [{ file in fuzzReplaceHeader(&file) { text in
                let duplicate = "{\"\(name)\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]},"
                text = Array(duplicate.utf8) + text.dropFirst()
            } }]
        }
        return mutation
    }

    func headerLength(_ generator: inout RandomGenerator) -> FuzzMutation {
        let choice = generator.nextInt(below: 16)
        let random = generator.next()
        var mutation = FuzzMutation(kind: .headerLength, label: "header length #\(choice)", mustThrow: true)
        mutation.byteSteps = [{ file in
            let length = max(8, fuzzHeaderLength(file))
            let size = max(8, file.count)
            let values: [UInt64] = [
                0, 1, 2, 7, UInt64(length - 1), UInt64(length + 1), UInt64(length - 8), UInt64(length + 8),
                UInt64(size - 8), UInt64(size - 7), UInt64(size), 1 << 32, 1 << 63, .max, random,
            ]
            if choice < values.count {
                if file.count < 8 { file += Array(repeating: 0, count: 8 - file.count) }
                withUnsafeBytes(of: values[choice].littleEndian) { file.replaceSubrange(0..<8, with: $0) }
            } else {
                file = Array(file.prefix(Int(random % 8)))
            }
        }]
        return mutation
    }
}

import Foundation
import SSLTensor

// MARK: - Header text

extension HeaderFuzzMutations {
    func brokenJSON(_ image: HeaderFuzzImage, _ generator: inout RandomGenerator) -> HeaderFuzzMutation {
        let name = headerFuzzPick(image.names, &generator)
        var mutation = HeaderFuzzMutation(kind: .brokenJSON, label: "", expectation: .throwsError)
        let dataIsEmpty = image.entries.allSatisfy(\.bytes.isEmpty)
        switch generator.nextInt(below: 6) {
        case 0:
            let cut = generator.nextInt(below: 10_000)
            mutation.label = "header JSON cut at \(cut)/10000 of its length"
            mutation.byteSteps = [{ file in headerFuzzReplaceHeader(&file) { text in text = Array(text.prefix(text.count * cut / 10_000)) } }]
        case 1:
            let position = generator.nextInt(below: 10_000)
            let byte = headerFuzzPick(Array("{}[]\",:0-eE.\\ ".utf8) + [0, 0xff, 0xc3, 0x7f, 0x0a], &generator)
            mutation.label = "header byte at \(position)/10000 set to \(byte)"
            mutation.expectation = .either
            mutation.byteSteps = [{ file in headerFuzzReplaceHeader(&file) { text in
                guard !text.isEmpty else { return }
                text[min(text.count - 1, text.count * position / 10_000)] = byte
            } }]
        case 2:
            let depth = headerFuzzPick([100, 511, 512, 513, 600, 100_000], &generator)
            let inMetadata = generator.nextInt(below: 2) == 0
            mutation.label = "a value nested \(depth) deep\(inMetadata ? " in the metadata" : "")"
            // A second __metadata__ key: which one the parser keeps is its choice.
            if inMetadata && depth < 600 && image.metadata != nil { mutation.expectation = .either }
            mutation.byteSteps = [{ file in headerFuzzReplaceHeader(&file) { text in
                let nested = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
                let entry = inMetadata ? "\"__metadata__\":{\"deep\":\(nested)},"
                    : "\"deep\":{\"dtype\":\"F32\",\"shape\":\(nested),\"data_offsets\":[0,0]},"
                text = Array("{\(entry)".utf8) + text.dropFirst()
            } }]
        case 3:
            let bodies = ["[]", "null", "\"text\"", "", "   ", "{}", "{\"__metadata__\":{}}", "{\"a\":NaN}", "{\"a\":Infinity}",
                          "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", "\u{FEFF}{}", "{}}", "{\"a\":1}",
                          "{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}} trailing"]
            let body = headerFuzzPick(bodies, &generator)
            mutation.label = "header replaced by \(body)"
            mutation.expectation = dataIsEmpty ? .either : .throwsError
            mutation.byteSteps = [{ file in headerFuzzReplaceHeader(&file) { text in text = Array(body.utf8) } }]
        case 4:
            let dtype = headerFuzzPick(HeaderFuzzImage.dtypes, &generator)
            mutation.label = "\(name) given twice in the header text (first as \(dtype))"
            mutation.expectation = .either
            mutation.byteSteps = [{ file in headerFuzzReplaceHeader(&file) { text in
                let duplicate = "{\"\(name)\":{\"dtype\":\"\(dtype)\",\"shape\":[1],\"data_offsets\":[0,8]},"
                text = Array(duplicate.utf8) + text.dropFirst()
            } }]
        default:
            mutation.label = "invalid UTF-8 in a key"
            mutation.byteSteps = [{ file in headerFuzzReplaceHeader(&file) { text in
                text = Array("{\"".utf8) + [0xff, 0xfe, 0xc3] + Array("\":5,".utf8) + text.dropFirst()
            } }]
        }
        return mutation
    }

    func headerLength(_ image: HeaderFuzzImage, _ generator: inout RandomGenerator) -> HeaderFuzzMutation {
        let choice = generator.nextInt(below: 18)
        let random = generator.next()
        var mutation = HeaderFuzzMutation(kind: .headerLength, label: "header length #\(choice)", expectation: .throwsError)
        mutation.byteSteps = [{ file in
            let length = max(8, headerFuzzHeaderLength(file))
            let size = max(8, file.count)
            let values: [UInt64] = [
                0, 1, 2, 7, UInt64(length - 1), UInt64(length + 1), UInt64(length - 8), UInt64(length + 8),
                UInt64(size - 8), UInt64(size - 7), UInt64(size), 1 << 32, 1 << 63, .max, random,
                UInt64(Int.max), UInt64(Int.max) + 1,
            ]
            if choice < values.count {
                if file.count < 8 { file += Array(repeating: 0, count: 8 - file.count) }
                withUnsafeBytes(of: values[choice].littleEndian) { file.replaceSubrange(0..<8, with: $0) }
            } else {
                file = Array(file.prefix(Int(random % 8)))
            }
        }]
        // One byte more or fewer in the header: still valid when the data is all empty tensors
        // and the byte is padding.
        if image.entries.allSatisfy(\.bytes.isEmpty) && [4, 5, 8, 9].contains(choice) { mutation.expectation = .either }
        return mutation
    }
}

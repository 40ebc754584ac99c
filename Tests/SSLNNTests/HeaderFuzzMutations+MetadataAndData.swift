import Foundation
import SSLTensor

// MARK: - Metadata

extension HeaderFuzzMutations {
    func metadataMap(_ image: HeaderFuzzImage, _ generator: inout RandomGenerator) -> HeaderFuzzMutation {
        let invalid: [Any] = [5, [Any](), "x", NSNull(), true, ["a": 5], ["a": NSNull()], ["a": ["b": "c"]], ["a": ["b"]],
                              ["a": true], ["a": "b", "c": 1.5], ["a": headerFuzzRaw("1e400")]]
        // Built when used: the large maps are slow to make in a debug build.
        let valid: [() -> [String: String]?] = [
            { nil }, { [:] }, { ["": ""] }, { ["é": "ü\u{0}\n\"\\"] }, { ["format": "pt"] },
            { ["big": String(repeating: "x", count: 1 << 16)] },
            { Dictionary(uniqueKeysWithValues: (0..<300).map { ("k\($0)", "v\($0)") }) }, { ["__metadata__": "nested name"] },
        ]
        if generator.nextInt(below: 2) == 0 {
            let value = headerFuzzPick(invalid, &generator)
            var mutation = HeaderFuzzMutation(kind: .metadataMap, label: "__metadata__ = \(String(describing: value).prefix(60))",
                                              expectation: .throwsError)
            mutation.headerSteps = [{ header, _ in header["__metadata__"] = value }]
            return mutation
        }
        let choice = generator.nextInt(below: valid.count)
        var mutation = HeaderFuzzMutation(kind: .metadataMap, label: "metadata #\(choice)", expectation: .decodesTheSameValues)
        mutation.imageSteps = [{ image in image.metadata = valid[choice]() }]
        return mutation
    }

    // MARK: Data

    func dataSection(_ image: HeaderFuzzImage, _ generator: inout RandomGenerator) -> HeaderFuzzMutation {
        let total = image.entries.reduce(0) { $0 + $1.bytes.count }
        let choice = generator.nextInt(below: 4)
        let amount = 1 + generator.nextInt(below: max(1, total))
        let labels = ["cut by \(amount) bytes", "cut to nothing", "\(amount) bytes appended", "\(amount) bytes inserted"]
        var mutation = HeaderFuzzMutation(kind: .dataSection, label: "data section " + labels[choice],
                                          expectation: total == 0 && choice < 2 ? .decodesTheSameValues : .throwsError)
        mutation.headerSteps = [{ _, data in
            switch choice {
            case 0: data.removeLast(min(amount, data.count))
            case 1: data = []
            case 2: data += Array(repeating: 0x41, count: amount)
            default: data.insert(contentsOf: Array(repeating: 0x42, count: amount), at: min(data.count, amount / 2))
            }
        }]
        return mutation
    }

    func validDtype(_ image: HeaderFuzzImage, _ generator: inout RandomGenerator) -> HeaderFuzzMutation {
        let name = headerFuzzPick(image.names, &generator)
        return Self.convert(image, to: headerFuzzPick(HeaderFuzzImage.dtypes, &generator), only: name)
    }

    func validReshape(_ image: HeaderFuzzImage, _ generator: inout RandomGenerator) -> HeaderFuzzMutation {
        let entry = headerFuzzPick(image.entries, &generator)
        let count = entry.shape.reduce(1, *)
        let shapes: [[Int]] = count == 0
            ? [[0], [0, 0], [4, 0, 1 << 20], [1 << 24, 1 << 24, 0], [0, 1 << 48]]
            : [[count], [1, count], [count, 1], Array(repeating: 1, count: 100) + [count], count == 1 ? [] : [count]]
        let shape = headerFuzzPick(shapes, &generator)
        var mutation = HeaderFuzzMutation(kind: .validReshape, label: "\(entry.name) reshaped to \(shape.prefix(8))",
                                          expectation: .decodesTheSameValues)
        mutation.imageSteps = [{ image in
            if let index = image.entries.firstIndex(where: { $0.name == entry.name }) { image.entries[index].shape = shape }
        }]
        return mutation
    }

    func dataBytes(_ image: HeaderFuzzImage, _ generator: inout RandomGenerator) -> HeaderFuzzMutation {
        let flips = (0..<(1 + generator.nextInt(below: 8))).map { _ in (generator.next(), UInt8(truncatingIfNeeded: generator.next())) }
        var mutation = HeaderFuzzMutation(kind: .dataBytes, label: "\(flips.count) data bytes set at random", expectation: .decodes)
        mutation.headerSteps = [{ _, data in
            guard !data.isEmpty else { return }
            for (position, byte) in flips { data[Int(position % UInt64(data.count))] = byte }
        }]
        return mutation
    }

    func headerBits(_ image: HeaderFuzzImage, _ generator: inout RandomGenerator) -> HeaderFuzzMutation {
        let flips = (0..<(1 + generator.nextInt(below: 4))).map { _ in generator.next() }
        var mutation = HeaderFuzzMutation(kind: .headerBits, label: "\(flips.count) header bits flipped", expectation: .either)
        mutation.byteSteps = [{ file in headerFuzzReplaceHeader(&file) { text in
            guard !text.isEmpty else { return }
            for flip in flips { text[Int(flip % UInt64(text.count))] ^= UInt8(1) << UInt8((flip >> 32) % 8) }
        } }]
        return mutation
    }
}

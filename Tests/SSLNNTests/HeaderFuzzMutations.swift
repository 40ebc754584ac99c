import SSLTensor

// MARK: - Mutations

/// One damage to a file: steps on its parts, its header object and its bytes, and what decoding
/// must do with it.
struct HeaderFuzzMutation {
    enum Kind: String, CaseIterable {
        case shape, dtypeMismatch, dataOffsets, entries, brokenJSON, headerLength, metadataMap, dataSection,
             validDtype, validReshape, dataBytes, headerBits, stacked
    }
    enum Expectation { case either, throwsError, decodes, decodesTheSameValues }
    var kind: Kind
    var label: String
    var expectation: Expectation
    var imageSteps: [(inout HeaderFuzzImage) -> Void] = []
    var headerSteps: [(inout [String: Any], inout [UInt8]) -> Void] = []
    var byteSteps: [(inout [UInt8]) -> Void] = []

    /// The parts after the image steps (what a valid mutation must decode to).
    func expectedImage(from base: HeaderFuzzImage) -> HeaderFuzzImage {
        var image = base
        for step in imageSteps { step(&image) }
        return image
    }
}

/// Builds structured mutations of one file from a seeded generator.
struct HeaderFuzzMutations {
    let base: HeaderFuzzImage

    /// Every entry converted to `dtype` (values that dtype cannot hold become 0 or 1).
    static func convert(_ image: HeaderFuzzImage, to dtype: String, only name: String? = nil) -> HeaderFuzzMutation {
        var mutation = HeaderFuzzMutation(kind: .validDtype, label: "\(name ?? "every entry") as \(dtype)",
                                          expectation: .decodesTheSameValues)
        mutation.imageSteps = [{ image in
            for index in image.entries.indices where name == nil || image.entries[index].name == name {
                if dtype == "BOOL" { image.entries[index].values = image.entries[index].values.map { $0 == 0 ? 0 : 1 } }
                image.entries[index].dtype = dtype
                image.entries[index].bytes = image.entries[index].values.flatMap { headerFuzzEncode($0, as: dtype) }
            }
        }]
        return mutation
    }

    /// `count` mutations, each on the base file or on a copy of it in other dtypes; a sixth of
    /// them stack two or three.
    func all(count: Int, generator: inout RandomGenerator) -> [HeaderFuzzMutation] {
        let makers: [(HeaderFuzzImage, inout RandomGenerator) -> HeaderFuzzMutation] = [
            shape, dtypeMismatch, dataOffsets, entries, brokenJSON, headerLength, metadataMap, dataSection,
            validDtype, validReshape, dataBytes, headerBits,
        ]
        var result: [HeaderFuzzMutation] = []
        for _ in 0..<count {
            // The image the mutation sees: the base, all in one dtype, or each entry its own.
            var prefix: HeaderFuzzMutation?
            switch generator.nextInt(below: 3) {
            case 0: prefix = nil
            case 1: prefix = Self.convert(base, to: headerFuzzPick(HeaderFuzzImage.dtypes, &generator))
            default:
                var steps: [(inout HeaderFuzzImage) -> Void] = []
                var labels: [String] = []
                for name in base.names {
                    let dtype = headerFuzzPick(HeaderFuzzImage.dtypes, &generator)
                    steps += Self.convert(base, to: dtype, only: name).imageSteps
                    labels.append("\(name) \(dtype)")
                }
                prefix = HeaderFuzzMutation(kind: .validDtype, label: labels.joined(separator: ", "),
                                            expectation: .decodesTheSameValues, imageSteps: steps)
            }
            let image = prefix.map { $0.expectedImage(from: base) } ?? base
            var mutation: HeaderFuzzMutation
            if generator.nextInt(below: 6) == 0 {
                var parts: [HeaderFuzzMutation] = []
                for _ in 0..<(2 + generator.nextInt(below: 2)) {
                    let make = headerFuzzPick(makers, &generator)
                    parts.append(make(image, &generator))
                }
                // Stacked steps may undo or collide with each other (two renames to one name).
                mutation = HeaderFuzzMutation(kind: .stacked, label: parts.map(\.label).joined(separator: " + "), expectation: .either)
                for part in parts {
                    mutation.imageSteps += part.imageSteps
                    mutation.headerSteps += part.headerSteps
                    mutation.byteSteps += part.byteSteps
                }
            } else {
                let make = headerFuzzPick(makers, &generator)
                mutation = make(image, &generator)
            }
            if let prefix {
                mutation.label = "[\(prefix.label)] " + mutation.label
                mutation.imageSteps = prefix.imageSteps + mutation.imageSteps
            }
            result.append(mutation)
        }
        return result
    }
}

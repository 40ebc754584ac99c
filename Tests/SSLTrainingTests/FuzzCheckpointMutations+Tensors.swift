import Foundation
import SSLTensor

// MARK: - Tensors

extension FuzzCheckpointMutations {
    func tensorFill(_ name: String, _ value: Double, mustThrow: Bool = false, kind: FuzzMutation.Kind = .tensorValues)
        -> FuzzMutation
    {
        var mutation = FuzzMutation(kind: kind, label: "\(name) filled with \(value)", mustThrow: mustThrow)
        mutation.imageSteps = [{ image in
            guard let index = image.index(of: name) else { return }
            let word = Float(value).bitPattern.littleEndian
            image.entries[index].bytes = (0..<(image.entries[index].bytes.count / 4)).flatMap { _ in
                withUnsafeBytes(of: word) { Array($0) }
            }
        }]
        return mutation
    }

    func tensorValues(_ generator: inout RandomGenerator) -> FuzzMutation {
        let name = fuzzPick(modelKeys + slotKeys + optimizerKeys, &generator)
        let isModel = !name.contains("/")
        let isSlot = name.hasSuffix(".exp_avg") || name.hasSuffix(".exp_avg_sq")
        let values: [Double] = [.nan, .infinity, -.infinity, 3e38, -3e38, 1e-45, 0, -1, 1e20]
        let value = fuzzPick(values, &generator)
        var mutation: FuzzMutation
        if generator.nextInt(below: 4) == 0 {
            // One random word of the tensor to random bits.
            let position = generator.nextInt(below: 1 << 20), bits = UInt32(truncatingIfNeeded: generator.next())
            mutation = FuzzMutation(kind: .tensorValues, label: "\(name) word \(position) set to bits \(bits)")
            mutation.imageSteps = [{ image in
                guard let index = image.index(of: name), image.entries[index].bytes.count >= 4 else { return }
                let at = 4 * (position % (image.entries[index].bytes.count / 4))
                withUnsafeBytes(of: bits.littleEndian) { image.entries[index].bytes.replaceSubrange(at..<(at + 4), with: $0) }
            }]
            mutation.mayDiverge = true
            return mutation
        }
        mutation = tensorFill(name, value)
        // Every value must be finite; steps whole counts; second moments in [0, 1e36]; other
        // optimizer slots within ±1e18. Finite model weights of any size load (then may diverge).
        let isSecondMoment = name.hasSuffix(".exp_avg_sq")
        mutation.mustThrow = !value.isFinite || (name.hasSuffix(".step") && (value < 0 || value > 1e12))
            || (name.hasSuffix(".step") && value == 1e-45)
            || (isSlot && isSecondMoment && (value < 0 || value > 1e36))
            || (isSlot && !isSecondMoment && Swift.abs(value) > 1e18)
        mutation.mayDiverge = isModel || isSlot
        return mutation
    }

    func tensorShape(_ generator: inout RandomGenerator) -> FuzzMutation {
        let name = fuzzPick(modelKeys + optimizerKeys, &generator)
        guard let original = image.index(of: name).map({ image.entries[$0] }) else { preconditionFailure("no entry \(name)") }
        let count = original.shape.reduce(1, *)
        let changes: [(String, [Int], Int)] = [  // label, shape, element count
            ("flattened", [count], count), ("with a leading 1", [1] + original.shape, count),
            ("reversed", original.shape.reversed(), count), ("one longer", [count + 1], count + 1), ("empty", [0], 0),
            ("a scalar", [], 1), ("with a zero dimension", original.shape + [0], 0), ("doubled", original.shape + [2], 2 * count),
        ]
        let (label, shape, elements) = fuzzPick(changes, &generator)
        let dtype = fuzzPick(["F32", "F32", "F64", "F16", "BF16", "I64", "I32"], &generator)
        var mutation = FuzzMutation(kind: .tensorShape, label: "\(name) \(label) \(shape) as \(dtype)")
        let sameShape = shape == original.shape || (elements == 1 && count == 1)
        mutation.mustThrow = !sameShape
        mutation.imageSteps = [{ image in
            guard let index = image.index(of: name) else { return }
            let old = image.entries[index].bytes
            let floats = (0..<elements).map { i -> Float in
                let at = 4 * (i % Swift.max(1, old.count / 4))
                guard old.count >= 4 else { return 1 }
                return Float(bitPattern: UInt32(old[at]) | UInt32(old[at + 1]) << 8 | UInt32(old[at + 2]) << 16 | UInt32(old[at + 3]) << 24)
            }
            image.entries[index].shape = shape
            image.entries[index].dtype = dtype
            image.entries[index].bytes = floats.flatMap { fuzzEncode($0, as: dtype) }
        }]
        // Weights and moments stored in a narrower or integer dtype load rounded.
        mutation.mayDiverge = true
        return mutation
    }

    func stateKeys(_ generator: inout RandomGenerator) -> FuzzMutation {
        let adds: [(String, [Int], Bool)] = [
            ("extra.weight", [2], true), ("optimizer/optimizer", [1], true), ("optimizer/other/param.x.step", [], false),
            ("optimizer/optimizer/param.nope.exp_avg", [3], true), ("optimizer/optimizer/group.nope.learning_rate", [], true),
            ("optimizer/optimizer/weird", [], true), ("optimizer/optimizer/param.encoder.weight.bogus", [3, 4], false),
            ("optimizer/optimizer/param.encoder.weight.exp_avg_sq2", [4, 3], true), ("callback/ModelCheckpoint/x", [2], false),
            ("callback/EarlyStopping/wait", [], false), ("callback/Nobody/x", [1], false), ("optimizer//x", [1], false),
            ("optimizer/optimizer/param..step", [], true), ("", [1], true), ("callback/x", [1], true),
        ]
        if generator.nextInt(below: 2) == 0 {
            let (name, shape, mustThrow) = fuzzPick(adds, &generator)
            var mutation = FuzzMutation(kind: .stateKeys, label: "added \"\(name)\" \(shape)", mustThrow: mustThrow)
            mutation.imageSteps = [{ image in
                if let index = image.index(of: name) { image.entries.remove(at: index) }
                let bytes = (0..<shape.reduce(1, *)).flatMap { _ in fuzzEncode(1, as: "F32") }
                image.entries.append(.init(name: name, dtype: "F32", shape: shape, bytes: bytes))
            }]
            return mutation
        }
        let name = fuzzPick(image.names, &generator)
        let renamed = generator.nextInt(below: 3) == 0
        let target = name + ".renamed"
        var mutation = FuzzMutation(kind: .stateKeys, label: renamed ? "\(name) renamed to \(target)" : "\(name) removed",
                                    mustThrow: !name.contains("/") || renamed)
        mutation.imageSteps = [{ image in
            guard let index = image.index(of: name) else { return }
            if renamed { image.entries[index].name = target } else { image.entries.remove(at: index) }
        }]
        return mutation
    }

    func optimizerStep(_ generator: inout RandomGenerator) -> FuzzMutation {
        let name = fuzzPick(stepKeys, &generator)
        let values: [(Double, Bool)] = [(1e30, true), (-1, true), (.nan, true), (1.5, true), (.infinity, true),
                                        (Double(1 << 40), false), (Double(1 << 41), true), (0, false), (1e-45, true), (1, false)]
        if generator.nextInt(below: 5) == 0 {
            var mutation = FuzzMutation(kind: .optimizerStep, label: "\(name) as two values", mustThrow: true)
            mutation.imageSteps = [{ image in
                guard let index = image.index(of: name) else { return }
                image.entries[index].shape = [2]
                image.entries[index].bytes += image.entries[index].bytes
            }]
            return mutation
        }
        let (value, mustThrow) = fuzzPick(values, &generator)
        return tensorFill(name, value, mustThrow: mustThrow, kind: .optimizerStep)
    }
}

import SSLTensor

/// A table of a model's modules, like Lightning's model summary: each module's dotted name,
/// type, parameter count and, when an input shape is given, its output shape.
///
/// ```swift
/// print(ModuleSummary(ConvNet(), inputShape: [2, 1, 28, 28]))
/// ```
public struct ModuleSummary: CustomStringConvertible {
    /// One row of the table.
    public struct Row: Sendable {
        public let name: String
        public let type: String
        public let depth: Int
        public let parameterCount: Int
        public let outputShape: [Int]?
    }

    public let rows: [Row]
    public let totalParameters: Int
    public let trainableParameters: Int

    /// Summarises `module`; with `inputShape`, runs one forward pass on zeros (in evaluation
    /// mode and without gradients, restoring the mode after) to record output shapes.
    public init(_ module: Module, inputShape: [Int]? = nil, maxDepth: Int = 3) {
        var shapes: [ObjectIdentifier: [Int]] = [:]
        if let inputShape {
            let recorder = Recorder()
            let modes = module.namedModules().map { ($0.module, $0.module.isTraining) }
            module.eval()
            ModuleSummary.$recorder.withValue(recorder) {
                _ = noGrad { module(Tensor.zeros(inputShape)) }
            }
            for (child, mode) in modes { child.setTrainingMode(mode) }
            shapes = recorder.outputs
        }
        var rows: [Row] = []
        for (name, child) in module.namedModules() {
            let depth = name.isEmpty ? 0 : name.split(separator: ".").count
            guard depth <= maxDepth else { continue }
            rows.append(Row(name: name.isEmpty ? "(root)" : name, type: String(describing: type(of: child)), depth: depth,
                            parameterCount: child.parameterCount, outputShape: shapes[ObjectIdentifier(child)]))
        }
        self.rows = rows
        totalParameters = module.parameterCount
        trainableParameters = module.trainableParameterCount
    }

    public var description: String {
        let nameWidth = max(4, rows.map { $0.name.count + 2 * $0.depth }.max() ?? 0)
        let typeWidth = max(4, rows.map(\.type.count).max() ?? 0)
        func pad(_ text: String, _ width: Int) -> String { text + String(repeating: " ", count: max(0, width - text.count)) }
        var lines = ["\(pad("Name", nameWidth))  \(pad("Type", typeWidth))  \(pad("Params", 12))  Out shape"]
        lines.append(String(repeating: "-", count: nameWidth + typeWidth + 28))
        for row in rows {
            let indented = String(repeating: "  ", count: max(0, row.depth - 1)) + row.name
            let shape = row.outputShape.map { "\($0)" } ?? "-"
            lines.append("\(pad(indented, nameWidth))  \(pad(row.type, typeWidth))  \(pad(Self.formatCount(row.parameterCount), 12))  \(shape)")
        }
        lines.append(String(repeating: "-", count: nameWidth + typeWidth + 28))
        lines.append("\(Self.formatCount(trainableParameters)) trainable params")
        lines.append("\(Self.formatCount(totalParameters - trainableParameters)) non-trainable params")
        lines.append("\(Self.formatCount(totalParameters)) total params")
        return lines.joined(separator: "\n")
    }

    /// 11167680 → "11.2 M", 1234 → "1.2 K", as Lightning prints counts.
    static func formatCount(_ count: Int) -> String {
        switch count {
        case ..<1000: return String(count)
        case ..<1_000_000: return String(format1(Double(count) / 1e3)) + " K"
        case ..<1_000_000_000: return String(format1(Double(count) / 1e6)) + " M"
        default: return String(format1(Double(count) / 1e9)) + " B"
        }
    }

    private static func format1(_ value: Double) -> String {
        let rounded = (value * 10).rounded() / 10
        return String(rounded)
    }

    /// Collects output shapes during the summary's forward pass.
    final class Recorder: @unchecked Sendable {
        var outputs: [ObjectIdentifier: [Int]] = [:]
        func record(_ module: Module, input: [Int], output: [Int]) { outputs[ObjectIdentifier(module)] = output }
    }

    @TaskLocal static var recorder: Recorder?
}

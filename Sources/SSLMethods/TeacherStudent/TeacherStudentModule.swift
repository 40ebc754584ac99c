import SSLNN
import SSLTensor
import SSLTraining

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A student network and an exponential-moving-average (EMA) teacher, after stable-ssl's
/// `TeacherStudentModule`, with quadra's per-step schedule and mmdetection's interval and
/// skip-buffers options.
///
/// - The teacher is a deep copy of the student with gradients off (with `warmInit`, equal to
///   it; otherwise freshly initialised). `init(student:)` copies through the student's
///   `makeCopy()`; `init(make:)` calls a factory twice instead, so a custom network needs no
///   `makeCopy()`. Its parameters never receive gradients and never enter an optimizer.
/// - When both coefficients are 0 the teacher *is* the student (the same object, no copy),
///   and a teacher forward still builds no graph.
/// - `forward` runs the teacher; `forwardStudent` the student (gradients flow);
///   `forwardTeacher` the teacher under `noGrad` (in evaluation mode, BatchNorm on running
///   statistics, with `teacherInEvaluationMode`; by default it follows the module's mode).
/// - The coefficient c is the weight the teacher keeps: teacher ← c·teacher + (1 − c)·student,
///   over parameters and float buffers (BatchNorm statistics); integer buffers
///   (`num_batches_tracked`) are copied. (mmdetection's "momentum" is 1 − c.) Teacher and
///   student tensors are paired by name once, when the module is made. The coefficient is a
///   buffer, `ema_coefficient`, so checkpoints keep it.
/// - Schedules: per epoch, c = final − ½(final − base)(1 + cos(π·epoch/total)); per step,
///   the same with steps: update k (0-based) uses c(k), so the first uses the base and the
///   last c(K − 1) (quadra's τ = 1 − (1 − τ₀)(cos(π·k/K) + 1)/2).
/// - `TeacherStudentCallback` applies the schedule and `updateTeacher()` after every real
///   optimizer step (every `interval`-th), never before it, never in validation. The Trainer
///   runs it before every other callback (`automaticUpdates: false` turns that off).
///
/// ```swift
/// struct Parts {
///     let backbone: TeacherStudentModule<ConvNet>
///     let projector: TeacherStudentModule<MLP>
///     let predictor = MLP([256, 1024, 256], batchNorm: true)
///     init() throws {
///         backbone = try TeacherStudentModule(student: ConvNet(channels: [32, 64, 128]), baseEMACoefficient: 0.99)
///         projector = try TeacherStudentModule(student: MLP([128, 1024, 256], batchNorm: true), baseEMACoefficient: 0.99)
///     }
/// }
/// // forward: let z = m.projector.forwardTeacher(m.backbone.forwardTeacher(x))
/// //          let p = m.predictor(m.projector.forwardStudent(m.backbone.forwardStudent(x)))
/// ```
/// [Grill et al. 2020](https://arxiv.org/abs/2006.07733)
public final class TeacherStudentModule<Network: Module>: Module, ProvidesCallbacks, EMATeacher {

    public let student: Network
    public let teacher: Network
    public let baseEMACoefficient: Float
    public let finalEMACoefficient: Float
    public let warmInit: Bool
    public let interval: Int
    public let skipBuffers: Bool
    public let schedule: EMASchedule
    public let addsCallbacksAutomatically: Bool
    /// Whether `forwardTeacher` runs the teacher in evaluation mode whatever the module's mode.
    public let teacherInEvaluationMode: Bool
    private let coefficientBuffer: Tensor
    private let pairs: EMAPairs
    private lazy var updateCallback = TeacherStudentCallback(self)
    /// How many times `updateTeacher()` changed the teacher.
    public private(set) var updateCount = 0

    /// A teacher made from `student` by `makeCopy()` (every built-in layer has one).
    public convenience init(student: Network, warmInit: Bool = true, baseEMACoefficient: Float = 0.996,
                            finalEMACoefficient: Float = 1.0, interval: Int = 1, skipBuffers: Bool = false,
                            schedule: EMASchedule = .perEpoch, automaticUpdates: Bool = true,
                            teacherInEvaluationMode: Bool = false) throws {
        try self.init(student: student, teacherFactory: {
            guard let fresh = student.makeCopy() as? Network else {
                preconditionFailure("TeacherStudentModule: \(type(of: student)).makeCopy() returned another type")
            }
            return fresh
        }, warmInit: warmInit, baseEMACoefficient: baseEMACoefficient, finalEMACoefficient: finalEMACoefficient,
            interval: interval, skipBuffers: skipBuffers, schedule: schedule, automaticUpdates: automaticUpdates,
            teacherInEvaluationMode: teacherInEvaluationMode)
    }

    /// A student and a teacher both built by `make` (so a custom network needs no
    /// `makeCopy()`); with `warmInit` the teacher then takes the student's weights.
    ///
    /// ```swift
    /// let backbone = try TeacherStudentModule(make: { MyEncoder() }, baseEMACoefficient: 0.99)
    /// ```
    public convenience init(make: () -> Network, warmInit: Bool = true, baseEMACoefficient: Float = 0.996,
                            finalEMACoefficient: Float = 1.0, interval: Int = 1, skipBuffers: Bool = false,
                            schedule: EMASchedule = .perEpoch, automaticUpdates: Bool = true,
                            teacherInEvaluationMode: Bool = false) throws {
        try self.init(student: make(), teacherFactory: make, warmInit: warmInit, baseEMACoefficient: baseEMACoefficient,
                      finalEMACoefficient: finalEMACoefficient, interval: interval, skipBuffers: skipBuffers,
                      schedule: schedule, automaticUpdates: automaticUpdates, teacherInEvaluationMode: teacherInEvaluationMode)
    }

    private init(student: Network, teacherFactory: () -> Network, warmInit: Bool, baseEMACoefficient: Float,
                 finalEMACoefficient: Float, interval: Int, skipBuffers: Bool, schedule: EMASchedule,
                 automaticUpdates: Bool, teacherInEvaluationMode: Bool) throws {
        guard (0...1).contains(baseEMACoefficient) && (0...1).contains(finalEMACoefficient) else {
            throw TrainingError.invalidConfiguration("TeacherStudentModule: EMA coefficients must be in [0, 1], got \(baseEMACoefficient) → \(finalEMACoefficient)")
        }
        guard interval >= 1 else {
            throw TrainingError.invalidConfiguration("TeacherStudentModule: interval must be at least 1, got \(interval)")
        }
        self.student = student
        self.baseEMACoefficient = baseEMACoefficient
        self.finalEMACoefficient = finalEMACoefficient
        self.warmInit = warmInit
        self.interval = interval
        self.skipBuffers = skipBuffers
        self.schedule = schedule
        self.addsCallbacksAutomatically = automaticUpdates
        self.teacherInEvaluationMode = teacherInEvaluationMode
        if baseEMACoefficient == 0 && finalEMACoefficient == 0 {
            teacher = student
            pairs = EMAPairs()
        } else {
            let copy = teacherFactory()
            if warmInit {
                do {
                    try copy.loadStateDict(student.stateDict(), strict: true)
                } catch {
                    throw TrainingError.invalidConfiguration("TeacherStudentModule: the teacher's structure differs from the student's: \(error)")
                }
                let modes = student.namedModules().map(\.module.isTraining)
                for (module, mode) in zip(copy.namedModules().map(\.module), modes) { module.setTrainingMode(mode) }
            }
            copy.freeze()
            teacher = copy
            pairs = try EMAPairs(teacher: copy, student: student)
        }
        coefficientBuffer = Tensor(baseEMACoefficient)
        super.init()
        registerBuffer("ema_coefficient", coefficientBuffer)
    }

    /// Whether the teacher is the student itself (both coefficients 0).
    public var teacherIsStudent: Bool { teacher === student }

    /// The current EMA coefficient (the teacher's weight in an update).
    public var emaCoefficient: Float {
        get { coefficientBuffer.item() }
        set { coefficientBuffer.withUnsafeMutableElements { $0[0] = newValue } }
    }

    /// Runs the teacher (without gradients).
    public override func forward(_ input: Tensor) -> Tensor { forwardTeacher(input) }

    /// Runs the student; gradients flow to its parameters.
    public func forwardStudent(_ input: Tensor) -> Tensor { student(input) }

    /// Runs the teacher under `noGrad` (in evaluation mode with `teacherInEvaluationMode`).
    public func forwardTeacher(_ input: Tensor) -> Tensor {
        if teacherInEvaluationMode && !teacherIsStudent && teacher.isTraining { teacher.eval() }
        return noGrad { teacher(input) }
    }

    /// Sets the coefficient for `epoch` of `totalEpochs` (cosine from base to final).
    public func updateEMACoefficient(epoch: Int, totalEpochs: Int) {
        emaCoefficient = Self.cosineCoefficient(progress: Double(epoch), total: Double(Swift.max(totalEpochs, 1)),
                                                base: baseEMACoefficient, final: finalEMACoefficient)
    }

    /// Sets the coefficient for optimizer step `step` (0-based) of `totalSteps` (cosine from
    /// base to final).
    public func updateEMACoefficient(step: Int, totalSteps: Int) {
        emaCoefficient = Self.cosineCoefficient(progress: Double(step), total: Double(Swift.max(totalSteps, 1)),
                                                base: baseEMACoefficient, final: finalEMACoefficient)
    }

    /// final − ½(final − base)(1 + cos(π·progress/total)), in double precision.
    public static func cosineCoefficient(progress: Double, total: Double, base: Float, final: Float) -> Float {
        let cosine = cos(Double.pi * Swift.min(progress, total) / total)
        return Float(Double(final) - 0.5 * (Double(final) - Double(base)) * (1 + cosine))
    }

    /// teacher ← c·teacher + (1 − c)·student over parameters and (unless `skipBuffers`) float
    /// buffers; integer buffers are copied. Nothing happens when the teacher is the student.
    public func updateTeacher() {
        guard !teacherIsStudent else { return }
        let c = emaCoefficient, keep = 1 - c
        noGrad {
            for (target, source) in pairs.parameters { Self.blend(target, source, keep: c, take: keep) }
            if !skipBuffers {
                for (target, source) in pairs.floatBuffers { Self.blend(target, source, keep: c, take: keep) }
                for (target, source) in pairs.integerBuffers { target.copyIn(source) }
            }
        }
        updateCount += 1
    }

    private static func blend(_ target: Tensor, _ source: Tensor, keep: Float, take: Float) {
        source.withContiguousBuffer { from in
            target.withUnsafeMutableElements { to in
                guard let fromBase = from.baseAddress, let toBase = to.baseAddress else { return }
                let source = UnsafeSendablePointer(fromBase), destination = UnsafeSendablePointer(toBase)
                Parallel.forEachChunk(count: to.count, minimumChunk: 1 << 15) { range in
                    for i in range { destination.base[i] = keep * destination.base[i] + take * source.base[i] }
                }
            }
        }
    }

    public var callbacks: [Callback] { [updateCallback] }

    public override func makeCopy() -> Module {
        do {
            return try TeacherStudentModule(student: student.copy(), warmInit: warmInit, baseEMACoefficient: baseEMACoefficient,
                                            finalEMACoefficient: finalEMACoefficient, interval: interval, skipBuffers: skipBuffers,
                                            schedule: schedule, automaticUpdates: addsCallbacksAutomatically,
                                            teacherInEvaluationMode: teacherInEvaluationMode)
        } catch {
            preconditionFailure("TeacherStudentModule.makeCopy: \(error)")  // the values were accepted once already
        }
    }
}

/// The teacher's tensors paired with the student's by name, made once.
struct EMAPairs {
    var parameters: [(teacher: Tensor, student: Tensor)] = []
    var floatBuffers: [(teacher: Tensor, student: Tensor)] = []
    var integerBuffers: [(teacher: Tensor, student: Tensor)] = []

    init() {}

    /// Pairs every parameter and buffer by name; throws, naming them, when the two trees differ.
    init(teacher: Module, student: Module) throws {
        func pair(_ teacherTensors: [(name: String, tensor: Tensor)], _ studentTensors: [(name: String, tensor: Tensor)],
                  kind: String) throws -> [(teacher: Tensor, student: Tensor)] {
            let students = Dictionary(studentTensors.map { ($0.name, $0.tensor) }, uniquingKeysWith: { a, _ in a })
            let teacherNames = Set(teacherTensors.map(\.name))
            let missing = teacherNames.symmetricDifference(students.keys)
            guard missing.isEmpty else {
                throw TrainingError.invalidConfiguration("TeacherStudentModule: teacher and student \(kind) differ in names: \(missing.sorted().prefix(8).joined(separator: ", "))")
            }
            return try teacherTensors.map { name, tensor in
                guard let source = students[name], source.shape == tensor.shape else {
                    throw TrainingError.invalidConfiguration("TeacherStudentModule: \(kind) \"\(name)\" has shape \(tensor.shape) in the teacher and \(students[name]?.shape ?? []) in the student")
                }
                return (tensor, source)
            }
        }
        parameters = try pair(teacher.namedParameters(), student.namedParameters(), kind: "parameters")
        let teacherBuffers = teacher.namedBuffers(), studentBuffers = student.namedBuffers()
        floatBuffers = try pair(teacherBuffers.filter { !$0.isInteger }.map { ($0.name, $0.tensor) },
                                studentBuffers.filter { !$0.isInteger }.map { ($0.name, $0.tensor) }, kind: "float buffers")
        integerBuffers = try pair(teacherBuffers.filter(\.isInteger).map { ($0.name, $0.tensor) },
                                  studentBuffers.filter(\.isInteger).map { ($0.name, $0.tensor) }, kind: "integer buffers")
    }
}

/// How a teacher's EMA coefficient moves from its base to its final value over a fit.
public enum EMASchedule: String, Sendable {
    /// Cosine over epochs (stable-ssl's `update_ema_coefficient(epoch, total_epochs)`).
    case perEpoch
    /// Cosine over optimizer steps (quadra's BYOL).
    case perStep
    /// The base coefficient throughout.
    case constant
}

/// What the EMA callback needs of a teacher–student pair, whatever its network type.
public protocol EMATeacher: AnyObject {
    var schedule: EMASchedule { get }
    var interval: Int { get }
    func updateEMACoefficient(epoch: Int, totalEpochs: Int)
    func updateEMACoefficient(step: Int, totalSteps: Int)
    func updateTeacher()
}

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
///   it; otherwise freshly initialised). Its parameters never receive gradients and never
///   enter an optimizer (the default optimizers take only parameters that require gradients).
/// - When both coefficients are 0 the teacher *is* the student (the same object, no copy),
///   and a teacher forward still builds no graph.
/// - `forward` runs the teacher; `forwardStudent` the student (gradients flow);
///   `forwardTeacher` the teacher under `noGrad`.
/// - The coefficient c is the weight the teacher keeps: teacher ← c·teacher + (1 − c)·student,
///   over parameters and float buffers (BatchNorm statistics); integer buffers
///   (`num_batches_tracked`) are copied. (mmdetection's "momentum" is 1 − c.) It is a buffer,
///   `ema_coefficient`, so checkpoints keep it.
/// - Schedules: per epoch, c = final − ½(final − base)(1 + cos(π·epoch/total)); per step,
///   the same with steps (for final 1 this is quadra's τ = 1 − (1 − τ₀)(cos(π·k/K) + 1)/2).
/// - `TeacherStudentCallback` applies the schedule and `updateTeacher()` after every real
///   optimizer step (every `interval`-th), never before it, never in validation. The Trainer
///   adds it automatically (`automaticUpdates: false` turns that off).
///
/// ```swift
/// struct Parts {
///     let encoder = TeacherStudentModule(student: Sequential([ConvNet(), MLP([128, 1024, 256], batchNorm: true)]),
///                                        baseEMACoefficient: 0.99, schedule: .perStep)
///     let predictor = MLP([256, 1024, 256], batchNorm: true)
/// }
/// // forward: let z = m.encoder.forwardTeacher(x); let p = m.predictor(m.encoder.forwardStudent(x))
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
    private let coefficientBuffer: Tensor
    private lazy var updateCallback = TeacherStudentCallback(self)
    /// How many times `updateTeacher()` changed the teacher.
    public private(set) var updateCount = 0

    public init(student: Network, warmInit: Bool = true, baseEMACoefficient: Float = 0.996,
                finalEMACoefficient: Float = 1.0, interval: Int = 1, skipBuffers: Bool = false,
                schedule: EMASchedule = .perEpoch, automaticUpdates: Bool = true) {
        precondition((0...1).contains(baseEMACoefficient) && (0...1).contains(finalEMACoefficient),
                     "TeacherStudentModule: EMA coefficients must be in [0, 1], got \(baseEMACoefficient) → \(finalEMACoefficient)")
        precondition(interval >= 1, "TeacherStudentModule: interval must be at least 1, got \(interval)")
        self.student = student
        self.baseEMACoefficient = baseEMACoefficient
        self.finalEMACoefficient = finalEMACoefficient
        self.warmInit = warmInit
        self.interval = interval
        self.skipBuffers = skipBuffers
        self.schedule = schedule
        self.addsCallbacksAutomatically = automaticUpdates
        if baseEMACoefficient == 0 && finalEMACoefficient == 0 {
            teacher = student
        } else {
            let copy: Network
            if warmInit {
                copy = student.copy()
            } else {
                guard let fresh = student.makeCopy() as? Network else {
                    preconditionFailure("TeacherStudentModule: \(type(of: student)).makeCopy() returned another type")
                }
                copy = fresh
            }
            copy.freeze()
            teacher = copy
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

    /// Runs the teacher under `noGrad`.
    public func forwardTeacher(_ input: Tensor) -> Tensor { noGrad { teacher(input) } }

    /// Sets the coefficient for `epoch` of `totalEpochs` (cosine from base to final).
    public func updateEMACoefficient(epoch: Int, totalEpochs: Int) {
        emaCoefficient = Self.cosineCoefficient(progress: Double(epoch), total: Double(Swift.max(totalEpochs, 1)),
                                                base: baseEMACoefficient, final: finalEMACoefficient)
    }

    /// Sets the coefficient for optimizer step `step` of `totalSteps` (cosine from base to final).
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
            for ((name, target), (_, source)) in zip(teacher.namedParameters(), student.namedParameters()) {
                precondition(target.shape == source.shape, "updateTeacher: \(name) shapes differ")
                Self.blend(target, source, keep: c, take: keep)
            }
            if !skipBuffers {
                for (target, source) in zip(teacher.namedBuffers(), student.namedBuffers()) {
                    if target.isInteger {
                        target.tensor.copyIn(source.tensor)
                    } else {
                        Self.blend(target.tensor, source.tensor, keep: c, take: keep)
                    }
                }
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
        TeacherStudentModule(student: student.copy(), warmInit: warmInit, baseEMACoefficient: baseEMACoefficient,
                             finalEMACoefficient: finalEMACoefficient, interval: interval, skipBuffers: skipBuffers,
                             schedule: schedule, automaticUpdates: addsCallbacksAutomatically)
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

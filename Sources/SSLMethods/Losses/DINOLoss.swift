import SSLNN
import SSLTensor
import SSLTraining

/// DINO's self-distillation loss: the cross-entropy between the teacher's centred, sharpened
/// distributions over the global crops and the student's distributions over every other crop.
///
/// With student logits s_v for crops v = 0…V−1 (the two global crops first, in the teacher's
/// order) and teacher logits t_j for the global crops j = 0, 1:
///   P_v = softmax(s_v / τ_s),  Q_j = softmax((t_j − c) / τ_t) (no gradient),
///   loss = mean over the pairs (j, v ≠ j) of mean_b −Σ_k Q_j[b, k] log P_v[b, k],
/// and afterwards the centre moves towards the teacher's batch mean:
/// c ← m·c + (1 − m)·mean(t). As the official `DINOLoss` (main_dino.py).
///
/// State: the centre is the buffer `center` `[1, K]`, so checkpoints keep it and a resumed
/// fit continues with the same centre. The teacher temperature τ_t rises linearly from
/// `warmupTeacherTemperature` to `teacherTemperature` over the first `warmupFraction` of the
/// fit's optimizer steps, then stays; the callback this module provides sets it at every
/// training batch from the trainer's global step (so it needs no saving). The official code
/// warms up over epochs (30 of 100–800 in its recommended settings; 0 by default), which on
/// runs of a few epochs would be a step or two; hence steps here.
/// [Caron et al. 2021](https://arxiv.org/abs/2104.14294)
///
/// ```swift
/// struct Parts { let backbone: TeacherStudentModule<Module>; let head: TeacherStudentModule<DINOHead>; let loss: DINOLoss }
/// // forward: out["loss"] = m.loss(student: globalViews + localViews, teacher: teacherGlobalViews)
/// ```
public final class DINOLoss: Module, ProvidesCallbacks {
    public let outputDimension: Int
    public let studentTemperature: Float
    public let teacherTemperature: Float
    public let warmupTeacherTemperature: Float
    /// The share of the fit's optimizer steps over which τ_t warms up.
    public let warmupFraction: Double
    public let centerMomentum: Float
    /// The running centre of the teacher's logits, `[1, K]` (buffer `center`).
    public let center: Tensor
    /// The teacher temperature the next call uses (the callback sets it every training batch).
    public var currentTeacherTemperature: Float
    public let addsCallbacksAutomatically = true
    private lazy var temperatureCallback = DINOTemperatureCallback(self)

    public init(outputDimension: Int, studentTemperature: Float = 0.1, teacherTemperature: Float = 0.07,
                warmupTeacherTemperature: Float = 0.04, warmupFraction: Double = 0.3, centerMomentum: Float = 0.9) {
        precondition(outputDimension > 0, "DINOLoss: outputDimension must be positive, got \(outputDimension)")
        precondition(studentTemperature > 0 && teacherTemperature > 0 && warmupTeacherTemperature > 0,
                     "DINOLoss: temperatures must be positive, got student \(studentTemperature), teacher \(warmupTeacherTemperature) → \(teacherTemperature)")
        precondition((0...1).contains(warmupFraction) && (0...1).contains(centerMomentum),
                     "DINOLoss: warmupFraction \(warmupFraction) and centerMomentum \(centerMomentum) must be in [0, 1]")
        self.outputDimension = outputDimension
        self.studentTemperature = studentTemperature
        self.teacherTemperature = teacherTemperature
        self.warmupTeacherTemperature = warmupTeacherTemperature
        self.warmupFraction = warmupFraction
        self.centerMomentum = centerMomentum
        center = Tensor.zeros([1, outputDimension])
        currentTeacherTemperature = warmupFraction > 0 ? warmupTeacherTemperature : teacherTemperature
        super.init()
        registerBuffer("center", center)
    }

    /// τ_t at optimizer step `step` (0-based) of `totalSteps`: linear from the warm-up value
    /// (step 0) to the final one (at `warmupFraction`·`totalSteps`), then constant.
    public func teacherTemperature(step: Int, totalSteps: Int) -> Float {
        let warmupSteps = warmupFraction * Double(totalSteps)
        guard warmupSteps > 0 else { return teacherTemperature }
        let progress = Float(Swift.min(1, Double(step) / warmupSteps))
        return warmupTeacherTemperature + (teacherTemperature - warmupTeacherTemperature) * progress
    }

    /// The loss at the current teacher temperature, then the centre update.
    /// - Parameters:
    ///   - student: the student's logits of every crop, `[B, K]` each, the global crops first.
    ///   - teacher: the teacher's logits of the global crops, `[B, K]` each, in the same order.
    public func callAsFunction(student: [Tensor], teacher: [Tensor]) -> Tensor {
        let result = loss(student: student, teacher: teacher, teacherTemperature: currentTeacherTemperature)
        updateCenter(teacher: teacher)
        return result
    }

    /// The loss with a given teacher temperature and the current centre; changes nothing.
    public func loss(student: [Tensor], teacher: [Tensor], teacherTemperature: Float) -> Tensor {
        precondition(!teacher.isEmpty && student.count >= teacher.count && student.count >= 2,
                     "DINOLoss: needs at least one teacher crop and at least as many student crops (two or more), got \(student.count) student and \(teacher.count) teacher crops")
        let shape = teacher[0].shape
        precondition(shape.count == 2 && shape[1] == outputDimension && (student + teacher).allSatisfy { $0.shape == shape },
                     "DINOLoss: every crop's logits must be [B, \(outputDimension)] of one shape, got student \(student.map(\.shape)), teacher \(teacher.map(\.shape))")
        let logProbabilities = student.map { ($0 * (1 / studentTemperature)).logSoftmax(axis: 1) }
        let targets = teacher.map { ($0.detach() - center) * (1 / teacherTemperature) }.map { $0.softmax(axis: 1) }
        var terms: [Tensor] = []
        for (j, target) in targets.enumerated() {
            for (v, logProbability) in logProbabilities.enumerated() where v != j {
                terms.append(-(target * logProbability).sum(axis: 1).mean())
            }
        }
        return terms.dropFirst().reduce(terms[0], +) * (1 / Float(terms.count))
    }

    /// c ← m·c + (1 − m)·(mean of the teacher's rows over all its crops).
    public func updateCenter(teacher: [Tensor]) {
        noGrad {
            let batchCenter = Tensor.concat(teacher.map { $0.detach() }, axis: 0).mean(axis: 0, keepDims: true)
            center.copyIn(center * centerMomentum + batchCenter * (1 - centerMomentum))
        }
    }

    public var callbacks: [Callback] { [temperatureCallback] }

    public override func makeCopy() -> Module {
        DINOLoss(outputDimension: outputDimension, studentTemperature: studentTemperature, teacherTemperature: teacherTemperature,
                 warmupTeacherTemperature: warmupTeacherTemperature, warmupFraction: warmupFraction, centerMomentum: centerMomentum)
    }
}

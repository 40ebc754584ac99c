import SSLTensor

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// RankMe, the effective rank of an embedding matrix `[N, D]`: with σ its singular values,
/// p_k = σ_k / Σσ + 1e-7 and RankMe = exp(−Σ p_k log p_k). It is near D for well-spread
/// embeddings and near 1 for collapsed ones. [Garrido et al. 2023](https://arxiv.org/abs/2210.02885)
///
/// - Parameters:
///   - embeddings: the matrix `[N, D]`, one embedding a row.
///   - centered: `false` (the default) takes the singular values of the embeddings as they are,
///     the paper's RankMe and stable-ssl's monitor (logged as `rankme`). `true` takes them after
///     subtracting the mean embedding (the column means, in double precision), so that a common
///     offset (ReLU features are all non-negative) does not count as a direction the embeddings
///     use; this is the framework's collapse criterion (logged as `effective_rank`): no collapse
///     means a centred effective rank of at least D/4. Centred, identical rows have rank 1.
///     Both numbers are scale-invariant: they measure how the spread is shared among
///     directions, not how large it is.
///   - eps: added to each p_k (1e-7, as the paper).
///
/// The singular values come from the eigenvalues of the smaller Gram matrix (ZᵀZ or ZZᵀ),
/// found by cyclic Jacobi rotations in double precision.
///
/// ```swift
/// let rankMe = effectiveRank(embeddings)                    // e.g. 22.4 of 128 dimensions
/// let effective = effectiveRank(embeddings, centered: true) // e.g. 34.6: the mean removed
/// ```
public func effectiveRank(_ embeddings: Tensor, centered: Bool = false, eps: Double = 1e-7) -> Float {
    let values = singularValues(centered ? centeredColumns(embeddings) : embeddings)
    let total = values.reduce(0, +)
    guard total.isFinite else { return .nan }
    guard total > 0 else { return 1 }
    var entropy = 0.0
    for value in values {
        let p = value / total + eps
        entropy -= p * log(p)
    }
    return Float(exp(entropy))
}

/// The matrix `[N, D]` minus its column means (computed in double precision).
func centeredColumns(_ matrix: Tensor) -> Tensor {
    precondition(matrix.rank == 2, "effectiveRank: expected a matrix [N, D], got \(matrix.shape)")
    let rows = matrix.shape[0], columns = matrix.shape[1]
    let values = matrix.scalars
    var means = [Double](repeating: 0, count: columns)
    for row in 0..<rows {
        for column in 0..<columns { means[column] += Double(values[row * columns + column]) }
    }
    let scale = 1 / Double(Swift.max(rows, 1))
    var centered = [Float](repeating: 0, count: values.count)
    for row in 0..<rows {
        for column in 0..<columns {
            let index = row * columns + column
            centered[index] = Float(Double(values[index]) - means[column] * scale)
        }
    }
    return Tensor(shape: [rows, columns], scalars: centered)
}

/// The singular values of a matrix `[N, D]`, in descending order.
public func singularValues(_ matrix: Tensor) -> [Double] {
    precondition(matrix.rank == 2, "singularValues: expected a matrix [N, D], got \(matrix.shape)")
    let rows = matrix.shape[0], columns = matrix.shape[1]
    let gram = noGrad { rows >= columns ? matrix.matmul(matrix, transposeSelf: true) : matrix.matmul(matrix, transposeOther: true) }
    let size = gram.shape[0]
    var a = gram.scalars.map(Double.init)
    let eigenvalues = symmetricEigenvalues(&a, size: size)
    return eigenvalues.map { Swift.max($0, 0).squareRoot() }.sorted(by: >)
}

/// Eigenvalues of a symmetric matrix (row-major, destroyed) by cyclic Jacobi rotations.
func symmetricEigenvalues(_ a: inout [Double], size n: Int) -> [Double] {
    if n == 0 { return [] }
    for _ in 0..<60 {
        var off = 0.0, diagonal = 0.0
        for i in 0..<n {
            diagonal += a[i * n + i] * a[i * n + i]
            for j in (i + 1)..<Swift.max(i + 1, n) where j < n { off += a[i * n + j] * a[i * n + j] }
        }
        if off <= 1e-22 * Swift.max(diagonal, 1e-300) { break }
        for p in 0..<(n - 1) {
            for q in (p + 1)..<n {
                let apq = a[p * n + q]
                if Swift.abs(apq) < 1e-300 { continue }
                let app = a[p * n + p], aqq = a[q * n + q]
                let theta = (aqq - app) / (2 * apq)
                let t = (theta >= 0 ? 1.0 : -1.0) / (Swift.abs(theta) + (theta * theta + 1).squareRoot())
                let c = 1 / (t * t + 1).squareRoot(), s = t * c
                for k in 0..<n {
                    let akp = a[k * n + p], akq = a[k * n + q]
                    a[k * n + p] = c * akp - s * akq
                    a[k * n + q] = s * akp + c * akq
                }
                for k in 0..<n {
                    let apk = a[p * n + k], aqk = a[q * n + k]
                    a[p * n + k] = c * apk - s * aqk
                    a[q * n + k] = s * apk + c * aqk
                }
            }
        }
    }
    return (0..<n).map { a[$0 * n + $0] }
}

import SSLDistributed
import SSLTensor
import SSLTestSupport
import XCTest

/// A finite-difference gradient check of an operation that communicates, run on the ranks of a
/// `LocalGroupCommunicator`.
///
/// `globalInput` is split along axis 0 into `worldSize` equal parts, rank r computing
/// `function(part r, shared, communicator)`; the objective is Σ over ranks of Σ output ⊙ R_r
/// (fixed random R_r). Its analytic gradient is what autograd leaves on each rank (the rank
/// parts concatenated; for `shared`, which every rank holds, the sum over ranks); the numeric
/// one perturbs each element and runs the whole group again.
func checkDistributedGradients(
    worldSize: Int, globalInput: Tensor, shared: Tensor? = nil, epsilon: Float = 1e-2, rtol: Float = 2e-2,
    atol: Float = 2e-3, file: StaticString = #filePath, line: UInt = #line,
    _ function: @escaping @Sendable (Tensor, Tensor?, any Communicator) -> Tensor
) {
    let input = globalInput.contiguousCopy()
    let sharedValues = shared?.contiguousCopy()
    let local = input.shape[0] / worldSize

    @Sendable func run(withGradients: Bool) -> [(objective: Double, inputGrad: [Float], sharedGrad: [Float])] {
        LocalGroupCommunicator.run(worldSize: worldSize) { communicator in
            let part = input.slice(axis: 0, communicator.rank * local ..< (communicator.rank + 1) * local).contiguousCopy()
            let mine = sharedValues?.contiguousCopy()
            if withGradients { part.requiringGrad(); mine?.requiringGrad() }
            let output = withGradients ? function(part, mine, communicator) : noGrad { function(part, mine, communicator) }
            var generator = RandomGenerator(seed: 11 + UInt64(communicator.rank))
            let projection = Tensor.uniform(output.shape, low: -1, high: 1, generator: &generator)
            var objective: Double = 0
            for (value, weight) in zip(output.scalars, projection.scalars) { objective += Double(value) * Double(weight) }
            if withGradients { (output * projection).sum().backward() }
            return (objective, part.grad?.scalars ?? [], mine?.grad?.scalars ?? [])
        }
    }

    let analytic = run(withGradients: true)
    let inputGradient = analytic.flatMap(\.inputGrad)
    var sharedGradient = [Float](repeating: 0, count: sharedValues?.count ?? 0)
    for rank in analytic where !rank.sharedGrad.isEmpty {
        for index in sharedGradient.indices { sharedGradient[index] += rank.sharedGrad[index] }
    }
    XCTAssertEqual(inputGradient.count, input.count, "every rank's input received a gradient", file: file, line: line)

    func numeric(_ tensor: Tensor, element: Int) -> Float {
        let pointer = tensor.storage.pointer + tensor.offset
        let original = pointer[element]
        pointer[element] = original + epsilon
        let plus = run(withGradients: false).reduce(0) { $0 + $1.objective }
        pointer[element] = original - epsilon
        let minus = run(withGradients: false).reduce(0) { $0 + $1.objective }
        pointer[element] = original
        return Float((plus - minus) / (2 * Double(epsilon)))
    }
    for (name, tensor, gradient) in [("input", input, inputGradient), ("shared", sharedValues, sharedGradient)] {
        guard let tensor else { continue }
        for element in 0..<tensor.count {
            let value = numeric(tensor, element: element)
            let difference = Swift.abs(value - gradient[element])
            if !(difference <= atol + rtol * Swift.abs(value)) {
                XCTFail("checkDistributedGradients: \(name) element \(element): analytic \(gradient[element]), numeric \(value)", file: file, line: line)
                return
            }
        }
    }
}

import SSLMethods
import SSLTensor
import SSLTestSupport
import XCTest

/// Loss values and input gradients against PyTorch (Reference/make_reference.py), N = 4 and 6.
final class LossReferenceTests: XCTestCase {
    private func tensor(_ literal: (shape: [Int], values: [Float])) -> Tensor {
        Tensor(shape: literal.shape, scalars: literal.values).requiringGrad()
    }

    private func check(_ loss: Tensor, _ expected: Float, inputs: [Tensor], gradients: [(shape: [Int], values: [Float])],
                       rtol: Float = 1e-4, file: StaticString = #filePath, line: UInt = #line) {
        assertClose([loss.item()], [expected], rtol: rtol, atol: 1e-6, "loss", file: file, line: line)
        loss.backward()
        for (index, (input, gradient)) in zip(inputs, gradients).enumerated() {
            guard let actual = input.grad else { return XCTFail("input \(index) has no gradient", file: file, line: line) }
            assertClose(actual, Tensor(shape: gradient.shape, scalars: gradient.values), rtol: 1e-3, atol: 2e-6,
                        "gradient \(index)", file: file, line: line)
        }
    }

    func testNTXentMatchesReferenceValuesAndGradients() {
        typealias R = SSLReference
        var z1 = tensor(R.ntxent4Z1), z2 = tensor(R.ntxent4Z2)
        check(NTXentLoss(temperature: 0.5)(z1, z2), R.ntxent4Loss, inputs: [z1, z2], gradients: [R.ntxent4GradZ1, R.ntxent4GradZ2])
        z1 = tensor(R.ntxent6Z1); z2 = tensor(R.ntxent6Z2)
        check(NTXentLoss()(z1, z2), R.ntxent6Loss, inputs: [z1, z2], gradients: [R.ntxent6GradZ1, R.ntxent6GradZ2])
        z1 = tensor(R.ntxentT02_4Z1); z2 = tensor(R.ntxentT02_4Z2)
        check(NTXentLoss(temperature: 0.2)(z1, z2), R.ntxentT02_4Loss, inputs: [z1, z2],
              gradients: [R.ntxentT02_4GradZ1, R.ntxentT02_4GradZ2])
    }

    func testNTXentWithThreeViewsTreatsEveryOtherViewAsAPositive() {
        typealias R = SSLReference
        let z1 = tensor(R.ntxent3views4Z1), z2 = tensor(R.ntxent3views4Z2), z3 = tensor(R.ntxent3views4Z3)
        check(NTXentLoss()([z1, z2, z3]), R.ntxent3views4Loss, inputs: [z1, z2, z3],
              gradients: [R.ntxent3views4GradZ1, R.ntxent3views4GradZ2, R.ntxent3views4GradZ3])
    }

    func testBYOLLossMatchesReference() {
        typealias R = SSLReference
        for size in [4, 6] {
            let (p1, p2, z1, z2) = size == 4 ? (tensor(R.byol4P1), tensor(R.byol4P2), tensor(R.byol4Z1), tensor(R.byol4Z2))
                : (tensor(R.byol6P1), tensor(R.byol6P2), tensor(R.byol6Z1), tensor(R.byol6Z2))
            let expected = size == 4 ? R.byol4Loss : R.byol6Loss
            let gradients = size == 4 ? [R.byol4GradP1, R.byol4GradP2, R.byol4GradZ1, R.byol4GradZ2]
                : [R.byol6GradP1, R.byol6GradP2, R.byol6GradZ1, R.byol6GradZ2]
            check(BYOLLoss()(predictions: (p1, p2), targets: (z1, z2)), expected, inputs: [p1, p2, z1, z2], gradients: gradients)
        }
    }

    func testNegativeCosineSimilarityMatchesReference() {
        typealias R = SSLReference
        var x0 = tensor(R.negcos4X0), x1 = tensor(R.negcos4X1)
        check(NegativeCosineSimilarity()(x0, x1), R.negcos4Loss, inputs: [x0, x1], gradients: [R.negcos4GradX0, R.negcos4GradX1])
        x0 = tensor(R.negcos6X0); x1 = tensor(R.negcos6X1)
        check(NegativeCosineSimilarity()(x0, x1), R.negcos6Loss, inputs: [x0, x1], gradients: [R.negcos6GradX0, R.negcos6GradX1])
    }

    func testVICRegMatchesReferenceTermsValuesAndGradients() {
        typealias R = SSLReference
        let terms = VICRegLoss().terms(tensor(R.vicreg4Z1), tensor(R.vicreg4Z2))
        assertClose([terms.invariance.item(), terms.variance.item(), terms.covariance.item()],
                    [R.vicreg4Invariance, R.vicreg4Variance, R.vicreg4Covariance], rtol: 1e-4, atol: 1e-6)
        var z1 = tensor(R.vicreg4Z1), z2 = tensor(R.vicreg4Z2)
        check(VICRegLoss()(z1, z2), R.vicreg4Loss, inputs: [z1, z2], gradients: [R.vicreg4GradZ1, R.vicreg4GradZ2])
        z1 = tensor(R.vicreg6Z1); z2 = tensor(R.vicreg6Z2)
        check(VICRegLoss()(z1, z2), R.vicreg6Loss, inputs: [z1, z2], gradients: [R.vicreg6GradZ1, R.vicreg6GradZ2])
    }

    func testBarlowTwinsMatchesReference() {
        typealias R = SSLReference
        var z1 = tensor(R.barlow4Z1), z2 = tensor(R.barlow4Z2)
        check(BarlowTwinsLoss()(z1, z2), R.barlow4Loss, inputs: [z1, z2], gradients: [R.barlow4GradZ1, R.barlow4GradZ2])
        z1 = tensor(R.barlow6Z1); z2 = tensor(R.barlow6Z2)
        check(BarlowTwinsLoss()(z1, z2), R.barlow6Loss, inputs: [z1, z2], gradients: [R.barlow6GradZ1, R.barlow6GradZ2])
    }

    func testWeightedKNNAndRankMeAgreeWithNumpy() {
        typealias R = SSLReference
        let knn = WeightedKNN(k: 4, temperature: 0.07)
        let bank = Tensor(shape: R.knnBank.shape, scalars: R.knnBank.values)
        let queries = Tensor(shape: R.knnQueries.shape, scalars: R.knnQueries.values)
        let (scores, predictions) = knn.scores(queries: queries, bank: bank, bankLabels: R.knnBankLabels, classCount: 3)
        XCTAssertEqual(predictions, R.knnPredictions)
        assertClose(scores, R.knnScores.values, rtol: 2e-4, atol: 1e-3)
        let accuracy = Float(zip(predictions, R.knnQueryLabels).filter { $0 == $1 }.count) / Float(predictions.count)
        XCTAssertEqual(accuracy, R.knnAccuracy)

        let embeddings = Tensor(shape: R.rankmeEmbeddings.shape, scalars: R.rankmeEmbeddings.values)
        assertClose(singularValues(embeddings).map { Float($0) }, R.rankmeSingularValues, rtol: 1e-4, atol: 1e-5)
        assertClose([effectiveRank(embeddings)], [R.rankmeValue], rtol: 1e-4)
        let lowRank = Tensor(shape: R.rankmeLowRankEmbeddings.shape, scalars: R.rankmeLowRankEmbeddings.values)
        assertClose([effectiveRank(lowRank)], [R.rankmeLowRankValue], rtol: 2e-3)
    }
}

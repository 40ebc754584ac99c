import SSLData
import SSLTensor
import Testing

/// foldViews stops with a message naming the samples whose view counts differ.
@Suite struct FoldViewsErrorTests {
    @Test func foldViewsWithDifferingViewCountsNamesTheSamples() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = foldViews(Tensor.zeros([3, 2]), sampleIndex: IntTensor([4, 4, 7]))
        }
        let text = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(text.contains("foldViews: sample 4 has 2 views but sample 7 has 1; every sample needs the same number of views"))
    }
}

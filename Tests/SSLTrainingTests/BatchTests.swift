import SSLTensor
import SSLTraining
import Testing

/// Batch access, and the message a missing key stops with (in a child process).
@Suite struct BatchTests {
    @Test func valuesAreReadAndWrittenByKey() {
        var batch = Batch()
        batch["image"] = Tensor.ones([2, 3])
        batch[integers: "label"] = IntTensor([4, 7])
        #expect(batch.keys == ["image", "label"])
        #expect(batch["image"].shape == [2, 3])
        #expect(batch[integers: "label"].scalars == [4, 7])
        #expect(batch["label"].scalars == [4, 7], "integers read as floats too")
        #expect(batch.tensorIfPresent("views") == nil)
        #expect(batch.contains("image"))
    }

    @Test func missingKeyStopsWithTheKeysPresent() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            var batch = Batch()
            batch["views"] = Tensor.zeros([1])
            batch[integers: "label"] = IntTensor([1])
            batch[integers: "sample_idx"] = IntTensor([0])
            _ = batch["image"]
        }
        let text = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(text.contains("Batch has no key \"image\"; keys present: label, sample_idx, views"))
    }
}

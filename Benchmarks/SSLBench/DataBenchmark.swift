// `ssl-bench data`: views per second through the real DataLoader (augmentation, collation and
// the worker threads), on the built-in dataset.
import SSLData
import SSLTensor
import SSLTraining

/// The SimCLR augmentation for images of `size` × `size` (colour jitter and grayscale apply to
/// RGB; on one channel jitter reduces to brightness and contrast).
func simclrPipeline(size: Int, color: Bool) -> any ImageTransform {
    var steps: [any ImageTransform] = [
        RandomResizedCrop(size: size, scale: 0.08...1),
        RandomHorizontalFlip(),
        RandomApply([ColorJitter(brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.1)], p: 0.8),
    ]
    if color { steps.append(RandomGrayscale(p: 0.2)) }
    steps.append(GaussianBlur(kernelSize: 3, sigma: 0.1...2.0, p: 0.5))
    return Compose(steps)
}

/// Prints `data <pipeline> <views/s>`: two views per image, batch 256, 2 workers, the best of
/// several passes of 100 batches.
func benchmarkData() {
    let cases: [(name: String, variant: BuiltinShapes.Variant)] = [
        ("simclr-28x28", .grayscale28), ("simclr-32x32x3", .color32),
    ]
    let clock = ContinuousClock()
    for (name, variant) in cases {
        let dataset = BuiltinShapes.load(split: .train, variant: variant)
        let pipeline = simclrPipeline(size: variant.size, color: variant.channels == 3)
        let loader = DataLoader(dataset, batchSize: 256, views: MultiViewTransform([pipeline, pipeline]),
                                shuffle: true, dropLast: true, seed: 0, workers: 2)
        let batchesPerPass = 100
        var best = 0.0
        var epoch = 0
        var checksum: Float = 0
        for pass in 0..<4 {
            var views = 0
            let elapsed = clock.measure {
                var remaining = batchesPerPass
                while remaining > 0 {
                    for batch in loader.batches(epoch: epoch, startingAt: 0) {
                        let images = batch["image"]
                        views += images.shape[0]
                        checksum += images.withContiguousBuffer { $0[0] }
                        remaining -= 1
                        if remaining == 0 { break }
                    }
                    epoch += 1
                }
            }
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
            if pass > 0 { best = max(best, Double(views) / seconds) }  // the first pass warms up
        }
        if checksum.isNaN { print("data: NaN in the output") }
        print("data \(name) \(Int(best.rounded()))")
    }
}

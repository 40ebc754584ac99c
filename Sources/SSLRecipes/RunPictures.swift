import Foundation
import SSLData
import SSLMethods
import SSLTensor
import SSLTraining

/// Keeps the augmented views of the first training batch of a fit (the first `pairCount`
/// images, every view), so the report can show what the model is asked to match: the most
/// common thing people debug in self-supervised training.
///
/// ```swift
/// let views = FirstBatchViews()
/// let trainer = Trainer(maxEpochs: 10, callbacks: [views])
/// // after fit: RunPictures.viewPairs(views, mean: [0.286], std: [0.353])
/// ```
public final class FirstBatchViews: Callback {
    public let pairCount: Int
    /// One `[views, C, H, W]` tensor per kept image, in batch order.
    public private(set) var views: [Tensor] = []

    public init(pairCount: Int = 8) {
        self.pairCount = pairCount
    }

    public func onTrainBatchStart(_ trainer: Trainer, _ module: TrainableModule, batch: Batch, batchIndex: Int) {
        guard views.isEmpty, let images = batch.tensorIfPresent("image"), images.rank == 4 else { return }
        let folded = foldViews(images, sampleIndex: batch[integers: "sample_idx"])
        let count = Swift.min(pairCount, folded.first?.shape[0] ?? 0)
        views = (0..<count).map { image in
            Tensor.stack(folded.map { $0.slice(axis: 0, image..<(image + 1)).reshape(Array($0.shape.dropFirst())) }, axis: 0)
        }
    }
}

/// The report's picture sections: augmented view pairs and nearest-neighbour rows, as HTML
/// with embedded PNG thumbnails.
public enum RunPictures {
    /// A grid: one row per kept image, its views side by side (un-normalised with `mean`/`std`).
    public static func viewPairs(_ capture: FirstBatchViews, mean: [Float], std: [Float]) -> String {
        guard !capture.views.isEmpty else { return "<p>No training batch was seen.</p>" }
        var html = "<p>The first training batch: each row is one image's augmented views, which the model is trained to embed alike.</p>"
        html += "<div style=\"display:flex;flex-wrap:wrap;gap:14px\">"
        for views in capture.views {
            html += "<div style=\"display:flex;gap:3px;padding:4px;border:1px solid #ddd\">"
            for view in 0..<views.shape[0] {
                let image = views.slice(axis: 0, view..<(view + 1)).reshape(Array(views.shape.dropFirst()))
                html += thumbnail(bytes(ofNormalised: image, mean: mean, std: std), channels: image.shape[0],
                                  height: image.shape[1], width: image.shape[2])
            }
            html += "</div>"
        }
        return html + "</div>"
    }

    /// For `queryCount` test images (evenly spread), the `k` most similar training images by
    /// cosine of the embeddings, with the similarity and the class name.
    public static func neighbourRows(train: OfflineEvaluation.Features, test: OfflineEvaluation.Features,
                                     trainImages: any ImageDataset, testImages: any ImageDataset,
                                     classNames: [String], queryCount: Int = 6, k: Int = 6) -> String {
        let queries = Swift.min(queryCount, test.labels.count)
        guard queries > 0, train.labels.count > 0 else { return "<p>No images to compare.</p>" }
        let rows = (0..<queries).map { test.labels.count * $0 / queries }
        let picked = Tensor.stack(rows.map { test.features.slice(axis: 0, $0..<($0 + 1)).reshape([test.features.shape[1]]) }, axis: 0)
        let similarities = noGrad {
            picked.l2Normalize(axis: 1).matmul(train.features.l2Normalize(axis: 1), transposeOther: true)
        }.scalars
        let bank = train.labels.count
        func name(_ label: Int) -> String { label >= 0 && label < classNames.count ? classNames[label] : String(label) }
        var html = "<p>Test images (first column) and their nearest training images by cosine similarity of the embeddings.</p>"
        for (row, query) in rows.enumerated() {
            let scores = similarities[(row * bank)..<((row + 1) * bank)]
            let best = scores.indices.sorted { scores[$0] != scores[$1] ? scores[$0] > scores[$1] : $0 < $1 }.prefix(k)
            html += "<div style=\"display:flex;gap:8px;margin:6px 0\">"
            html += figure(thumbnail(testImages, query), caption: "test: " + name(test.labels[query]), framed: true)
            for index in best {
                let neighbour = index - row * bank
                html += figure(thumbnail(trainImages, neighbour),
                               caption: String(format: "%.3f ", scores[index]) + name(train.labels[neighbour]), framed: false)
            }
            html += "</div>"
        }
        return html
    }

    // MARK: Thumbnails

    private static func figure(_ image: String, caption: String, framed: Bool) -> String {
        "<figure style=\"margin:0;text-align:center;font-size:11px;width:76px;\(framed ? "border-right:2px solid #444;padding-right:6px" : "")\">"
            + image + "<figcaption>\(caption.replacingOccurrences(of: "<", with: "&lt;"))</figcaption></figure>"
    }

    /// Image `index` of a dataset (a grey square when a streamed file cannot be read).
    private static func thumbnail(_ dataset: any ImageDataset, _ index: Int) -> String {
        thumbnail((try? dataset.imageBytes(at: index)) ?? [], channels: dataset.channels, height: dataset.height, width: dataset.width)
    }

    /// An `<img>` of CHW bytes, scaled up without smoothing.
    static func thumbnail(_ chw: [UInt8], channels: Int, height: Int, width: Int) -> String {
        guard let uri = GalleryThumbnails.pngDataURI(chw: chw, channels: channels, height: height, width: width) else {
            return "<span style=\"display:inline-block;width:64px;height:64px;background:#ddd\"></span>"
        }
        return "<img style=\"width:64px;height:64px;image-rendering:pixelated\" alt=\"\" src=\"\(uri)\">"
    }

    /// A normalised `[C, H, W]` view back to bytes: x·std + mean, clamped to [0, 1], × 255.
    static func bytes(ofNormalised image: Tensor, mean: [Float], std: [Float]) -> [UInt8] {
        let channels = image.shape[0], plane = image.count / Swift.max(channels, 1)
        let values = image.contiguous().scalars
        return values.indices.map { index in
            let channel = index / plane
            let value = values[index] * std[channel % std.count] + mean[channel % mean.count]
            return UInt8((Swift.min(Swift.max(value, 0), 1) * 255).rounded())
        }
    }
}

import Foundation
import SSLData

/// PNG thumbnails of a dataset's images as `data:` URIs for `EmbeddingGallery`, encoded by
/// libpng (through `ImageEncoder`) on first use and kept. A streamed folder's images are
/// decoded again for their thumbnails.
///
/// ```swift
/// let thumbnails = GalleryThumbnails(dataset: folder.images)
/// let page = EmbeddingGallery(facts: facts, title: "photos") { thumbnails.dataURI(of: $0) }
/// ```
public final class GalleryThumbnails {
    public let dataset: any ImageDataset
    private var cache: [Int: String] = [:]

    public init(dataset: any ImageDataset) {
        self.dataset = dataset
    }

    /// Image `index` as `data:image/png;base64,…`, or nil if it cannot be read or encoded.
    public func dataURI(of index: Int) -> String? {
        if let cached = cache[index] { return cached }
        guard let bytes = try? dataset.imageBytes(at: index),
              let uri = Self.pngDataURI(chw: bytes, channels: dataset.channels, height: dataset.height, width: dataset.width)
        else { return nil }
        cache[index] = uri
        return uri
    }

    /// CHW bytes (1 or 3 channels) as `data:image/png;base64,…`, encoded by libpng.
    static func pngDataURI(chw: [UInt8], channels: Int, height: Int, width: Int) -> String? {
        let plane = height * width
        guard chw.count == channels * plane else { return nil }
        var interleaved = [UInt8](repeating: 0, count: chw.count)
        for pixel in 0..<plane {
            for channel in 0..<channels { interleaved[pixel * channels + channel] = chw[channel * plane + pixel] }
        }
        guard let png = try? ImageEncoder.png(rows: interleaved, width: width, height: height, color: channels == 1 ? .grey : .rgb)
        else { return nil }
        return "data:image/png;base64," + Data(png).base64EncodedString()
    }
}

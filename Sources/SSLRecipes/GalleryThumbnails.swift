import Foundation
import SSLData

/// PNG thumbnails of a dataset's images as `data:` URIs for `EmbeddingGallery`, encoded by
/// libpng (through `ImageEncoder`) on first use and kept.
///
/// ```swift
/// let thumbnails = GalleryThumbnails(dataset: folder.dataset)
/// let page = EmbeddingGallery(facts: facts, title: "photos") { thumbnails.dataURI(of: $0) }
/// ```
public final class GalleryThumbnails {
    public let dataset: InMemoryImageDataset
    private var cache: [Int: String] = [:]

    public init(dataset: InMemoryImageDataset) {
        self.dataset = dataset
    }

    /// Image `index` as `data:image/png;base64,…`, or nil if it cannot be encoded.
    public func dataURI(of index: Int) -> String? {
        if let cached = cache[index] { return cached }
        let (channels, height, width) = (dataset.channels, dataset.height, dataset.width)
        let plane = height * width, start = index * dataset.imageSize
        var interleaved = [UInt8](repeating: 0, count: dataset.imageSize)
        for pixel in 0..<plane {
            for channel in 0..<channels {
                interleaved[pixel * channels + channel] = dataset.pixels[start + channel * plane + pixel]
            }
        }
        guard let png = try? ImageEncoder.png(rows: interleaved, width: width, height: height,
                                              color: channels == 1 ? .grey : .rgb) else { return nil }
        let uri = "data:image/png;base64," + Data(png).base64EncodedString()
        cache[index] = uri
        return uri
    }
}

// MARK: - The padded images Winograd's tile windows read

/// The images one call's tile windows read, padded one image at a time into a ring of a few
/// slots per worker, as the direct products pad theirs: the batch is never stored padded, and
/// a padded image is read back from cache instead of from memory.
///
/// A worker runs through its blocks of tiles in order, so a block needs at most `slots`
/// consecutive images; image n lives in slot n mod `slots` of that worker, padded (zeros
/// before every row and plane, and after them up to the tiles' layout, `PaddedImages.writePlane`)
/// when a block first needs it. Every slot has room after the image, zeroed once, for the
/// windows that read up to two rows past it (`WinogradTiles.fill`). Without padding or
/// extension (`readsInput`) the windows read `input` itself, and the last image from one copy
/// with that room after it.
///
/// Each worker writes only its own slots and their `heldImages` entries.
struct TileImages: @unchecked Sendable {
    let input: UnsafePointer<Float>
    let batch: Int
    let geometry: ConvolutionGeometry
    let tiles: WinogradTiles
    /// No padding and no extension: the windows read the input in place.
    let readsInput: Bool
    /// Images in one worker's ring.
    let slots: Int
    /// Floats from one slot to the next: a padded image and its room, staggered
    /// (`BlockLayout.staggered`) so the slots do not share L1 sets.
    let slotStride: Int
    private let buffer: UnsafeMutablePointer<Float>
    private let capacity: Int
    /// The image each slot of each worker holds (-1: none yet).
    private let heldImages: UnsafeMutablePointer<Int>

    /// Calls `body` with the images of `input` (`[N, C, H, W]`, unpadded) readable by `workers`
    /// workers whose blocks hold at most `blockTiles` tiles, the buffers taken from (and given
    /// back to) `context`'s pool.
    static func with(
        _ input: UnsafePointer<Float>, batch: Int, geometry: ConvolutionGeometry, tiles: WinogradTiles,
        blockTiles: Int, workers: Int, context: ComputeContext, _ body: (TileImages) -> Void
    ) {
        let images = TileImages(input: input, batch: batch, geometry: geometry, tiles: tiles, blockTiles: blockTiles,
                                workers: workers, pool: context.bufferPool)
        defer { images.release(to: context.bufferPool) }
        body(images)
    }

    private init(
        input: UnsafePointer<Float>, batch: Int, geometry: ConvolutionGeometry, tiles: WinogradTiles, blockTiles: Int,
        workers: Int, pool: BufferPool
    ) {
        self.input = input
        self.batch = batch
        self.geometry = geometry
        self.tiles = tiles
        readsInput = geometry.padding == 0 && tiles.paddedHeight == geometry.height
            && tiles.paddedWidth == geometry.width
        let imageSize = tiles.inputImageSize, room = 2 * tiles.paddedWidth + 16
        slots = readsInput
            ? 1 : PaddedImages.ringSlots(run: blockTiles, unitsPerImage: tiles.tilesPerImage, batch: batch)
        slotStride = BlockLayout.staggered(imageSize + room)
        let slotCount = readsInput ? 1 : workers * slots
        let allocation = pool.allocate(count: slotCount * slotStride)
        buffer = allocation.pointer
        capacity = allocation.capacity
        heldImages = .allocate(capacity: slotCount)
        heldImages.update(repeating: -1, count: slotCount)
        for slot in 0..<slotCount {
            (buffer + slot * slotStride + imageSize).update(repeating: 0, count: slotStride - imageSize)
        }
        if readsInput {
            buffer.update(from: input + (batch - 1) * imageSize, count: imageSize)
        }
    }

    private func release(to pool: BufferPool) {
        pool.release(buffer, capacity: capacity)
        heldImages.deallocate()
    }

    /// Pads, into `worker`'s ring, the images of tiles `first..<first + count` that it does not
    /// hold yet (at most `slots` of them).
    func prepare(first: Int, count: Int, worker: Int) {
        if readsInput || count == 0 { return }
        let firstImage = first / tiles.tilesPerImage, lastImage = (first + count - 1) / tiles.tilesPerImage
        precondition(lastImage - firstImage < slots,
                     "TileImages.prepare: tiles \(first)..<\(first + count) span more images than the \(slots) slots")
        let held = heldImages + worker * slots
        for image in firstImage...lastImage where held[image % slots] != image {
            pad(image, into: buffer + (worker * slots + image % slots) * slotStride)
            held[image % slots] = image
        }
    }

    /// Where image `image`'s padded planes start for `worker` (after `prepare` for its tiles).
    @inline(__always)
    func start(of image: Int, worker: Int) -> UnsafePointer<Float> {
        if readsInput {
            return image == batch - 1 ? UnsafePointer(buffer) : input + image * tiles.inputImageSize
        }
        return UnsafePointer(buffer + (worker * slots + image % slots) * slotStride)
    }

    private func pad(_ image: Int, into target: UnsafeMutablePointer<Float>) {
        let height = geometry.height, width = geometry.width, plane = tiles.inputPlane
        let planes = input + image * geometry.channels * height * width
        for channel in 0..<geometry.channels {
            PaddedImages.writePlane(from: planes + channel * height * width, height: height, width: width,
                                    padding: geometry.padding, rows: tiles.paddedHeight, columns: tiles.paddedWidth,
                                    into: target + channel * plane)
        }
    }
}

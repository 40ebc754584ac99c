// MARK: - Tiles and block buffers of the Winograd convolution

/// Where one worker's block buffers put the 16 slices α: V[α] (`16 × C × tiles`) and M[α]
/// (`16 × paddedRows × tiles`), each slice a *staggered* stride from the last. The transforms
/// touch all 16 slices in one pass; slices a multiple of 4 KiB apart would all fall into the
/// same L1 set (12 or 8 ways), so each stride is an odd number of cache lines modulo 4 KiB.
struct BlockLayout {
    let tiles: Int
    let transformedStride: Int
    let productStride: Int

    init(tiles: Int, channels: Int, paddedRows: Int) {
        self.tiles = tiles
        transformedStride = Self.staggered(channels * tiles)
        productStride = Self.staggered(paddedRows * tiles)
    }

    /// `floats` rounded up to whole 64-byte lines, and to an odd number of them.
    static func staggered(_ floats: Int) -> Int {
        let lines = (floats + 15) / 16
        return 16 * (lines % 2 == 0 ? lines + 1 : lines)
    }
}

/// The tiles of a batch: with `size` 2 (F(2×2, 3×3)), tile t = (n, ty, tx) covers outputs
/// (2ty…2ty+1, 2tx…2tx+1) of image n and reads the padded input's rows 2ty…2ty+3, columns
/// 2tx…2tx+3 (one past the bottom or right edge when the output size is odd; see `fill`); with
/// `size` 4 (F(4×4, 3×3)), outputs (4ty…4ty+3, 4tx…4tx+3) from rows and columns 4ty…4ty+5 and
/// 4tx…4tx+5 (see `fill`).
struct WinogradTiles: Sendable {
    let size: Int
    let tilesX: Int, tilesPerImage: Int, count: Int
    let paddedHeight: Int, paddedWidth: Int, inputImageSize: Int
    let outputHeight: Int, outputWidth: Int, outputImageSize: Int

    /// The tiles of `batch` images; `extended` pads the images further at the bottom and right
    /// (with zeros), to `windowHeight` × `windowWidth`, so that every window lies inside.
    init(geometry: ConvolutionGeometry, batch: Int, outChannels: Int, size: Int = 2, extended: Bool = false) {
        self.size = size
        outputHeight = geometry.outputHeight
        outputWidth = geometry.outputWidth
        tilesX = (outputWidth + size - 1) / size
        let tilesY = (outputHeight + size - 1) / size
        tilesPerImage = tilesX * tilesY
        paddedHeight = extended ? size * tilesY + 2 : geometry.height + 2 * geometry.padding
        paddedWidth = extended ? size * tilesX + 2 : geometry.width + 2 * geometry.padding
        count = batch * tilesPerImage
        inputImageSize = geometry.channels * paddedHeight * paddedWidth
        outputImageSize = outChannels * outputHeight * outputWidth
    }

    var inputPlane: Int { paddedHeight * paddedWidth }
    var outputPlane: Int { outputHeight * outputWidth }

    /// Fills `table` for tiles `first..<first + count`. A tile's input address is where its 4×4
    /// window starts in its image's padded planes, which start at `imageStart(image)` (with room
    /// after them: `TileImages`). Windows are never clipped: one that runs past the bottom or
    /// right edge of the padded image reads the next plane's or row's floats (or the room's
    /// zeros), on which only the outputs past the edge depend (the first row of Aᵀ ignores a
    /// window's last row and column), and those are never written. Empty slots read slot 0's
    /// window.
    ///
    /// With 4×4 tiles: 6×6 windows, read whole (they reach at most one row and column past the
    /// padded image — which feed only outputs that are never written — or the images are
    /// `extended`); extents are `rows·8 + columns` (1…4 each); `inputRuns` and `outputRuns`
    /// are not used.
    func fill(_ table: TileTable, first: Int, count: Int, imageStart: (Int) -> UnsafePointer<Float>) {
        if size == 4 {
            fillSlots(table, first: first, count: count, imageStart: imageStart, rowWeight: 8)
            return
        }
        fillSlots(table, first: first, count: count, imageStart: imageStart, rowWeight: 4)
        for group in 0..<(table.capacity / 4) {
            let slot = 4 * group
            var inputRun = slot + 4 <= count, outputRun = true
            for j in 1..<4 where table.inputAddresses[slot + j] != table.inputAddresses[slot + j - 1] + 8 { inputRun = false }
            for j in 0..<4 where table.outputExtents[slot + j] != TileTable.fullOutput { outputRun = false }
            table.inputRuns[group] = inputRun ? 1 : 0
            table.outputRuns[group] = inputRun && outputRun ? 1 : 0
        }
    }
}

extension WinogradTiles {
    /// Every slot's window address, output offset and extent (`rows·rowWeight + columns`; 0
    /// for an empty slot, whose window is slot 0's), for tiles of `size`.
    private func fillSlots(_ table: TileTable, first: Int, count: Int, imageStart start: (Int) -> UnsafePointer<Float>,
                           rowWeight: Int) {
        for slot in 0..<table.capacity {
            guard slot < count else {
                table.inputAddresses[slot] = table.inputAddresses[0]
                table.outputOffsets[slot] = 0
                table.outputExtents[slot] = 0
                continue
            }
            let t = first + slot
            let image = t / tilesPerImage, index = t - image * tilesPerImage
            let ty = index / tilesX, tx = index - ty * tilesX
            let imageStart = start(image)
            table.inputAddresses[slot] = Int(bitPattern: imageStart + size * (ty * paddedWidth + tx))
            table.outputOffsets[slot] = image * outputImageSize + size * (ty * outputWidth + tx)
            table.outputExtents[slot] = min(size, outputHeight - size * ty) * rowWeight + min(size, outputWidth - size * tx)
        }
    }
}

/// Per-block tile tables of one worker: for every slot, the address of its input window, the
/// offset of its outputs and their extent (`rows·4 + columns` inside the output, 1 or 2 each;
/// 0 for an empty slot); for every group of four slots, whether they are four consecutive tiles
/// of one tile row (`inputRuns`), and whether their outputs are also all whole (`outputRuns`).
struct TileTable {
    static let fullOutput = 2 * 4 + 2
    let inputAddresses: UnsafeMutablePointer<Int>
    let outputOffsets: UnsafeMutablePointer<Int>
    let outputExtents: UnsafeMutablePointer<Int>
    let inputRuns: UnsafeMutablePointer<Int>
    let outputRuns: UnsafeMutablePointer<Int>
    let capacity: Int

    /// The Ints a table of `capacity` slots (a multiple of 4) takes.
    static func count(capacity: Int) -> Int { 3 * capacity + capacity / 2 }

    init(base: UnsafeMutablePointer<Int>, capacity: Int) {
        inputAddresses = base
        outputOffsets = base + capacity
        outputExtents = base + 2 * capacity
        inputRuns = base + 3 * capacity
        outputRuns = base + 3 * capacity + capacity / 4
        self.capacity = capacity
    }
}

/// A batch of images with the convolution's zero padding written out: its layout, and the offset
/// tables the batched convolution packs through.
///
/// Stride-1 (and unpadded) images are stored as they are padded, `[N, C, Hp, Wp]` with
/// Hp = H + 2p, Wp = W + 2p. Padded images of a strided convolution (s > 1) are split into their
/// s² phases, `[N, C, s, s, Hs, Ws]` with Hs = ⌈Hp/s⌉, Ws = ⌈Wp/s⌉: padded pixel (y, x) lives in
/// phase (y mod s, x mod s) at (y / s, x / s). Every kernel tap (ky, kx) then reads, for
/// consecutive outputs of a row, consecutive floats of one phase (output (oy, ox) reads phase
/// (ky mod s, kx mod s) at (oy + ky / s, ox + kx / s)), so a strided convolution packs and
/// scatters in runs, as a stride-1 one does, instead of float by float.
struct PaddedImages: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Float>
    let paddedHeight: Int, paddedWidth: Int
    /// Phases per axis: the stride when the images are split (padded and strided), else 1.
    let phases: Int
    /// Rows and floats per row of one phase: `⌈Hp/phases⌉` and `⌈Wp/phases⌉`.
    let phaseHeight: Int, phaseWidth: Int
    /// Floats per channel, `phases²·Hs·Ws` (`Hp·Wp` unsplit).
    let planeSize: Int
    /// Floats per padded image, `C·planeSize`.
    let imageSize: Int

    /// Phases per axis of the padded images of `geometry`: the stride when there is padding to
    /// write (the split rides along that copy), else 1 (an unpadded strided input is read in place).
    static func phases(_ geometry: ConvolutionGeometry) -> Int {
        geometry.padding > 0 && geometry.stride > 1 ? geometry.stride : 1
    }

    /// Phases per axis, and rows and floats per row of one phase, of the padded images of `geometry`.
    private static func phaseShape(_ geometry: ConvolutionGeometry) -> (phases: Int, height: Int, width: Int) {
        let s = phases(geometry)
        return (s, (geometry.height + 2 * geometry.padding + s - 1) / s, (geometry.width + 2 * geometry.padding + s - 1) / s)
    }

    /// Slots in a worker's ring of padded images that a run of `run` consecutive units (output
    /// positions, tiles), starting anywhere in a batch of `batch` images of `unitsPerImage` units,
    /// can need at once: ⌈run / unitsPerImage⌉ + 1 images, never more than the batch.
    static func ringSlots(run: Int, unitsPerImage: Int, batch: Int) -> Int {
        min(batch, (run + unitsPerImage - 1) / unitsPerImage + 1)
    }

    /// Floats of one padded image of `geometry`, in its layout.
    static func imageSize(_ geometry: ConvolutionGeometry) -> Int {
        let shape = phaseShape(geometry)
        return geometry.channels * shape.phases * shape.phases * shape.height * shape.width
    }

    /// The layout of images that are already padded (and split; see `writePadded`), or of the
    /// unpadded images when the padding is 0, at `images`.
    init(alreadyPadded images: UnsafePointer<Float>, geometry: ConvolutionGeometry) {
        let shape = PaddedImages.phaseShape(geometry)
        pointer = UnsafeMutablePointer(mutating: images)
        paddedHeight = geometry.height + 2 * geometry.padding
        paddedWidth = geometry.width + 2 * geometry.padding
        phases = shape.phases
        phaseHeight = shape.height
        phaseWidth = shape.width
        planeSize = phases * phases * phaseHeight * phaseWidth
        imageSize = geometry.channels * planeSize
    }

    /// Writes `images` (`[N, C, H, W]`) with `geometry.padding` zeros around every plane into
    /// `target`, in the layout of `PaddedImages` (`imageSize(geometry)` floats per image).
    static func writePadded(
        _ images: UnsafePointer<Float>, batch: Int, geometry: ConvolutionGeometry,
        into target: UnsafeMutablePointer<Float>, context: ComputeContext
    ) {
        let layout = PaddedImages(alreadyPadded: target, geometry: geometry)
        let planeInputs = geometry.height * geometry.width
        let source = SendablePointer(images), destination = SendablePointer(target)
        ParallelLoop.forEachChunk(count: batch * geometry.channels, minimumChunk: 16, threads: context.threadCount) { range in
            let paddedRow = layout.makeRowBuffer()
            defer { paddedRow.deallocate() }
            layout.writePlanes(from: source.base + range.lowerBound * planeInputs, count: range.count,
                               into: destination.base + range.lowerBound * layout.planeSize, geometry: geometry,
                               paddedRow: paddedRow)
        }
    }

    /// A zeroed row buffer for `writePlanes` (the caller deallocates it).
    func makeRowBuffer() -> UnsafeMutablePointer<Float> {
        let count = phases * phaseWidth + 8
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: count)
        buffer.initialize(repeating: 0, count: count)
        return buffer
    }

    /// Writes `count` consecutive `H × W` planes of `source`, padded (and split when strided),
    /// to consecutive planes of this layout at `target`. `paddedRow` is a buffer from
    /// `makeRowBuffer`: each input row of a split plane is copied into it (zeros around it stay)
    /// and dealt out to the phases from there.
    func writePlanes(
        from source: UnsafePointer<Float>, count: Int, into target: UnsafeMutablePointer<Float>,
        geometry: ConvolutionGeometry, paddedRow: UnsafeMutablePointer<Float>
    ) {
        let p = geometry.padding, height = geometry.height, width = geometry.width
        let s = phases, phaseWidth = phaseWidth, phaseSize = phaseHeight * phaseWidth
        for plane in 0..<count {
            let from = source + plane * height * width, to = target + plane * planeSize
            if s == 1 {
                PaddedImages.writePlane(from: from, height: height, width: width, padding: p, rows: phaseHeight,
                                        columns: phaseWidth, into: to)
                continue
            }
            for y in 0..<(s * phaseHeight) {
                let iy = y - p
                let lines = to + (y % s) * s * phaseSize + (y / s) * phaseWidth
                guard iy >= 0 && iy < height else {
                    for b in 0..<s { (lines + b * phaseSize).update(repeating: 0, count: phaseWidth) }
                    continue
                }
                copyFloats(from: from + iy * width, to: paddedRow + p, count: width)
                if s == 2 {
                    PaddedImages.deinterleave(UnsafePointer(paddedRow), count: phaseWidth, into: lines, lines + phaseSize)
                    continue
                }
                for b in 0..<s {
                    let line = lines + b * phaseSize
                    for v in 0..<phaseWidth { line[v] = paddedRow[s * v + b] }
                }
            }
        }
    }

    /// Writes one `height × width` plane into a `rows × columns` plane at `target`: `padding`
    /// zero rows and columns before it, zeros after it up to `rows` and `columns`.
    static func writePlane(
        from source: UnsafePointer<Float>, height: Int, width: Int, padding p: Int, rows: Int, columns: Int,
        into target: UnsafeMutablePointer<Float>
    ) {
        target.update(repeating: 0, count: p * columns)
        for y in 0..<height {
            let line = target + (y + p) * columns
            line.update(repeating: 0, count: p)
            copyFloats(from: source + y * width, to: line + p, count: width)
            (line + p + width).update(repeating: 0, count: columns - p - width)
        }
        (target + (p + height) * columns).update(repeating: 0, count: (rows - p - height) * columns)
    }

    /// `even[v] = source[2v]`, `odd[v] = source[2v + 1]` for `v < count` (`source` holds 2·count + 8 floats).
    @inline(__always)
    private static func deinterleave(
        _ source: UnsafePointer<Float>, count: Int, into even: UnsafeMutablePointer<Float>, _ odd: UnsafeMutablePointer<Float>
    ) {
        let row = UnsafeRawPointer(source), evens = UnsafeMutableRawPointer(even), odds = UnsafeMutableRawPointer(odd)
        var v = 0
        while v &+ 4 <= count {
            let eight = row.loadUnaligned(fromByteOffset: 2 &* v &* 4, as: SIMD8<Float>.self)
            evens.storeBytes(of: eight.evenHalf, toByteOffset: v &* 4, as: SIMD4<Float>.self)
            odds.storeBytes(of: eight.oddHalf, toByteOffset: v &* 4, as: SIMD4<Float>.self)
            v &+= 4
        }
        while v < count {
            even[v] = source[2 &* v]
            odd[v] = source[2 &* v &+ 1]
            v &+= 1
        }
    }

    /// Offsets of the depth rows k = (c, ky, kx) of the column matrix: where tap (ky, kx) of channel
    /// c reads for output (0, 0), `c·Hp·Wp + ky·Wp + kx` (split: `c·planeSize` + the offset of
    /// phase (ky mod s, kx mod s) + `(ky / s)·Ws + kx / s`); entries from `columnRows` up to
    /// `count` are 0. The caller deallocates the table.
    func depthRowOffsets(_ geometry: ConvolutionGeometry, count: Int? = nil) -> UnsafeMutablePointer<Int> {
        let rows = geometry.columnRows
        let tableCount = max(rows, count ?? rows)
        let table = UnsafeMutablePointer<Int>.allocate(capacity: max(1, tableCount))
        let s = phases, phaseSize = phaseHeight * phaseWidth
        var k = 0
        for c in 0..<geometry.channels {
            for ky in 0..<geometry.kernelHeight {
                for kx in 0..<geometry.kernelWidth {
                    let phase = (ky % s) * s + kx % s
                    table[k] = c * planeSize + phase * phaseSize + (ky / s) * phaseWidth + kx / s
                    k += 1
                }
            }
        }
        for index in rows..<tableCount { table[index] = 0 }
        return table
    }

    /// Offsets of output positions `firstPosition..<firstPosition+count` of the batch (running
    /// across images): `n·imageSize + oy·Ws + ox` when split, else `n·imageSize + oy·s·Wp + ox·s`;
    /// with `slots`, image n is at `(n mod slots)·imageSize` instead (a ring of padded images).
    /// Entries from `count` up to `width` repeat the first one (a valid address whose results
    /// are discarded).
    func fillColumnOffsets(
        _ table: UnsafeMutablePointer<Int>, firstPosition: Int, count: Int, width: Int, geometry: ConvolutionGeometry,
        slots: Int = .max
    ) {
        let outputWidth = geometry.outputWidth, positions = geometry.columnCount
        let step = geometry.stride / phases
        var image = firstPosition / positions
        let position = firstPosition % positions
        var oy = position / outputWidth, ox = position % outputWidth
        let imageSize = imageSize, rowStep = step * phaseWidth
        var imageBase = (image % slots) * imageSize
        for j in 0..<count {
            table[j] = imageBase + oy * rowStep + ox * step
            ox += 1
            if ox == outputWidth {
                ox = 0
                oy += 1
                if oy == geometry.outputHeight {
                    oy = 0
                    image += 1
                    imageBase = (image % slots) * imageSize
                }
            }
        }
        for j in count..<max(count, width) { table[j] = table[0] }
    }

    /// Positions of a phase's width from the first output to the last, `(OH − 1)·Ws + OW`, for
    /// images read one float per output (stride 1, or split by the stride): output (oy, ox) is
    /// position oy·Ws + ox.
    static func paddedWidthSpan(_ geometry: ConvolutionGeometry) -> Int {
        let shape = phaseShape(geometry)
        precondition(geometry.stride == shape.phases,
                     "paddedWidthSpan: stride \(geometry.stride) with \(shape.phases) phases")
        return (geometry.outputHeight - 1) * shape.width + geometry.outputWidth
    }

    /// Copies the unpadded interior of one padded image (`imageSize` floats at `image`, in this
    /// layout) to `destination` (`[C, H, W]`).
    func copyImageInterior(from image: UnsafePointer<Float>, into destination: UnsafeMutablePointer<Float>,
                           geometry: ConvolutionGeometry) {
        let p = geometry.padding, height = geometry.height, width = geometry.width
        let s = phases, phaseSize = phaseHeight * phaseWidth
        for channel in 0..<geometry.channels {
            let plane = image + channel * planeSize
            let to = destination + channel * height * width
            if s == 1 {
                let from = plane + p * phaseWidth + p
                for y in 0..<height { copyFloats(from: from + y * phaseWidth, to: to + y * width, count: width) }
                continue
            }
            for iy in 0..<height {
                let y = iy + p, line = to + iy * width
                let row = plane + (y % s) * s * phaseSize + (y / s) * phaseWidth
                if s == 2 {
                    // Even columns 2t from phase (y mod 2, p mod 2) at t + p/2, odd ones from the other phase.
                    PaddedImages.interleave(row + (p % 2) * phaseSize + p / 2,
                                            row + ((p + 1) % 2) * phaseSize + (p + 1) / 2, count: width, into: line)
                    continue
                }
                for ix in 0..<width {
                    let x = ix + p
                    line[ix] = row[(x % s) * phaseSize + x / s]
                }
            }
        }
    }

    /// `target[2t] = even[t]`, `target[2t + 1] = odd[t]` for the `count` floats of `target`.
    @inline(__always)
    private static func interleave(
        _ even: UnsafePointer<Float>, _ odd: UnsafePointer<Float>, count: Int, into target: UnsafeMutablePointer<Float>
    ) {
        let evens = UnsafeRawPointer(even), odds = UnsafeRawPointer(odd), to = UnsafeMutableRawPointer(target)
        var t = 0
        while 2 &* t &+ 8 <= count {
            var eight = SIMD8<Float>()
            eight.evenHalf = evens.loadUnaligned(fromByteOffset: t &* 4, as: SIMD4<Float>.self)
            eight.oddHalf = odds.loadUnaligned(fromByteOffset: t &* 4, as: SIMD4<Float>.self)
            to.storeBytes(of: eight, toByteOffset: 2 &* t &* 4, as: SIMD8<Float>.self)
            t &+= 4
        }
        var index = 2 &* t
        while index < count {
            target[index] = index & 1 == 0 ? even[index >> 1] : odd[index >> 1]
            index &+= 1
        }
    }
}

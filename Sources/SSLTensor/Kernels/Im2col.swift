/// The geometry of a 2-D convolution or pooling window over one image.
public struct ConvolutionGeometry: Sendable {
    let channels: Int, height: Int, width: Int
    let kernelHeight: Int, kernelWidth: Int
    let stride: Int, padding: Int
    var outputHeight: Int { (height + 2 * padding - kernelHeight) / stride + 1 }
    var outputWidth: Int { (width + 2 * padding - kernelWidth) / stride + 1 }
    /// Rows of the column matrix: channels × kernel positions.
    var columnRows: Int { channels * kernelHeight * kernelWidth }
    /// Columns of the column matrix: output positions.
    var columnCount: Int { outputHeight * outputWidth }
    /// True when the column matrix is the image itself (1×1, stride 1, no padding).
    var isPointwise: Bool { kernelHeight == 1 && kernelWidth == 1 && stride == 1 && padding == 0 }

    /// Range of output positions o (along one axis) whose input index o·stride − padding + k is
    /// inside [0, size).
    @inline(__always)
    func validOutputRange(kernelOffset: Int, size: Int, outputSize: Int) -> Range<Int> {
        // o·s − p + k ≥ 0  ⇔ o ≥ ceil((p − k) / s)
        let shift = padding - kernelOffset
        let first = shift <= 0 ? 0 : (shift + stride - 1) / stride
        // o·s − p + k ≤ size − 1 ⇔ o ≤ floor((size − 1 + p − k) / s)
        let limit = size - 1 + shift
        let last = limit < 0 ? -1 : limit / stride
        return Swift.min(first, outputSize)..<Swift.max(Swift.min(last + 1, outputSize), Swift.min(first, outputSize))
    }

    /// Calls `body` with the position (`iy·width + ix`) of every input pixel inside the window of
    /// output (`outputRow`, `outputColumn`), skipping the padding, in row-major window order.
    @inline(__always)
    func forEachWindowPosition(outputRow: Int, outputColumn: Int, _ body: (Int) -> Void) {
        for ky in 0..<kernelHeight {
            let iy = outputRow * stride - padding + ky
            if iy < 0 || iy >= height { continue }
            for kx in 0..<kernelWidth {
                let ix = outputColumn * stride - padding + kx
                if ix < 0 || ix >= width { continue }
                body(iy * width + ix)
            }
        }
    }

    /// Writes one NR-wide sliver of the column matrix (rows `depthStart..<depthStart+depth`,
    /// output positions `columnStart..<columnStart+columns`) in GEMM's packed-B layout: `depth`
    /// groups of `sliverWidth` floats, zero-padded past the last column. This is im2col and
    /// B-packing in one pass, reading the image directly.
    func packColumns(_ image: UnsafePointer<Float>, depthStart: Int, depth: Int, columnStart: Int, columns: Int,
                     sliverWidth nr: Int, into sliver: UnsafeMutablePointer<Float>) {
        let ow = outputWidth, kernelArea = kernelHeight * kernelWidth
        let firstRow = columnStart / ow, firstColumn = columnStart % ow
        for p in 0..<depth {
            let row = depthStart + p
            let channel = row / kernelArea, offset = row % kernelArea
            let ky = offset / kernelWidth, kx = offset % kernelWidth
            let plane = image + channel * height * width
            let destination = sliver + p * nr
            var written = 0, oy = firstRow, ox = firstColumn
            while written < columns {
                let run = Swift.min(columns - written, ow - ox)
                let target = destination + written
                let iy = oy * stride - padding + ky
                if iy < 0 || iy >= height {
                    target.update(repeating: 0, count: run)
                } else {
                    let line = plane + iy * width
                    if stride == 1 {
                        // Input columns ox − padding + kx … for this run; copy the part inside the image.
                        let start = ox - padding + kx
                        let lead = Swift.min(run, Swift.max(0, -start))
                        let end = Swift.min(run, Swift.max(lead, width - start))
                        if lead > 0 { target.update(repeating: 0, count: lead) }
                        if end > lead { (target + lead).update(from: line + start + lead, count: end - lead) }
                        if run > end { (target + end).update(repeating: 0, count: run - end) }
                    } else {
                        var t = 0
                        while t < run {
                            let ix = (ox + t) &* stride &- padding &+ kx
                            target[t] = ix >= 0 && ix < width ? line[ix] : 0
                            t &+= 1
                        }
                    }
                }
                written += run
                ox = 0
                oy += 1
            }
            if columns < nr { (destination + columns).update(repeating: 0, count: nr - columns) }
        }
    }

    /// Unfolds one image (`channels × height × width`) into the column matrix
    /// (`columnRows × columnCount`), with zeros where the window leaves the image.
    func im2col(_ image: UnsafePointer<Float>, into columns: UnsafeMutablePointer<Float>) {
        let oh = outputHeight, ow = outputWidth
        var row = 0
        for channel in 0..<channels {
            let plane = image + channel * height * width
            for kh in 0..<kernelHeight {
                let rows = validOutputRange(kernelOffset: kh, size: height, outputSize: oh)
                for kw in 0..<kernelWidth {
                    let cols = validOutputRange(kernelOffset: kw, size: width, outputSize: ow)
                    let destination = columns + row * oh * ow
                    if rows.lowerBound > 0 { destination.update(repeating: 0, count: rows.lowerBound * ow) }
                    if rows.upperBound < oh {
                        (destination + rows.upperBound * ow).update(repeating: 0, count: (oh - rows.upperBound) * ow)
                    }
                    for y in rows {
                        let line = destination + y * ow
                        let sourceRow = plane + (y * stride - padding + kh) * width
                        if cols.lowerBound > 0 { line.update(repeating: 0, count: cols.lowerBound) }
                        if cols.upperBound < ow {
                            (line + cols.upperBound).update(repeating: 0, count: ow - cols.upperBound)
                        }
                        if stride == 1 {
                            let start = cols.lowerBound - padding + kw
                            (line + cols.lowerBound).update(from: sourceRow + start, count: cols.count)
                        } else {
                            var x = cols.lowerBound
                            while x < cols.upperBound {
                                line[x] = sourceRow[x &* stride &- padding &+ kw]
                                x &+= 1
                            }
                        }
                    }
                    row += 1
                }
            }
        }
    }

    /// Folds a column matrix back onto an image, adding overlapping contributions (the
    /// adjoint of `im2col`). `image` must be zeroed first.
    func col2im(_ columns: UnsafePointer<Float>, into image: UnsafeMutablePointer<Float>) {
        let oh = outputHeight, ow = outputWidth
        var row = 0
        for channel in 0..<channels {
            let plane = image + channel * height * width
            for kh in 0..<kernelHeight {
                let rows = validOutputRange(kernelOffset: kh, size: height, outputSize: oh)
                for kw in 0..<kernelWidth {
                    let cols = validOutputRange(kernelOffset: kw, size: width, outputSize: ow)
                    let source = columns + row * oh * ow
                    for y in rows {
                        let line = source + y * ow
                        let destinationRow = plane + (y * stride - padding + kh) * width
                        var x = cols.lowerBound
                        while x < cols.upperBound {
                            destinationRow[x &* stride &- padding &+ kw] += line[x]
                            x &+= 1
                        }
                    }
                    row += 1
                }
            }
        }
    }
}

/// The resize of every image loaded from files: the shorter side to `size`, then the centre
/// `size × size` square, from interleaved bytes (HWC) to channel-major bytes (CHW).
///
/// Separable: each output column and row is a weighted sum of source columns and rows. When an
/// axis shrinks the weights are area coverage (each output pixel averages the source area it
/// covers, fractional pixels in proportion: OpenCV's `INTER_AREA`, Pillow's `BOX` at integer
/// factors); when it grows they are bilinear with pixel centres aligned (Pillow's and
/// torchvision's `BILINEAR`), edges clamped. Only the rows and columns inside the crop are
/// computed. Sizes follow torchvision: `Resize(size)` makes the longer side
/// `Int(size · long / short)` (rounded down), `CenterCrop` starts at
/// `round((resized − size) / 2)` with Python's round-half-to-even.
enum CenterCropResize {
    /// Reusable buffers of one thread.
    struct Scratch {
        var rows: [Float] = []
    }

    /// The weights of one axis: output `i` is `sum(weights[i·stride + t] · source[starts[i] + t])`
    /// for `t` in `0..<counts[i]`.
    struct Axis {
        var starts: [Int]
        var counts: [Int]
        var weights: [Float]
        var stride: Int

        /// The first and one past the last source index read.
        var sourceRange: Range<Int> {
            var low = Int.max, high = 0
            for i in starts.indices {
                low = Swift.min(low, starts[i])
                high = Swift.max(high, starts[i] + counts[i])
            }
            return low..<high
        }
    }

    /// The resized size of the longer side and the crop offsets, as torchvision computes them.
    static func geometry(width: Int, height: Int, size: Int) -> (width: Int, height: Int, left: Int, top: Int) {
        let resizedWidth: Int, resizedHeight: Int
        if width <= height {
            resizedWidth = size
            resizedHeight = Swift.max(size, size * height / width)
        } else {
            resizedHeight = size
            resizedWidth = Swift.max(size, size * width / height)
        }
        return (resizedWidth, resizedHeight, halfToEven(resizedWidth - size), halfToEven(resizedHeight - size))
    }

    /// `round(value / 2)` with ties to even (Python's `round`).
    static func halfToEven(_ value: Int) -> Int {
        let half = value / 2
        return value % 2 == 1 && half % 2 == 1 ? half + 1 : half
    }

    /// The weights mapping `sourceLength` pixels onto `resizedLength`, for outputs
    /// `first..<(first + count)` of the resized axis.
    static func axis(sourceLength: Int, resizedLength: Int, first: Int, count: Int) -> Axis {
        if sourceLength == resizedLength {
            return Axis(starts: Array(first..<(first + count)), counts: [Int](repeating: 1, count: count),
                        weights: [Float](repeating: 1, count: count), stride: 1)
        }
        let scale = Double(sourceLength) / Double(resizedLength)
        if sourceLength > resizedLength {
            // Area coverage: output i covers [i·scale, (i+1)·scale) of the source.
            let stride = Int(scale.rounded(.up)) + 1
            var axis = Axis(starts: [], counts: [], weights: [Float](repeating: 0, count: count * stride), stride: stride)
            for i in 0..<count {
                let low = Double(first + i) * scale, high = Double(first + i + 1) * scale
                let start = Int(low.rounded(.down))
                let end = Swift.min(sourceLength, Int(high.rounded(.up)))
                axis.starts.append(start)
                axis.counts.append(end - start)
                for source in start..<end {
                    let covered = Swift.min(high, Double(source + 1)) - Swift.max(low, Double(source))
                    axis.weights[i * stride + source - start] = Float(covered / scale)
                }
            }
            return axis
        }
        // Bilinear: output i samples the source at (i + 0.5)·scale − 0.5, clamped to the edges.
        var axis = Axis(starts: [], counts: [], weights: [Float](repeating: 0, count: count * 2), stride: 2)
        for i in 0..<count {
            let centre = (Double(first + i) + 0.5) * scale - 0.5
            let below = Int(centre.rounded(.down))
            let fraction = centre - Double(below)
            if below < 0 {
                axis.starts.append(0); axis.counts.append(1); axis.weights[i * 2] = 1
            } else if below >= sourceLength - 1 {
                axis.starts.append(sourceLength - 1); axis.counts.append(1); axis.weights[i * 2] = 1
            } else {
                axis.starts.append(below); axis.counts.append(2)
                axis.weights[i * 2] = Float(1 - fraction)
                axis.weights[i * 2 + 1] = Float(fraction)
            }
        }
        return axis
    }

    /// Resizes `source` (`height` rows of `width` pixels of `channels` interleaved bytes) into
    /// `output` (`channels × size × size` bytes, CHW).
    ///
    /// The vertical pass runs first, over whole source rows (contiguous bytes: it vectorises),
    /// leaving `size` rows of the needed columns as floats; the horizontal pass then reads
    /// each output pixel's few columns and rounds into the channel planes.
    static func resize(source: UnsafePointer<UInt8>, width: Int, height: Int, channels: Int, size: Int,
                       into output: UnsafeMutablePointer<UInt8>, scratch: inout Scratch) {
        let shape = geometry(width: width, height: height, size: size)
        let columns = axis(sourceLength: width, resizedLength: shape.width, first: shape.left, count: size)
        let rows = axis(sourceLength: height, resizedLength: shape.height, first: shape.top, count: size)
        let columnRange = columns.sourceRange
        let span = columnRange.count * channels            // floats per intermediate row
        let sourceStride = width * channels
        let sourceOffset = columnRange.lowerBound * channels
        if scratch.rows.count < size * span { scratch.rows = [Float](repeating: 0, count: size * span) }

        scratch.rows.withUnsafeMutableBufferPointer { rowBuffer in
            guard let intermediate = rowBuffer.baseAddress else { return }
            rows.starts.withUnsafeBufferPointer { rowStarts in
            rows.counts.withUnsafeBufferPointer { rowCounts in
            rows.weights.withUnsafeBufferPointer { rowWeights in
                // Vertical pass: intermediate row r = the weighted sum of its source rows.
                for outputRow in 0..<size {
                    let target = intermediate + outputRow * span
                    let weightBase = outputRow * rows.stride
                    let first = source + rowStarts[outputRow] * sourceStride + sourceOffset
                    let firstWeight = rowWeights[weightBase]
                    for k in 0..<span { target[k] = Float(first[k]) * firstWeight }
                    for tap in 1..<Swift.max(1, rowCounts[outputRow]) {
                        let line = first + tap * sourceStride
                        let weight = rowWeights[weightBase + tap]
                        for k in 0..<span { target[k] += Float(line[k]) * weight }
                    }
                }
            }}}
            columns.starts.withUnsafeBufferPointer { columnStarts in
            columns.counts.withUnsafeBufferPointer { columnCounts in
            columns.weights.withUnsafeBufferPointer { columnWeights in
                // Horizontal pass into the output planes.
                let plane = size * size
                for outputRow in 0..<size {
                    let line = intermediate + outputRow * span
                    let targetRow = output + outputRow * size
                    for column in 0..<size {
                        let start = (columnStarts[column] - columnRange.lowerBound) * channels
                        let taps = columnCounts[column], weightBase = column * columns.stride
                        if channels == 3 {
                            var red: Float = 0, green: Float = 0, blue: Float = 0
                            var pointer = line + start
                            for tap in 0..<taps {
                                let weight = columnWeights[weightBase + tap]
                                red += pointer[0] * weight
                                green += pointer[1] * weight
                                blue += pointer[2] * weight
                                pointer += 3
                            }
                            targetRow[column] = rounded(red)
                            targetRow[plane + column] = rounded(green)
                            targetRow[2 * plane + column] = rounded(blue)
                        } else {
                            for channel in 0..<channels {
                                var sum: Float = 0
                                var pointer = line + start + channel
                                for tap in 0..<taps {
                                    sum += pointer.pointee * columnWeights[weightBase + tap]
                                    pointer += channels
                                }
                                targetRow[channel * plane + column] = rounded(sum)
                            }
                        }
                    }
                }
            }}}
        }
    }

    /// A weighted sum rounded to the nearest byte, clamped to 0…255.
    @inline(__always)
    static func rounded(_ value: Float) -> UInt8 {
        let shifted = value + 0.5
        return shifted <= 0 ? 0 : (shifted >= 255 ? 255 : UInt8(shifted))
    }
}

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
}

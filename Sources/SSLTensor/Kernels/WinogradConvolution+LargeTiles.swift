// MARK: - Winograd F(4×4, 3×3)

/// F(4×4, 3×3): every 4×4 block of outputs from the 6×6 input patch under it, with 36 products
/// per tile and channel pair where the direct convolution takes 144 (4× fewer; F(2×2, 3×3):
/// 2.25×), and 36 transformed values per 16 outputs to write and read back (F(2×2, 3×3): 16 per
/// 4). The matrices (Lavin & Gray 2016, interpolation points 0, ±1, ±2):
///
///     Bᵀ = [4 0 −5 0 1 0; 0 −4 −4 1 1 0; 0 4 −4 −1 1 0; 0 −2 −1 2 1 0; 0 2 −1 −2 1 0; 0 4 0 −5 0 1]
///     G  = [¼ 0 0; −⅙ −⅙ −⅙; −⅙ ⅙ −⅙; 1⁄24 1⁄12 ⅙; 1⁄24 −1⁄12 ⅙; 0 0 1]
///     Aᵀ = [1 1 1 1 1 0; 0 1 −1 2 −2 0; 0 1 1 4 4 0; 0 1 −1 8 −8 1]
///
/// Their larger coefficients cost accuracy: `WinogradConvolutionTests` states the bound it checks.
/// `forward` and `weightGradient` run it with their F(2×2, 3×3) blocks and products, with 36
/// slices α = 6i + k (i the row of the transform, k the column) instead of 16.
extension WinogradConvolution {
    /// Whether 4×4 tiles' windows would reach two or more rows (or columns) past the padded
    /// images and feed outputs that are written (output sides 1 or 2 modulo 4): then the images
    /// are padded with zeros up to the windows' reach (`TileImages`).
    static func largeTilesNeedExtendedImages(_ geometry: ConvolutionGeometry) -> Bool {
        [1, 2].contains(geometry.outputHeight % 4) || [1, 2].contains(geometry.outputWidth % 4)
    }

    /// G applied to three values: the six rows (or columns) of G·(a, b, c)ᵀ.
    @inline(__always)
    static func applyLargeG(_ a: Float, _ b: Float, _ c: Float) -> (Float, Float, Float, Float, Float, Float) {
        let outer = a + c
        return (a * 0.25, -(outer + b) / 6, -(outer - b) / 6, a / 24 + b / 12 + c / 6, a / 24 - b / 12 + c / 6, c)
    }

    /// U[α][o][c] = (G g Gᵀ)[α] for every 3×3 kernel g = weight[o, c], in the packed layout
    /// `multiply` reads (`packTransformedWeights`, with 36 slices). The caller releases the buffer.
    static func transformAndPackWeightsLargeTiles(
        _ weight: UnsafePointer<Float>, outChannels m: Int, channels: Int, paddedRows: Int, panels: PanelSplit,
        sliverHeight mr: Int, context: ComputeContext
    ) -> (pointer: UnsafeMutablePointer<Float>, capacity: Int) {
        packTransformedWeights(weight, outChannels: m, channels: channels, paddedRows: paddedRows, panels: panels,
                               sliverHeight: mr, slices: 36, context: context) { g, target, alphaStride in
            // G·g column by column (six rows each), then each row of it times Gᵀ.
            let c0 = applyLargeG(g[0], g[3], g[6]), c1 = applyLargeG(g[1], g[4], g[7])
            let c2 = applyLargeG(g[2], g[5], g[8])
            for i in 0..<6 {
                @inline(__always) func value(_ t: (Float, Float, Float, Float, Float, Float)) -> Float {
                    switch i {
                    case 0: return t.0
                    case 1: return t.1
                    case 2: return t.2
                    case 3: return t.3
                    case 4: return t.4
                    default: return t.5
                    }
                }
                let u = applyLargeG(value(c0), value(c1), value(c2))
                let base = target + 6 * i * alphaStride
                base[0] = u.0
                base[alphaStride] = u.1
                base[2 * alphaStride] = u.2
                base[3 * alphaStride] = u.3
                base[4 * alphaStride] = u.4
                base[5 * alphaStride] = u.5
            }
        }
    }
}

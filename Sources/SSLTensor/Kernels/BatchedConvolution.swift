/// The three products of a 2-D convolution (output, input gradient, weight gradient), each run
/// as one GEMM over the whole batch.
///
/// The column matrix of the batch (`[C·KH·KW, N·OH·OW]`, im2col of every image side by side) is
/// never materialised: GEMM's packed B slivers are gathered straight from zero-padded images
/// (`PaddedImages`; split into phases when strided). With the padding written out, element
/// (k, g) of the column matrix — depth row k = (c, ky, kx), output position g = (n, oy, ox) —
/// lives at `rowOffset[k] + columnOffset[g]`; unsplit, `rowOffset[k] = c·Hp·Wp + ky·Wp + kx`
/// and `columnOffset[g] = n·C·Hp·Wp + oy·s·Wp + ox·s`. Packing a sliver is then a gather
/// through two small offset tables, with no bounds tests and no divisions. The forward pass in
/// place, the two gradients and Winograd pad one image at a time into cache; only the packed
/// forward path reads a padded copy of the batch.
///
/// Running the batch as one product (rather than one GEMM per image) lets slivers run across
/// image boundaries, so small feature maps (7×7 = 49 positions) waste no tile columns, and the
/// weights are packed once per call instead of once per image.
///
/// Forward products at least 64 deep over larger maps (28×28, 14×14; stride 1, or stride 2
/// over split phases) skip the gathering altogether: `forwardInPlace` computes the transposed
/// product, whose A slivers the micro-kernel reads straight from the padded images.
///
/// 3×3 stride-1 forward products with enough channels and tiles (`WinogradConvolution.pays`)
/// go to Winograd F(2×2, 3×3) instead (`WinogradConvolution`), and so do the input gradients
/// that run as such a convolution and, from 64 channels (128 with AVX-512), the weight gradients;
/// `ConvolutionAlgorithm.current` can pin either.
///
/// Each product has its own file (`BatchedConvolution+Forward.swift` with the in-place path,
/// `+WeightGradient`, `+InputGradient`); the sliver packers they share are in `+Packing`.
enum BatchedConvolution {
    /// Whether the forward product reads the images in place (`forwardInPlace`) rather than
    /// packing column slivers: stride 1 (or a stride the padded images are split by), a reduction
    /// at least 64 deep (below that, packing is cheap and the tile buffer's extra pass costs more
    /// than it saves), and the work spent on thrown-away tile entries (the phase width's extra
    /// positions, the last partial tile, output channels padded to NR) at most a quarter more than
    /// the output. 28×28 and 14×14 maps with padding 1 qualify, and stride 2 from 28×28; 7×7 maps
    /// (72 positions computed for 49) do not.
    static func readsImagesInPlace(_ geometry: ConvolutionGeometry, outChannels: Int, kernel: GEMMMicroKernel) -> Bool {
        guard geometry.stride == PaddedImages.phases(geometry), geometry.columnRows >= 64, outChannels > 0 else {
            return false
        }
        let mr = kernel.tileRows, nr = kernel.tileColumns
        let computed = roundUp(PaddedImages.paddedWidthSpan(geometry), to: mr) * roundUp(outChannels, to: nr)
        return computed * 4 <= geometry.columnCount * outChannels * 5
    }
}

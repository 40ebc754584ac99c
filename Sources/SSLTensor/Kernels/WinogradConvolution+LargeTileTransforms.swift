import CSSLKernels

// MARK: - Input and output transforms of F(4×4, 3×3)

extension WinogradConvolution {
    /// V[α][c][slot] = (Bᵀ d B)[α], α = 6i + k, for the 6×6 window d of every tile slot of the
    /// block and every channel c, in the B-sliver layout of `transformInput`: eight slots at a
    /// time by `ssl_winograd4_transform_input8` where `wide` (the CPU has AVX) and the eight lie
    /// in one sliver, else four by `ssl_winograd4_transform_input` (the same bits either way).
    /// Both read each window row as eight floats (two past the window, inside the image or the
    /// room after it).
    static func transformInputLargeTiles(
        tiles: WinogradTiles, table: TileTable, layout: BlockLayout, channels: Int, tileColumns nr: Int, wide: Bool,
        into transformed: UnsafeMutablePointer<Float>
    ) {
        withUnsafeTemporaryAllocation(of: UnsafePointer<Float>?.self, capacity: 8) { windows in
            var slot = 0
            while slot < layout.tiles {
                let group = wide && slot % nr + 8 <= nr && slot + 8 <= layout.tiles ? 8 : 4
                for j in 0..<group { windows[j] = UnsafePointer(bitPattern: table.inputAddresses[slot + j]) }
                let target = transformed + (slot / nr) * channels * nr + slot % nr
                if group == 8 {
                    ssl_winograd4_transform_input8(windows.baseAddress, channels, tiles.inputPlane, tiles.paddedWidth,
                                                   layout.transformedStride, nr, target)
                } else {
                    ssl_winograd4_transform_input(windows.baseAddress, channels, tiles.inputPlane, tiles.paddedWidth,
                                                  layout.transformedStride, nr, target)
                }
                slot &+= group
            }
        }
    }

    /// Y = Aᵀ M A for the first `usedTiles` slots of the block and every output channel (M as
    /// in `transformOutput`, 36 slices), written to the output images, clipped at the edges:
    /// eight slots at a time by `ssl_winograd4_transform_output8` where `wide` (the CPU has AVX),
    /// else four by `ssl_winograd4_transform_output` (the same bits either way).
    static func transformOutputLargeTiles(
        _ products: UnsafePointer<Float>, tiles: WinogradTiles, table: TileTable, layout: BlockLayout, usedTiles: Int,
        outChannels m: Int, wide: Bool, into output: UnsafeMutablePointer<Float>
    ) {
        withUnsafeTemporaryAllocation(of: UnsafeMutablePointer<Float>?.self, capacity: 8) { targets in
            for o in 0..<m {
                let destination = output + o * tiles.outputPlane
                var slot = 0
                while slot < usedTiles {
                    let group = wide && slot + 8 <= layout.tiles ? 8 : 4
                    for j in 0..<group { targets[j] = destination + table.outputOffsets[slot + j] }
                    if group == 8 {
                        ssl_winograd4_transform_output8(products + o * layout.tiles + slot, layout.productStride,
                                                        targets.baseAddress, table.outputExtents + slot,
                                                        tiles.outputWidth)
                    } else {
                        ssl_winograd4_transform_output(products + o * layout.tiles + slot, layout.productStride,
                                                       targets.baseAddress, table.outputExtents + slot,
                                                       tiles.outputWidth)
                    }
                    slot &+= group
                }
            }
        }
    }
}

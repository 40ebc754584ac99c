import CSSLKernels

// MARK: - Input and output transforms of F(4×4, 3×3)

extension WinogradConvolution {
    /// V[α][c][slot] = (Bᵀ d B)[α], α = 6i + k, for the 6×6 window d of every tile slot of the
    /// block and every channel c, in the B-sliver layout of `transformInput`: four slots at a
    /// time by `ssl_winograd4_transform_input`, which reads each window row as eight floats
    /// (two past the window, inside the image or the last image's copy).
    static func transformInputLargeTiles(
        tiles: WinogradTiles, table: TileTable, layout: BlockLayout, channels: Int, tileColumns nr: Int,
        into transformed: UnsafeMutablePointer<Float>
    ) {
        withUnsafeTemporaryAllocation(of: UnsafePointer<Float>?.self, capacity: 4) { windows in
            var slot = 0
            while slot < layout.tiles {
                for j in 0..<4 { windows[j] = UnsafePointer(bitPattern: table.inputAddresses[slot + j]) }
                ssl_winograd4_transform_input(windows.baseAddress, channels, tiles.inputPlane, tiles.paddedWidth,
                                              layout.transformedStride, nr,
                                              transformed + (slot / nr) * channels * nr + slot % nr)
                slot &+= 4
            }
        }
    }

    /// Y = Aᵀ M A for the first `usedTiles` slots of the block and every output channel (M as
    /// in `transformOutput`, 36 slices), written to the output images, clipped at the edges:
    /// four slots at a time by `ssl_winograd4_transform_output`.
    static func transformOutputLargeTiles(
        _ products: UnsafePointer<Float>, tiles: WinogradTiles, table: TileTable, layout: BlockLayout, usedTiles: Int,
        outChannels m: Int, into output: UnsafeMutablePointer<Float>
    ) {
        withUnsafeTemporaryAllocation(of: UnsafeMutablePointer<Float>?.self, capacity: 4) { targets in
            for o in 0..<m {
                let destination = output + o * tiles.outputPlane
                var slot = 0
                while slot < usedTiles {
                    for j in 0..<4 { targets[j] = destination + table.outputOffsets[slot + j] }
                    ssl_winograd4_transform_output(products + o * layout.tiles + slot, layout.productStride,
                                                   targets.baseAddress, table.outputExtents + slot, tiles.outputWidth)
                    slot &+= 4
                }
            }
        }
    }
}

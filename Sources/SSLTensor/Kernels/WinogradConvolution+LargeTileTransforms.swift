import CSSLKernels

// MARK: - Input and output transforms of F(4×4, 3×3)

extension WinogradConvolution {
    /// V[α][c][slot] = (Bᵀ d B)[α], α = 6i + k, for the 6×6 window d of every tile slot of the
    /// block and every channel c, in the B-sliver layout of `transformInput`: up to
    /// `widestGroup` slots at a time (`GEMMMicroKernel.winogradTileGroup`: sixteen by
    /// `ssl_winograd4_transform_input16` with AVX-512, eight by `…8` with AVX, else four by
    /// `ssl_winograd4_transform_input`; the same bits either way), a group never crossing a
    /// sliver. All read each window row as eight floats (two past the window, inside the image or
    /// the room after it).
    static func transformInputLargeTiles(
        tiles: WinogradTiles, table: TileTable, layout: BlockLayout, channels: Int, tileColumns nr: Int,
        widestGroup: Int, into transformed: UnsafeMutablePointer<Float>
    ) {
        withUnsafeTemporaryAllocation(of: UnsafePointer<Float>?.self, capacity: 16) { windows in
            var slot = 0
            while slot < layout.tiles {
                let group = tileGroup(widest: widestGroup, room: min(nr - slot % nr, layout.tiles - slot))
                for j in 0..<group { windows[j] = UnsafePointer(bitPattern: table.inputAddresses[slot + j]) }
                let target = transformed + (slot / nr) * channels * nr + slot % nr
                switch group {
                case 16:
                    ssl_winograd4_transform_input16(windows.baseAddress, channels, tiles.inputPlane, tiles.paddedWidth,
                                                    layout.transformedStride, nr, target)
                case 8:
                    ssl_winograd4_transform_input8(windows.baseAddress, channels, tiles.inputPlane, tiles.paddedWidth,
                                                   layout.transformedStride, nr, target)
                default:
                    ssl_winograd4_transform_input(windows.baseAddress, channels, tiles.inputPlane, tiles.paddedWidth,
                                                  layout.transformedStride, nr, target)
                }
                slot &+= group
            }
        }
    }

    /// The slots a transform takes at once: `widest` (16, 8 or 4), halved while it is wider than
    /// `room` (the slots left in the sliver or block), and never under four (slots come in fours).
    @inline(__always)
    static func tileGroup(widest: Int, room: Int) -> Int {
        var group = widest
        while group > 4 && group > room { group >>= 1 }
        return group
    }

    /// Y = Aᵀ M A for the first `usedTiles` slots of the block and every output channel (M as
    /// in `transformOutput`, 36 slices), written to the output images, clipped at the edges: up
    /// to `widestGroup` slots at a time, as `transformInputLargeTiles` takes them
    /// (`ssl_winograd4_transform_output16`, `…8` or `ssl_winograd4_transform_output`; the same
    /// bits either way).
    static func transformOutputLargeTiles(
        _ products: UnsafePointer<Float>, tiles: WinogradTiles, table: TileTable, layout: BlockLayout, usedTiles: Int,
        outChannels m: Int, widestGroup: Int, into output: UnsafeMutablePointer<Float>
    ) {
        withUnsafeTemporaryAllocation(of: UnsafeMutablePointer<Float>?.self, capacity: 16) { targets in
            for o in 0..<m {
                let destination = output + o * tiles.outputPlane
                var slot = 0
                while slot < usedTiles {
                    let group = tileGroup(widest: widestGroup, room: layout.tiles - slot)
                    for j in 0..<group { targets[j] = destination + table.outputOffsets[slot + j] }
                    switch group {
                    case 16:
                        ssl_winograd4_transform_output16(products + o * layout.tiles + slot, layout.productStride,
                                                         targets.baseAddress, table.outputExtents + slot,
                                                         tiles.outputWidth)
                    case 8:
                        ssl_winograd4_transform_output8(products + o * layout.tiles + slot, layout.productStride,
                                                        targets.baseAddress, table.outputExtents + slot,
                                                        tiles.outputWidth)
                    default:
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

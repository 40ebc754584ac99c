import CSSLKernels

// MARK: - Weight gradient by F(4×4, 3×3)

// `weightGradient` with 4×4 tiles: dU[α][o][c] = Σ_tiles (A dY_o Aᵀ)[α] · (Bᵀ d_c B)[α] over 36
// slices, dW = Gᵀ dU G, with F(4×4, 3×3)'s matrices (`WinogradConvolution+LargeTiles.swift`).

extension WinogradConvolution {
    /// dW = Gᵀ (Σ_workers dU) G for every (o, c), F(4×4, 3×3)'s G, the accumulators laid out as
    /// for `reduceSmallTiles` (36 slices).
    static func reduceLargeTiles(
        _ accumulatorBase: UnsafePointer<Float>, workers threads: Int, workerStride perWorker: Int,
        accumulatorStride: Int, into weightGradient: UnsafeMutablePointer<Float>, context: ComputeContext
    ) {
        let accumulators = SendablePointer(UnsafeMutablePointer(mutating: accumulatorBase))
        let result = SendablePointer(weightGradient)
        ParallelLoop.forEachChunk(count: accumulatorStride, minimumChunk: 256, threads: context.threadCount) { range in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 36 + 18) { scratch in
                guard let sums = scratch.baseAddress else { return }
                let rows = sums + 36  // (dU G)[i][kx], six rows of three
                for index in range {
                    for alpha in 0..<36 {
                        var total: Float = 0
                        for worker in 0..<threads {
                            total += accumulators.base[worker * perWorker + alpha * accumulatorStride + index]
                        }
                        sums[alpha] = total
                    }
                    for i in 0..<6 {
                        let row = applyLargeGTransposed(sums + 6 * i, stride: 1)
                        rows[3 * i] = row.0
                        rows[3 * i + 1] = row.1
                        rows[3 * i + 2] = row.2
                    }
                    let target = result.base + index * 9
                    for kx in 0..<3 {
                        let column = applyLargeGTransposed(rows + kx, stride: 3)
                        target[kx] = column.0
                        target[3 + kx] = column.1
                        target[6 + kx] = column.2
                    }
                }
            }
        }
    }

    /// Gᵀ (F(4×4, 3×3)'s, 3×6) applied to the six values `v[0], v[stride], …, v[5·stride]`.
    @inline(__always)
    static func applyLargeGTransposed(_ v: UnsafePointer<Float>, stride: Int) -> (Float, Float, Float) {
        let v0 = v[0], v1 = v[stride], v2 = v[2 * stride], v3 = v[3 * stride], v4 = v[4 * stride], v5 = v[5 * stride]
        let sum12 = v1 + v2, sum34 = v3 + v4
        return (v0 * 0.25 - sum12 / 6 + sum34 / 24, (v2 - v1) / 6 + (v3 - v4) / 12, (sum34 - sum12) / 6 + v5)
    }

    /// dM[α][o][slot] = (A dY Aᵀ)[α] for the 4×4 output-gradient tile dY of every slot and
    /// output channel (zeros past the output's edge and for empty slots), at
    /// `products + α·productStride + o·layout.tiles + slot`: up to `widestGroup` slots at a time,
    /// as `transformInputLargeTiles` takes them (`ssl_winograd4_transform_output_gradient16`,
    /// `…8` or `ssl_winograd4_transform_output_gradient`; the same bits either way).
    static func transformOutputGradientLargeTiles(
        _ gradient: UnsafePointer<Float>, tiles: WinogradTiles, table: TileTable, layout: BlockLayout, outChannels m: Int,
        widestGroup: Int, into products: UnsafeMutablePointer<Float>
    ) {
        withUnsafeTemporaryAllocation(of: UnsafePointer<Float>?.self, capacity: 16) { sources in
            for o in 0..<m {
                let channel = gradient + o * tiles.outputPlane
                var slot = 0
                while slot < layout.tiles {
                    let group = tileGroup(widest: widestGroup, room: layout.tiles - slot)
                    for j in 0..<group { sources[j] = channel + table.outputOffsets[slot + j] }
                    switch group {
                    case 16:
                        ssl_winograd4_transform_output_gradient16(sources.baseAddress, table.outputExtents + slot,
                                                                  tiles.outputWidth, layout.productStride,
                                                                  products + o * layout.tiles + slot)
                    case 8:
                        ssl_winograd4_transform_output_gradient8(sources.baseAddress, table.outputExtents + slot,
                                                                 tiles.outputWidth, layout.productStride,
                                                                 products + o * layout.tiles + slot)
                    default:
                        ssl_winograd4_transform_output_gradient(sources.baseAddress, table.outputExtents + slot,
                                                                tiles.outputWidth, layout.productStride,
                                                                products + o * layout.tiles + slot)
                    }
                    slot &+= group
                }
            }
        }
    }
}

@testable import SSLTensor
import SSLTestSupport
import XCTest

/// F(4×4, 3×3)'s transforms eight tiles at a time (256-bit vectors, where the CPU has AVX) and
/// sixteen at a time (512-bit vectors, where it has AVX-512) against four at a time: the same
/// operations on every lane, so the same bits, and a tile's values do not depend on which group
/// (and so which block split, thread count or CPU) took it. The accuracy of the transforms
/// themselves is `WinogradConvolutionTests`' part.
///
/// 9×10 maps with padding 1: 3 × 3 tiles per image, the last row and column of tiles clipped,
/// 27 tiles over 3 images. Blocks laid out as the forward pass lays them with AVX2 (32 slots in
/// 16-wide slivers: whole groups, the last one partly empty) and with AVX-512 (48 slots in
/// 32-wide slivers: groups of sixteen, the second partly empty, the third empty), and as the
/// weight gradient does (one sliver 28 slots wide: 8 + 8 + 8 + 4 or 16 + 8 + 4).
final class WinogradTransformTests: XCTestCase {
    private let geometry = ConvolutionGeometry(channels: 5, height: 9, width: 10, kernelHeight: 3, kernelWidth: 3,
                                               stride: 1, padding: 1)
    private let batch = 3, outChannels = 4
    private let blocks = [(tiles: 32, sliverWidth: 16), (tiles: 48, sliverWidth: 32), (tiles: 28, sliverWidth: 28)]

    private var tiles: WinogradTiles {
        WinogradTiles(geometry: geometry, batch: batch, outChannels: outChannels, size: 4,
                      extended: WinogradConvolution.largeTilesNeedExtendedImages(geometry))
    }

    override func setUpWithError() throws {
        try XCTSkipUnless(GEMMMicroKernel.avx2.isSupported, "the eight-tile transforms need AVX")
    }

    /// The wider groups this CPU runs: eight, and sixteen where it has AVX-512.
    private var widerGroups: [Int] { GEMMMicroKernel.avx512.isSupported ? [8, 16] : [8] }

    /// Calls `body` with the tile table of the batch's first `blockTiles` tiles, their images
    /// (or output-gradient planes) starting `imageSize` floats apart from `base`.
    private func withTable(blockTiles: Int, base: UnsafePointer<Float>, imageSize: Int, _ body: (TileTable) -> Void) {
        let tableBuffer = UnsafeMutablePointer<Int>.allocate(capacity: TileTable.count(capacity: blockTiles))
        defer { tableBuffer.deallocate() }
        let table = TileTable(base: tableBuffer, capacity: blockTiles)
        tiles.fill(table, first: 0, count: min(blockTiles, tiles.count)) { base + $0 * imageSize }
        body(table)
    }

    /// The four-tile function's values against those of groups of up to `group`, bit for bit.
    private func assertSameBits(_ narrow: [Float], _ wide: [Float], _ what: String, blockTiles: Int, group: Int,
                                line: UInt = #line) {
        XCTAssertTrue(narrow.contains { $0 != 0 }, "\(what), block of \(blockTiles): nothing written", line: line)
        let differing = zip(narrow, wide).enumerated().filter { $0.element.0.bitPattern != $0.element.1.bitPattern }
        XCTAssertEqual(differing.count, 0,
                       "\(what) by \(group), block of \(blockTiles): first differences \(differing.prefix(4))",
                       line: line)
    }

    func testWideInputTransformsGiveTheFourTileBits() {
        let tiles = tiles, room = 2 * tiles.paddedWidth + 16
        let images = testTensor([batch * tiles.inputImageSize + room], seed: 7).scalars
        for block in blocks {
            let layout = BlockLayout(tiles: block.tiles, channels: geometry.channels, paddedRows: 6)
            func transformed(group: Int) -> [Float] {
                var result = [Float](repeating: 0, count: 36 * layout.transformedStride)
                images.withUnsafeBufferPointer { source in
                    withTable(blockTiles: block.tiles, base: source.baseAddress!, imageSize: tiles.inputImageSize) { table in
                        result.withUnsafeMutableBufferPointer { target in
                            WinogradConvolution.transformInputLargeTiles(
                                tiles: tiles, table: table, layout: layout, channels: geometry.channels,
                                tileColumns: block.sliverWidth, widestGroup: group, into: target.baseAddress!)
                        }
                    }
                }
                return result
            }
            let narrow = transformed(group: 4)
            for group in widerGroups {
                assertSameBits(narrow, transformed(group: group), "input transform", blockTiles: block.tiles,
                               group: group)
            }
        }
    }

    func testWideOutputTransformsGiveTheFourTileBits() {
        let tiles = tiles, outputSize = batch * tiles.outputImageSize
        for block in blocks {
            let layout = BlockLayout(tiles: block.tiles, channels: geometry.channels, paddedRows: outChannels)
            let products = testTensor([36 * layout.productStride], seed: 8).scalars
            let usedTiles = min(block.tiles, tiles.count)
            func output(group: Int) -> [Float] {
                var result = [Float](repeating: 0, count: outputSize)
                products.withUnsafeBufferPointer { source in
                    withTable(blockTiles: block.tiles, base: source.baseAddress!, imageSize: 0) { table in
                        result.withUnsafeMutableBufferPointer { target in
                            WinogradConvolution.transformOutputLargeTiles(
                                source.baseAddress!, tiles: tiles, table: table, layout: layout, usedTiles: usedTiles,
                                outChannels: outChannels, widestGroup: group, into: target.baseAddress!)
                        }
                    }
                }
                return result
            }
            let narrow = output(group: 4)
            XCTAssertEqual(narrow.filter { $0 == 0 }.count, 0, "block of \(block.tiles): an output was not written")
            for group in widerGroups {
                assertSameBits(narrow, output(group: group), "output transform", blockTiles: block.tiles, group: group)
            }
        }
    }

    func testWideOutputGradientTransformsGiveTheFourTileBits() {
        let tiles = tiles
        let gradient = testTensor([batch * tiles.outputImageSize], seed: 9).scalars
        for block in blocks {
            let layout = BlockLayout(tiles: block.tiles, channels: geometry.channels, paddedRows: outChannels)
            func transformed(group: Int) -> [Float] {
                var result = [Float](repeating: 0, count: 36 * layout.productStride)
                gradient.withUnsafeBufferPointer { source in
                    withTable(blockTiles: block.tiles, base: source.baseAddress!, imageSize: 0) { table in
                        result.withUnsafeMutableBufferPointer { target in
                            WinogradConvolution.transformOutputGradientLargeTiles(
                                source.baseAddress!, tiles: tiles, table: table, layout: layout,
                                outChannels: outChannels, widestGroup: group, into: target.baseAddress!)
                        }
                    }
                }
                return result
            }
            let narrow = transformed(group: 4)
            for group in widerGroups {
                assertSameBits(narrow, transformed(group: group), "output-gradient transform", blockTiles: block.tiles,
                               group: group)
            }
        }
    }
}

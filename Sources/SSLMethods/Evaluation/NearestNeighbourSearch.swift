import SSLTensor

/// Exact k-nearest-neighbour search by cosine similarity among the rows of one embedding
/// matrix (every image against every other), by blocked GEMM over the L2-normalised rows: the
/// similarity matrix is computed block by block (only the blocks on and above the diagonal, as
/// it is symmetric), and each block updates the running top-k of its rows and of its columns.
/// Memory is the embeddings plus one block (`blockSize`² floats), the results and one block's
/// pairs; no N×N matrix is ever held. Pairs at or above `duplicateThreshold` are collected on
/// the way (near-duplicates), until `maximumPairs` are held.
///
/// ```swift
/// let result = NearestNeighbourSearch.run(embeddings, k: 5, duplicateThreshold: 0.95)
/// let first = result.neighbours(of: 0)      // [(index, similarity)], most similar first
/// ```
public enum NearestNeighbourSearch {
    /// What a search found.
    public struct Result: Sendable {
        /// Neighbours per row.
        public let k: Int
        /// Row-major `[N, k]`: neighbour indices, most similar first (−1 where a row has fewer).
        public let indices: [Int32]
        /// Row-major `[N, k]`: cosine similarities, matching `indices`.
        public let similarities: [Float]
        /// Every pair (i < j) with similarity at or above the threshold, block by block of the
        /// similarity matrix (row blocks, then column blocks), row-major within a block.
        public let pairsAboveThreshold: [(first: Int32, second: Int32, similarity: Float)]
        /// Whether more pairs passed the threshold than `maximumPairs` kept.
        public let pairsTruncated: Bool

        /// Row `row`'s neighbours, most similar first.
        public func neighbours(of row: Int) -> [(index: Int, similarity: Float)] {
            (0..<k).compactMap { slot in
                let index = Int(indices[row * k + slot])
                return index < 0 ? nil : (index, similarities[row * k + slot])
            }
        }
    }

    /// Searches the rows of `embeddings` (`[N, D]`) for each row's `k` most similar other rows.
    /// - Parameters:
    ///   - duplicateThreshold: collect every pair at or above this cosine similarity (nil: none).
    ///   - maximumPairs: how many such pairs to keep at most (the rest are counted as truncated).
    ///   - blockSize: rows per block of the similarity matrix.
    public static func run(_ embeddings: Tensor, k: Int, duplicateThreshold: Float? = nil,
                           maximumPairs: Int = 5_000_000, blockSize: Int = 2048) -> Result {
        precondition(embeddings.rank == 2, "NearestNeighbourSearch: embeddings must be [N, D], got \(embeddings.shape)")
        precondition(k >= 1 && blockSize >= 1, "NearestNeighbourSearch: k and blockSize must be positive, got \(k), \(blockSize)")
        let count = embeddings.shape[0]
        var state = TopK(rows: count, k: k)
        var pairs: [Pair] = []
        var truncated = false
        let normalized = noGrad { embeddings.l2Normalize(axis: 1) }.contiguous()
        // Each tile's pairs, one list per tile row (the row pass's workers each own rows).
        var tilePairs = [[Pair]](repeating: [], count: Swift.min(blockSize, count))
        var rowStart = 0
        while rowStart < count {
            let rowEnd = Swift.min(count, rowStart + blockSize)
            let rows = normalized.slice(axis: 0, rowStart..<rowEnd)
            var columnStart = rowStart
            while columnStart < count {
                let columnEnd = Swift.min(count, columnStart + blockSize)
                let columns = normalized.slice(axis: 0, columnStart..<columnEnd)
                let block = noGrad { rows.matmul(columns, transposeOther: true) }.contiguous()
                block.withContiguousBuffer { values in
                    guard let base = values.baseAddress else { return }
                    let tile = Tile(values: UnsafeSendablePointer(base), rowStart: rowStart, rowCount: rowEnd - rowStart,
                                    columnStart: columnStart, columnCount: columnEnd - columnStart)
                    // Once the pairs are full (and truncation known), no more are collected.
                    let collecting = truncated ? nil : duplicateThreshold
                    tilePairs.withUnsafeMutableBufferPointer { buffer in
                        guard let pairBase = buffer.baseAddress else { return }
                        state.update(with: tile, duplicateThreshold: collecting, pairs: UnsafeSendablePointer(pairBase))
                    }
                }
                for row in 0..<(rowEnd - rowStart) where !tilePairs[row].isEmpty {
                    let room = maximumPairs - pairs.count
                    if tilePairs[row].count > room { truncated = true }
                    pairs.append(contentsOf: tilePairs[row].prefix(Swift.max(0, room)))
                    tilePairs[row] = []
                }
                columnStart = columnEnd
            }
            rowStart = rowEnd
        }
        let (indices, similarities) = state.sorted()
        return Result(k: k, indices: indices, similarities: similarities, pairsAboveThreshold: pairs, pairsTruncated: truncated)
    }

    /// One block of the similarity matrix: rows `rowStart…` against columns `columnStart…`.
    struct Tile: @unchecked Sendable {
        let values: UnsafeSendablePointer<Float>
        let rowStart: Int, rowCount: Int, columnStart: Int, columnCount: Int
        /// Whether the block straddles the diagonal (row and column ranges start together).
        var isDiagonal: Bool { rowStart == columnStart }
    }

    /// A pair of rows (first < second) and their similarity.
    typealias Pair = (first: Int32, second: Int32, similarity: Float)
}

/// The running top-k of every row: unsorted slots, with each row's current k-th best as its
/// admission threshold (−∞ until k are held), so most candidates cost one comparison.
struct TopK {
    let rows: Int, k: Int
    private var values: [Float]
    private var indices: [Int32]
    private var thresholds: [Float]
    private var filled: [Int32]

    init(rows: Int, k: Int) {
        self.rows = rows
        self.k = k
        values = [Float](repeating: -.infinity, count: rows * k)
        indices = [Int32](repeating: -1, count: rows * k)
        thresholds = [Float](repeating: -.infinity, count: rows)
        filled = [Int32](repeating: 0, count: rows)
    }

    /// Offers every entry of the tile to its row and (off the diagonal) to its column; each
    /// worker owns a range of rows (or columns), so no two workers touch the same top-k. With a
    /// `duplicateThreshold`, the row pass also appends each pair (i < j) at or above it to
    /// `pairs[row]` (one list per tile row). Entries are compared 16 at a time against the
    /// admission thresholds; only a group holding a candidate is looked at one by one.
    mutating func update(with tile: NearestNeighbourSearch.Tile, duplicateThreshold: Float?,
                         pairs: UnsafeSendablePointer<[NearestNeighbourSearch.Pair]>) {
        let k = self.k
        values.withUnsafeMutableBufferPointer { valueBuffer in
        indices.withUnsafeMutableBufferPointer { indexBuffer in
        thresholds.withUnsafeMutableBufferPointer { thresholdBuffer in
        filled.withUnsafeMutableBufferPointer { filledBuffer in
            guard let valueBase = valueBuffer.baseAddress, let indexBase = indexBuffer.baseAddress,
                  let thresholdBase = thresholdBuffer.baseAddress, let filledBase = filledBuffer.baseAddress else { return }
            let slots = Slots(values: UnsafeSendablePointer(valueBase), indices: UnsafeSendablePointer(indexBase),
                              thresholds: UnsafeSendablePointer(thresholdBase), filled: UnsafeSendablePointer(filledBase), k: k)
            // Rows: each row of the tile against its columns.
            Parallel.forEachChunk(count: tile.rowCount, minimumChunk: 16) { range in
                for row in range {
                    slots.scanRow(row, of: tile, duplicateThreshold: duplicateThreshold, pairs: pairs.base + row)
                }
            }
            guard !tile.isDiagonal else { return }
            // Columns: the transposed block, read row by row over each worker's columns.
            Parallel.forEachChunk(count: tile.columnCount, minimumChunk: 64) { range in
                for row in 0..<tile.rowCount {
                    slots.scanColumns(range, row: row, of: tile)
                }
            }
        }
        }
        }
        }
    }

    /// The slots sorted per row, most similar first (ties: the lower index first).
    func sorted() -> (indices: [Int32], similarities: [Float]) {
        var sortedIndices = indices, sortedValues = values
        for row in 0..<rows {
            let range = (row * k)..<(row * k + k)
            let order = range.sorted { a, b in
                values[a] != values[b] ? values[a] > values[b] : UInt32(bitPattern: indices[a]) < UInt32(bitPattern: indices[b])
            }
            for (slot, source) in zip(range, order) {
                sortedIndices[slot] = indices[source]
                sortedValues[slot] = values[source]
            }
        }
        return (sortedIndices, sortedValues)
    }
}

/// The top-k storage seen from a worker (which touches only its own rows).
private struct Slots: @unchecked Sendable {
    let values: UnsafeSendablePointer<Float>
    let indices: UnsafeSendablePointer<Int32>
    let thresholds: UnsafeSendablePointer<Float>
    let filled: UnsafeSendablePointer<Int32>
    let k: Int

    /// Offers a tile row's entries to that row's top-k, and collects its pairs at or above
    /// `duplicateThreshold` (to the right of the diagonal on a diagonal tile).
    func scanRow(_ row: Int, of tile: NearestNeighbourSearch.Tile, duplicateThreshold: Float?,
                 pairs: UnsafeMutablePointer<[NearestNeighbourSearch.Pair]>) {
        let global = tile.rowStart + row
        let line = tile.values.base + row * tile.columnCount
        // An entry is looked at when it beats the row's admission threshold or reaches the
        // duplicate threshold: above the smaller of the two bars (x ≥ d ⇔ x > d.nextDown).
        let duplicateBar = (duplicateThreshold ?? .infinity).nextDown
        // The row's threshold changes only in `lookAtRow` (this worker owns the row), so the
        // splatted bar is rebuilt only then.
        var bars = SIMD16<Float>(repeating: Swift.min(thresholds.base[global], duplicateBar))
        var column = 0
        while column + 16 <= tile.columnCount {
            let group = UnsafeRawPointer(line + column).loadUnaligned(as: SIMD16<Float>.self)
            if any(group .> bars) {
                lookAtRow(row, columns: column..<(column + 16), of: tile, duplicateBar: duplicateBar, pairs: pairs)
                bars = SIMD16<Float>(repeating: Swift.min(thresholds.base[global], duplicateBar))
            }
            column += 16
        }
        lookAtRow(row, columns: column..<tile.columnCount, of: tile, duplicateBar: duplicateBar, pairs: pairs)
    }

    /// `scanRow`'s entries one by one.
    private func lookAtRow(_ row: Int, columns: Range<Int>, of tile: NearestNeighbourSearch.Tile, duplicateBar: Float,
                           pairs: UnsafeMutablePointer<[NearestNeighbourSearch.Pair]>) {
        let global = tile.rowStart + row
        let line = tile.values.base + row * tile.columnCount
        let firstPair = tile.isDiagonal ? row + 1 : 0
        for column in columns {
            let value = line[column], other = tile.columnStart + column
            if value > thresholds.base[global] && other != global { offer(row: global, candidate: other, similarity: value) }
            if value > duplicateBar && column >= firstPair { pairs.pointee.append((Int32(global), Int32(other), value)) }
        }
    }

    /// Offers a tile row's entries in `columns` to those columns' top-k (the row is their
    /// candidate).
    func scanColumns(_ columns: Range<Int>, row: Int, of tile: NearestNeighbourSearch.Tile) {
        let line = tile.values.base + row * tile.columnCount
        let columnThresholds = thresholds.base + tile.columnStart
        var column = columns.lowerBound
        while column + 16 <= columns.upperBound {
            let group = UnsafeRawPointer(line + column).loadUnaligned(as: SIMD16<Float>.self)
            let admission = UnsafeRawPointer(columnThresholds + column).loadUnaligned(as: SIMD16<Float>.self)
            if any(group .> admission) { lookAtColumns(column..<(column + 16), row: row, of: tile) }
            column += 16
        }
        lookAtColumns(column..<columns.upperBound, row: row, of: tile)
    }

    /// `scanColumns`'s entries one by one.
    private func lookAtColumns(_ columns: Range<Int>, row: Int, of tile: NearestNeighbourSearch.Tile) {
        let line = tile.values.base + row * tile.columnCount
        let columnThresholds = thresholds.base + tile.columnStart
        for column in columns where line[column] > columnThresholds[column] {
            offer(row: tile.columnStart + column, candidate: tile.rowStart + row, similarity: line[column])
        }
    }

    /// Puts `candidate` among `row`'s best if it beats the current k-th.
    func offer(row: Int, candidate: Int, similarity: Float) {
        let base = row * k
        let count = Int(filled.base[row])
        if count < k {
            values.base[base + count] = similarity
            indices.base[base + count] = Int32(candidate)
            filled.base[row] = Int32(count + 1)
            if count + 1 == k { thresholds.base[row] = minimum(base) }
            return
        }
        var worst = base
        for slot in (base + 1)..<(base + k) where values.base[slot] < values.base[worst] { worst = slot }
        values.base[worst] = similarity
        indices.base[worst] = Int32(candidate)
        thresholds.base[row] = minimum(base)
    }

    private func minimum(_ base: Int) -> Float {
        var lowest = values.base[base]
        for slot in (base + 1)..<(base + k) { lowest = Swift.min(lowest, values.base[slot]) }
        return lowest
    }
}

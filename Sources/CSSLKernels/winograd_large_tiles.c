// The input and output transforms of Winograd F(4×4, 3×3) over groups of tiles, vectors over
// the tiles: four at a time in plain C vectors (any architecture, no instruction-set
// attributes), and eight at a time with AVX (the `…8` functions, called only where the CPU has
// it); sixteen at a time with AVX-512 in winograd_large_tiles16.c. They are in C for the
// transposes: clang's vector shuffles stay shuffles, while Swift's lane-by-lane SIMD
// construction made the compiler turn the arithmetic around them into scalar code (three times
// slower). Callers: SSLTensor/Kernels/WinogradConvolution+LargeTileTransforms.swift and
// +LargeTileWeightGradient.swift.
#include "CSSLKernels.h"
#include "winograd_large_tiles.h"

SSL_DEFINE_TRANSFORMS(f4, 4, )
SSL_DEFINE_TRANSFORMS(f8, 8, SSL_WIDE_TARGET)

/// Columns 0…5 of the 8×8 block whose rows are r[0..7]: c[x] = (r[0][x], …, r[7][x]).
SSL_WIDE_TARGET static inline void transpose8_first6(const f8 r[8], f8 c[6]) {
    f8 t0 = __builtin_shufflevector(r[0], r[1], 0, 8, 1, 9, 4, 12, 5, 13);
    f8 t1 = __builtin_shufflevector(r[0], r[1], 2, 10, 3, 11, 6, 14, 7, 15);
    f8 t2 = __builtin_shufflevector(r[2], r[3], 0, 8, 1, 9, 4, 12, 5, 13);
    f8 t3 = __builtin_shufflevector(r[2], r[3], 2, 10, 3, 11, 6, 14, 7, 15);
    f8 t4 = __builtin_shufflevector(r[4], r[5], 0, 8, 1, 9, 4, 12, 5, 13);
    f8 t5 = __builtin_shufflevector(r[4], r[5], 2, 10, 3, 11, 6, 14, 7, 15);
    f8 t6 = __builtin_shufflevector(r[6], r[7], 0, 8, 1, 9, 4, 12, 5, 13);
    f8 t7 = __builtin_shufflevector(r[6], r[7], 2, 10, 3, 11, 6, 14, 7, 15);
    // u0 = x 0 and 4 of rows 0–3, u1 = x 1 and 5, u2 = x 2 (and 6), u3 = x 3 (and 7); u4…u7 rows 4–7.
    f8 u0 = __builtin_shufflevector(t0, t2, 0, 1, 8, 9, 4, 5, 12, 13);
    f8 u1 = __builtin_shufflevector(t0, t2, 2, 3, 10, 11, 6, 7, 14, 15);
    f8 u2 = __builtin_shufflevector(t1, t3, 0, 1, 8, 9, 4, 5, 12, 13);
    f8 u3 = __builtin_shufflevector(t1, t3, 2, 3, 10, 11, 6, 7, 14, 15);
    f8 u4 = __builtin_shufflevector(t4, t6, 0, 1, 8, 9, 4, 5, 12, 13);
    f8 u5 = __builtin_shufflevector(t4, t6, 2, 3, 10, 11, 6, 7, 14, 15);
    f8 u6 = __builtin_shufflevector(t5, t7, 0, 1, 8, 9, 4, 5, 12, 13);
    f8 u7 = __builtin_shufflevector(t5, t7, 2, 3, 10, 11, 6, 7, 14, 15);
    c[0] = __builtin_shufflevector(u0, u4, 0, 1, 2, 3, 8, 9, 10, 11);
    c[1] = __builtin_shufflevector(u1, u5, 0, 1, 2, 3, 8, 9, 10, 11);
    c[2] = __builtin_shufflevector(u2, u6, 0, 1, 2, 3, 8, 9, 10, 11);
    c[3] = __builtin_shufflevector(u3, u7, 0, 1, 2, 3, 8, 9, 10, 11);
    c[4] = __builtin_shufflevector(u0, u4, 4, 5, 6, 7, 12, 13, 14, 15);
    c[5] = __builtin_shufflevector(u1, u5, 4, 5, 6, 7, 12, 13, 14, 15);
}

/// Columns 0…5 of the six-float rows of four windows at `offset`, each over the four tiles
/// (each row read as eight floats).
static inline void window_columns4(const float *const *windows, long offset, f4 columns[6]) {
    f4 low[4], high[4];
    for (int j = 0; j < 4; j++) {
        low[j] = load4(windows[j] + offset);
        high[j] = load4(windows[j] + offset + 4);
    }
    transpose4(low);
    transpose4(high);
    for (int x = 0; x < 4; x++) columns[x] = low[x];
    columns[4] = high[0];
    columns[5] = high[1];
}

/// The same for eight windows, over the eight tiles.
SSL_WIDE_TARGET static inline void window_columns8(const float *const *windows, long offset, f8 columns[6]) {
    f8 lines[8];
    for (int j = 0; j < 8; j++) lines[j] = load8(windows[j] + offset);
    transpose8_first6(lines, columns);
}

SSL_DEFINE_INPUT_TRANSFORM(ssl_winograd4_transform_input, f4, 4, , store4)
SSL_DEFINE_INPUT_TRANSFORM(ssl_winograd4_transform_input8, f8, 8, SSL_WIDE_TARGET, store8)

SSL_DEFINE_OUTPUT_COLUMNS(f4, 4, , load4)
SSL_DEFINE_OUTPUT_COLUMNS(f8, 8, SSL_WIDE_TARGET, load8)

void ssl_winograd4_transform_output(const float *source, long alpha_stride, float *const *targets,
                                    const long *extents, long row) {
    f4 s[6][4];
    transform_a_columns4(source, alpha_stride, s);
    f4 rows[4][4];  // rows[r][x] over the tiles, then, transposed, rows[r][tile]
    for (int r = 0; r < 4; r++) {
        f4 m[6] = {s[0][r], s[1][r], s[2][r], s[3][r], s[4][r], s[5][r]};
        transform_a4(m, rows[r]);
        transpose4(rows[r]);
    }
    for (int tile = 0; tile < 4; tile++) {
        store_tile(targets[tile], extents[tile], row, rows[0][tile], rows[1][tile], rows[2][tile], rows[3][tile]);
    }
}

SSL_WIDE_TARGET
void ssl_winograd4_transform_output8(const float *source, long alpha_stride, float *const *targets,
                                     const long *extents, long row) {
    f8 s[6][4];
    transform_a_columns8(source, alpha_stride, s);
    f4 low[4][4], high[4][4];  // [r][tile] for tiles 0–3 and 4–7
    for (int r = 0; r < 4; r++) {
        f8 m[6] = {s[0][r], s[1][r], s[2][r], s[3][r], s[4][r], s[5][r]}, y[4];
        transform_a8(m, y);
        for (int x = 0; x < 4; x++) {
            low[r][x] = y[x].lo;
            high[r][x] = y[x].hi;
        }
        transpose4(low[r]);
        transpose4(high[r]);
    }
    for (int tile = 0; tile < 4; tile++) {
        store_tile(targets[tile], extents[tile], row, low[0][tile], low[1][tile], low[2][tile], low[3][tile]);
        store_tile(targets[4 + tile], extents[4 + tile], row, high[0][tile], high[1][tile], high[2][tile],
                   high[3][tile]);
    }
}

void ssl_winograd4_transform_output_gradient(const float *const *sources, const long *extents, long row,
                                             long alpha_stride, float *target) {
    f4 rows[4][4];  // rows[r][tile], then, transposed, rows[r][x] over the tiles
    for (int tile = 0; tile < 4; tile++) {
        f4 tile_rows[4];
        load_tile(sources[tile], extents[tile], row, tile_rows);
        for (int r = 0; r < 4; r++) rows[r][tile] = tile_rows[r];
    }
    f4 s[4][6];  // s[r][k]: row r of dY times Aᵀ, over the tiles
    for (int r = 0; r < 4; r++) {
        transpose4(rows[r]);
        transform_a_transposed4(rows[r], s[r]);
    }
    for (int k = 0; k < 6; k++) {
        f4 y[4] = {s[0][k], s[1][k], s[2][k], s[3][k]}, m[6];
        transform_a_transposed4(y, m);
        for (int i = 0; i < 6; i++) store4(target + (6 * i + k) * alpha_stride, m[i]);
    }
}

SSL_WIDE_TARGET
void ssl_winograd4_transform_output_gradient8(const float *const *sources, const long *extents, long row,
                                              long alpha_stride, float *target) {
    f4 low[4][4], high[4][4];  // [r][tile] for tiles 0–3 and 4–7, then, transposed, [r][x]
    for (int tile = 0; tile < 4; tile++) {
        f4 tile_rows[4];
        load_tile(sources[tile], extents[tile], row, tile_rows);
        for (int r = 0; r < 4; r++) low[r][tile] = tile_rows[r];
        load_tile(sources[4 + tile], extents[4 + tile], row, tile_rows);
        for (int r = 0; r < 4; r++) high[r][tile] = tile_rows[r];
    }
    f8 s[4][6];  // s[r][k]: row r of dY times Aᵀ, over the eight tiles
    for (int r = 0; r < 4; r++) {
        transpose4(low[r]);
        transpose4(high[r]);
        f8 y[4];
        for (int x = 0; x < 4; x++) y[x] = __builtin_shufflevector(low[r][x], high[r][x], 0, 1, 2, 3, 4, 5, 6, 7);
        transform_a_transposed8(y, s[r]);
    }
    for (int k = 0; k < 6; k++) {
        f8 y[4] = {s[0][k], s[1][k], s[2][k], s[3][k]}, m[6];
        transform_a_transposed8(y, m);
        for (int i = 0; i < 6; i++) store8(target + (6 * i + k) * alpha_stride, m[i]);
    }
}

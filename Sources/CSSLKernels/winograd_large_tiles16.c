// Winograd F(4×4, 3×3)'s input and output transforms sixteen tiles at a time, in 512-bit
// vectors: called only where the CPU has AVX-512F (with the AVX-512 GEMM kernels). The same
// operations in the same order on every lane as the four- and eight-tile functions of
// winograd_large_tiles.c, from the same macros, so each tile's values are the same bits.
#include "CSSLKernels.h"
#include "winograd_large_tiles.h"

SSL_DEFINE_TRANSFORMS(f16x, 16, SSL_WIDER_TARGET)

/* Sixteen windows: each 512-bit vector holds a row of window j (lanes 0–7) and of window j + 8
 * (lanes 8–15), and the eight-window transpose runs on both halves at once. Each of its shuffle
 * patterns (indices p over two eight-float operands) is widened to two sixteen-float operands:
 * an index p < 8 (first operand) becomes p in the low half and p + 8 in the high half, an index
 * p ≥ 8 (second operand) p + 8 and p + 16. */
#define SSL_PAIRS_T0 0, 16, 1, 17, 4, 20, 5, 21, 8, 24, 9, 25, 12, 28, 13, 29
#define SSL_PAIRS_T1 2, 18, 3, 19, 6, 22, 7, 23, 10, 26, 11, 27, 14, 30, 15, 31
#define SSL_PAIRS_U0 0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29
#define SSL_PAIRS_U1 2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31
#define SSL_PAIRS_C0 0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27
#define SSL_PAIRS_C1 4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31

/// Columns 0…5 of the six-float rows of sixteen windows at `offset`, over the sixteen tiles:
/// winograd_large_tiles.c's `transpose8_first6` on the two halves of each vector.
SSL_WIDER_TARGET static inline void window_columns16(const float *const *windows, long offset, f16x columns[6]) {
    f16x r[8];
    for (int j = 0; j < 8; j++) {
        r[j] = __builtin_shufflevector(load8(windows[j] + offset), load8(windows[8 + j] + offset), 0, 1, 2, 3, 4, 5,
                                       6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    }
    f16x t0 = __builtin_shufflevector(r[0], r[1], SSL_PAIRS_T0), t1 = __builtin_shufflevector(r[0], r[1], SSL_PAIRS_T1);
    f16x t2 = __builtin_shufflevector(r[2], r[3], SSL_PAIRS_T0), t3 = __builtin_shufflevector(r[2], r[3], SSL_PAIRS_T1);
    f16x t4 = __builtin_shufflevector(r[4], r[5], SSL_PAIRS_T0), t5 = __builtin_shufflevector(r[4], r[5], SSL_PAIRS_T1);
    f16x t6 = __builtin_shufflevector(r[6], r[7], SSL_PAIRS_T0), t7 = __builtin_shufflevector(r[6], r[7], SSL_PAIRS_T1);
    f16x u0 = __builtin_shufflevector(t0, t2, SSL_PAIRS_U0), u1 = __builtin_shufflevector(t0, t2, SSL_PAIRS_U1);
    f16x u2 = __builtin_shufflevector(t1, t3, SSL_PAIRS_U0), u3 = __builtin_shufflevector(t1, t3, SSL_PAIRS_U1);
    f16x u4 = __builtin_shufflevector(t4, t6, SSL_PAIRS_U0), u5 = __builtin_shufflevector(t4, t6, SSL_PAIRS_U1);
    f16x u6 = __builtin_shufflevector(t5, t7, SSL_PAIRS_U0), u7 = __builtin_shufflevector(t5, t7, SSL_PAIRS_U1);
    columns[0] = __builtin_shufflevector(u0, u4, SSL_PAIRS_C0);
    columns[1] = __builtin_shufflevector(u1, u5, SSL_PAIRS_C0);
    columns[2] = __builtin_shufflevector(u2, u6, SSL_PAIRS_C0);
    columns[3] = __builtin_shufflevector(u3, u7, SSL_PAIRS_C0);
    columns[4] = __builtin_shufflevector(u0, u4, SSL_PAIRS_C1);
    columns[5] = __builtin_shufflevector(u1, u5, SSL_PAIRS_C1);
}

SSL_DEFINE_INPUT_TRANSFORM(ssl_winograd4_transform_input16, f16x, 16, SSL_WIDER_TARGET, store16)

SSL_DEFINE_OUTPUT_COLUMNS(f16x, 16, SSL_WIDER_TARGET, load16)

SSL_WIDER_TARGET
void ssl_winograd4_transform_output16(const float *source, long alpha_stride, float *const *targets,
                                      const long *extents, long row) {
    f16x s[6][4];
    transform_a_columns16(source, alpha_stride, s);
    f4 quarters[4][4][4];  // [q][r][tile] for tiles 4q…4q+3
    for (int r = 0; r < 4; r++) {
        f16x m[6] = {s[0][r], s[1][r], s[2][r], s[3][r], s[4][r], s[5][r]}, y[4];
        transform_a16(m, y);
        for (int x = 0; x < 4; x++) {
            quarters[0][r][x] = y[x].lo.lo;
            quarters[1][r][x] = y[x].lo.hi;
            quarters[2][r][x] = y[x].hi.lo;
            quarters[3][r][x] = y[x].hi.hi;
        }
        for (int q = 0; q < 4; q++) transpose4(quarters[q][r]);
    }
    for (int q = 0; q < 4; q++) {
        for (int tile = 0; tile < 4; tile++) {
            store_tile(targets[4 * q + tile], extents[4 * q + tile], row, quarters[q][0][tile], quarters[q][1][tile],
                       quarters[q][2][tile], quarters[q][3][tile]);
        }
    }
}

SSL_WIDER_TARGET
void ssl_winograd4_transform_output_gradient16(const float *const *sources, const long *extents, long row,
                                               long alpha_stride, float *target) {
    f4 quarters[4][4][4];  // [q][r][tile] for tiles 4q…4q+3, then, transposed, [q][r][x]
    for (int q = 0; q < 4; q++) {
        for (int tile = 0; tile < 4; tile++) {
            f4 tile_rows[4];
            load_tile(sources[4 * q + tile], extents[4 * q + tile], row, tile_rows);
            for (int r = 0; r < 4; r++) quarters[q][r][tile] = tile_rows[r];
        }
    }
    f16x s[4][6];  // s[r][k]: row r of dY times Aᵀ, over the sixteen tiles
    for (int r = 0; r < 4; r++) {
        for (int q = 0; q < 4; q++) transpose4(quarters[q][r]);
        f16x y[4];
        for (int x = 0; x < 4; x++) {
            f8 low = __builtin_shufflevector(quarters[0][r][x], quarters[1][r][x], 0, 1, 2, 3, 4, 5, 6, 7);
            f8 high = __builtin_shufflevector(quarters[2][r][x], quarters[3][r][x], 0, 1, 2, 3, 4, 5, 6, 7);
            y[x] = __builtin_shufflevector(low, high, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        }
        transform_a_transposed16(y, s[r]);
    }
    for (int k = 0; k < 6; k++) {
        f16x y[4] = {s[0][k], s[1][k], s[2][k], s[3][k]}, m[6];
        transform_a_transposed16(y, m);
        for (int i = 0; i < 6; i++) store16(target + (6 * i + k) * alpha_stride, m[i]);
    }
}

// The input and output transforms of Winograd F(4×4, 3×3) over groups of tiles, vectors over
// the tiles: four at a time in plain C vectors (any architecture, no instruction-set
// attributes), eight at a time with AVX and sixteen with AVX-512 (the `…8` and `…16` functions,
// called only where the CPU has them). They are in C for the transposes: clang's vector shuffles
// stay shuffles, while Swift's lane-by-lane SIMD construction made the compiler turn the
// arithmetic around them into scalar code (three times slower). Callers:
// SSLTensor/Kernels/WinogradConvolution+LargeTileTransforms.swift and +LargeTileWeightGradient.swift.
#include "CSSLKernels.h"
#include <string.h>

// Every width does the same operations in the same order on every lane, so a tile's values are
// the same bits whichever function transforms it (and so whichever block split or thread count
// took it). That needs products and sums kept apart: AVX-512 has FMA, and clang would otherwise
// contract `4 * d[0] - 5 * d[2]` into one rounding instead of two.
#pragma STDC FP_CONTRACT OFF

typedef float f4 __attribute__((ext_vector_type(4)));
typedef float f8 __attribute__((ext_vector_type(8)));
typedef float f16x __attribute__((ext_vector_type(16)));

// Eight tiles at a time with 256-bit vectors where the CPU has AVX, sixteen with 512-bit ones
// where it has AVX-512.
#if defined(__x86_64__) || defined(_M_X64)
#define SSL_WIDE_TARGET __attribute__((target("avx")))
#define SSL_WIDER_TARGET __attribute__((target("avx512f")))
#else
#define SSL_WIDE_TARGET
#define SSL_WIDER_TARGET
#endif

SSL_WIDE_TARGET static inline f8 load8(const float *p) { f8 v; memcpy(&v, p, sizeof v); return v; }
SSL_WIDE_TARGET static inline void store8(float *p, f8 v) { memcpy(p, &v, sizeof v); }
SSL_WIDER_TARGET static inline f16x load16(const float *p) { f16x v; memcpy(&v, p, sizeof v); return v; }
SSL_WIDER_TARGET static inline void store16(float *p, f16x v) { memcpy(p, &v, sizeof v); }
static inline f4 load4(const float *p) { f4 v; memcpy(&v, p, sizeof v); return v; }
static inline void store4(float *p, f4 v) { memcpy(p, &v, sizeof v); }

/// Transposes the 4×4 block whose rows are v[0..3], in place.
static inline void transpose4(f4 v[4]) {
    f4 t0 = __builtin_shufflevector(v[0], v[1], 0, 4, 1, 5);
    f4 t1 = __builtin_shufflevector(v[0], v[1], 2, 6, 3, 7);
    f4 t2 = __builtin_shufflevector(v[2], v[3], 0, 4, 1, 5);
    f4 t3 = __builtin_shufflevector(v[2], v[3], 2, 6, 3, 7);
    v[0] = __builtin_shufflevector(t0, t2, 0, 1, 4, 5);
    v[1] = __builtin_shufflevector(t0, t2, 2, 3, 6, 7);
    v[2] = __builtin_shufflevector(t1, t3, 0, 1, 4, 5);
    v[3] = __builtin_shufflevector(t1, t3, 2, 3, 6, 7);
}

/* The one-axis transforms, defined once for each vector width (f4 over four tiles, f8 over
 * eight, f16x over sixteen) so that both widths do the same operations in the same order on every lane.
 *
 * transform_b: Bᵀ = [4 0 −5 0 1 0; 0 −4 −4 1 1 0; 0 4 −4 −1 1 0; 0 −2 −1 2 1 0; 0 2 −1 −2 1 0;
 * 0 4 0 −5 0 1] along one axis, d[0..5] → v[0..5].
 * transform_a: Aᵀ = [1 1 1 1 1 0; 0 1 −1 2 −2 0; 0 1 1 4 4 0; 0 1 −1 8 −8 1] along one axis,
 * m[0..5] → y[0..3].
 * transform_a_transposed: A = (Aᵀ)ᵀ along one axis, y[0..3] → m[0..5] (m = (y0, Σy,
 * y0 − y1 + y2 − y3, y0 + 2y1 + 4y2 + 8y3, y0 − 2y1 + 4y2 − 8y3, y3)). */
#define SSL_DEFINE_TRANSFORMS(vec, suffix, attributes)                                                   \
    attributes static inline void transform_b##suffix(const vec d[6], vec v[6]) {                        \
        vec sum12 = d[1] + d[2], difference12 = d[1] - d[2], outer = d[4] - d[2], inner = d[3] - d[1];  \
        v[0] = 4 * d[0] - 5 * d[2] + d[4];                                                              \
        v[1] = (d[3] + d[4]) - 4 * sum12;                                                               \
        v[2] = (d[4] - d[3]) + 4 * difference12;                                                        \
        v[3] = outer + 2 * inner;                                                                       \
        v[4] = outer - 2 * inner;                                                                       \
        v[5] = 4 * d[1] - 5 * d[3] + d[5];                                                              \
    }                                                                                                   \
    attributes static inline void transform_a##suffix(const vec m[6], vec y[4]) {                        \
        vec sum12 = m[1] + m[2], difference12 = m[1] - m[2], sum34 = m[3] + m[4];                       \
        vec difference34 = m[3] - m[4];                                                                 \
        y[0] = m[0] + sum12 + sum34;                                                                    \
        y[1] = difference12 + 2 * difference34;                                                         \
        y[2] = sum12 + 4 * sum34;                                                                       \
        y[3] = difference12 + 8 * difference34 + m[5];                                                  \
    }                                                                                                   \
    attributes static inline void transform_a_transposed##suffix(const vec y[4], vec m[6]) {             \
        vec even = y[0] + y[2], odd = y[1] + y[3], even4 = y[0] + 4 * y[2], odd8 = 2 * y[1] + 8 * y[3]; \
        m[0] = y[0];                                                                                    \
        m[1] = even + odd;                                                                              \
        m[2] = even - odd;                                                                              \
        m[3] = even4 + odd8;                                                                            \
        m[4] = even4 - odd8;                                                                            \
        m[5] = y[3];                                                                                    \
    }

SSL_DEFINE_TRANSFORMS(f4, 4, )
SSL_DEFINE_TRANSFORMS(f8, 8, SSL_WIDE_TARGET)
SSL_DEFINE_TRANSFORMS(f16x, 16, SSL_WIDER_TARGET)

/// Writes a tile's four rows of four outputs, rows `row` apart, clipped to `extent`
/// (rows·8 + columns; 0 writes nothing).
static inline void store_tile(float *out, long extent, long row, f4 r0, f4 r1, f4 r2, f4 r3) {
    f4 rows[4] = {r0, r1, r2, r3};
    if (extent == 4 * 8 + 4) {
        for (int r = 0; r < 4; r++) store4(out + r * row, rows[r]);
        return;
    }
    long height = extent >> 3, width = extent & 7;
    for (long r = 0; r < height; r++) {
        for (long x = 0; x < width; x++) out[r * row + x] = rows[r][x];
    }
}

/// Reads a tile's four rows of four values, rows `row` apart, clipped to `extent` (rows·8 +
/// columns), zeros past it.
static inline void load_tile(const float *in, long extent, long row, f4 rows[4]) {
    if (extent == 4 * 8 + 4) {
        for (int r = 0; r < 4; r++) rows[r] = load4(in + r * row);
        return;
    }
    long height = extent >> 3, width = extent & 7;
    for (long r = 0; r < 4; r++) {
        f4 values = 0;
        if (r < height) {
            for (long x = 0; x < width; x++) values[x] = in[r * row + x];
        }
        rows[r] = values;
    }
}

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

/* Sixteen windows: each 512-bit vector holds a row of window j (lanes 0–7) and of window j + 8
 * (lanes 8–15), and the eight-window transpose runs on both halves at once, with each of its
 * shuffle patterns (p over two eight-float operands) widened to two sixteen-float ones: lane i
 * of the low half takes p[i] (+ 8 into the second operand), lane 8 + i of the high half p[i] + 8. */
#define SSL_PAIRS_T0 0, 16, 1, 17, 4, 20, 5, 21, 8, 24, 9, 25, 12, 28, 13, 29
#define SSL_PAIRS_T1 2, 18, 3, 19, 6, 22, 7, 23, 10, 26, 11, 27, 14, 30, 15, 31
#define SSL_PAIRS_U0 0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29
#define SSL_PAIRS_U1 2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31
#define SSL_PAIRS_C0 0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27
#define SSL_PAIRS_C1 4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31

/// Columns 0…5 of the six-float rows of sixteen windows at `offset`, over the sixteen tiles:
/// `transpose8_first6` on the two halves of each vector.
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

/* The input transform, defined once for both widths: Bᵀ along each of the window's six rows
 * (over its columns), then along the columns, stored per α. */
#define SSL_DEFINE_INPUT_TRANSFORM(name, vec, suffix, attributes, store)                                 \
    attributes void name(const float *const *windows, long channels, long plane, long row,               \
                         long alpha_stride, long channel_stride, float *target) {                        \
        vec rows[36];                                                                                     \
        for (long c = 0; c < channels; c++) {                                                             \
            for (int r = 0; r < 6; r++) {                                                                 \
                vec columns[6];                                                                           \
                window_columns##suffix(windows, c * plane + r * row, columns);                           \
                transform_b##suffix(columns, rows + 6 * r);                                               \
            }                                                                                             \
            float *channel_target = target + c * channel_stride;                                          \
            for (int k = 0; k < 6; k++) {                                                                 \
                vec d[6] = {rows[k], rows[6 + k], rows[12 + k], rows[18 + k], rows[24 + k], rows[30 + k]}; \
                vec v[6];                                                                                 \
                transform_b##suffix(d, v);                                                                \
                for (int i = 0; i < 6; i++) store(channel_target + (6 * i + k) * alpha_stride, v[i]);     \
            }                                                                                             \
        }                                                                                                 \
    }

SSL_DEFINE_INPUT_TRANSFORM(ssl_winograd4_transform_input, f4, 4, , store4)
SSL_DEFINE_INPUT_TRANSFORM(ssl_winograd4_transform_input8, f8, 8, SSL_WIDE_TARGET, store8)
SSL_DEFINE_INPUT_TRANSFORM(ssl_winograd4_transform_input16, f16x, 16, SSL_WIDER_TARGET, store16)

/* The output transform's first pass, for both widths: Aᵀ along each column k of M (its six α
 * = 6i + k, loaded from `source`), s[k][r] for the four rows r. */
#define SSL_DEFINE_OUTPUT_COLUMNS(vec, suffix, attributes, load)                                      \
    attributes static inline void transform_a_columns##suffix(const float *source, long alpha_stride,  \
                                                              vec s[6][4]) {                           \
        for (int k = 0; k < 6; k++) {                                                                  \
            vec m[6];                                                                                  \
            for (int i = 0; i < 6; i++) m[i] = load(source + (6 * i + k) * alpha_stride);              \
            transform_a##suffix(m, s[k]);                                                              \
        }                                                                                              \
    }

SSL_DEFINE_OUTPUT_COLUMNS(f4, 4, , load4)
SSL_DEFINE_OUTPUT_COLUMNS(f8, 8, SSL_WIDE_TARGET, load8)
SSL_DEFINE_OUTPUT_COLUMNS(f16x, 16, SSL_WIDER_TARGET, load16)

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

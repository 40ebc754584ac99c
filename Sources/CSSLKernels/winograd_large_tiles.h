// What the Winograd F(4×4, 3×3) transforms of every width share (winograd_large_tiles.c: four
// and eight tiles at a time; winograd_large_tiles16.c: sixteen): the vector types, loads and
// stores, and the transforms themselves, each defined once by a macro for every width.
#ifndef SSL_WINOGRAD_LARGE_TILES_H
#define SSL_WINOGRAD_LARGE_TILES_H

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
 * eight, f16x over sixteen) so that every width does the same operations in the same order on
 * every lane.
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

/* The input transform, defined once for every width: Bᵀ along each of the window's six rows
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

/* The output transform's first pass, for every width: Aᵀ along each column k of M (its six α
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

#endif

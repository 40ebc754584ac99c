// The input and output transforms of Winograd F(4×4, 3×3) over groups of four tiles, vectors
// over the tiles. They are in C for the 4×4 transposes: clang's vector shuffles stay shuffles,
// while Swift's lane-by-lane SIMD construction made the compiler turn the arithmetic around
// them into scalar code (three times slower). Plain C vectors (any architecture), no
// instruction-set attributes. Callers: SSLTensor/Kernels/WinogradConvolution+LargeTileTransforms.swift.
#include "CSSLKernels.h"
#include <string.h>

typedef float f4 __attribute__((ext_vector_type(4)));
typedef float f8 __attribute__((ext_vector_type(8)));

static inline f4 load4(const float *p) { f4 v; memcpy(&v, p, sizeof v); return v; }
static inline f8 load8(const float *p) { f8 v; memcpy(&v, p, sizeof v); return v; }
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

/// Bᵀ = [4 0 −5 0 1 0; 0 −4 −4 1 1 0; 0 4 −4 −1 1 0; 0 −2 −1 2 1 0; 0 2 −1 −2 1 0; 0 4 0 −5 0 1]
/// applied along one axis: d[0..5] → v[0..5].
static inline void transform_b(const f4 d[6], f4 v[6]) {
    f4 sum12 = d[1] + d[2], difference12 = d[1] - d[2], outer = d[4] - d[2], inner = d[3] - d[1];
    v[0] = 4 * d[0] - 5 * d[2] + d[4];
    v[1] = (d[3] + d[4]) - 4 * sum12;
    v[2] = (d[4] - d[3]) + 4 * difference12;
    v[3] = outer + 2 * inner;
    v[4] = outer - 2 * inner;
    v[5] = 4 * d[1] - 5 * d[3] + d[5];
}

/// Aᵀ = [1 1 1 1 1 0; 0 1 −1 2 −2 0; 0 1 1 4 4 0; 0 1 −1 8 −8 1] along one axis: m[0..5] → y[0..3].
static inline void transform_a(const f4 m[6], f4 y[4]) {
    f4 sum12 = m[1] + m[2], difference12 = m[1] - m[2], sum34 = m[3] + m[4], difference34 = m[3] - m[4];
    y[0] = m[0] + sum12 + sum34;
    y[1] = difference12 + 2 * difference34;
    y[2] = sum12 + 4 * sum34;
    y[3] = difference12 + 8 * difference34 + m[5];
}

/// A = (Aᵀ)ᵀ along one axis: y[0..3] → m[0..5] (m = (y0, Σy, y0 − y1 + y2 − y3, y0 + 2y1 + 4y2 + 8y3,
/// y0 − 2y1 + 4y2 − 8y3, y3)).
static inline void transform_a_transposed(const f4 y[4], f4 m[6]) {
    f4 even = y[0] + y[2], odd = y[1] + y[3], even4 = y[0] + 4 * y[2], odd8 = 2 * y[1] + 8 * y[3];
    m[0] = y[0];
    m[1] = even + odd;
    m[2] = even - odd;
    m[3] = even4 + odd8;
    m[4] = even4 - odd8;
    m[5] = y[3];
}

void ssl_winograd4_transform_input(const float *const *windows, long channels, long plane, long row,
                                   long alpha_stride, long channel_stride, float *target) {
    f4 rows[36];
    for (long c = 0; c < channels; c++) {
        long shift = c * plane;
        for (int r = 0; r < 6; r++) {
            long offset = shift + r * row;
            f8 a0 = load8(windows[0] + offset), a1 = load8(windows[1] + offset);
            f8 a2 = load8(windows[2] + offset), a3 = load8(windows[3] + offset);
            f4 low[4] = {a0.lo, a1.lo, a2.lo, a3.lo}, high[4] = {a0.hi, a1.hi, a2.hi, a3.hi};
            transpose4(low);
            transpose4(high);
            f4 columns[6] = {low[0], low[1], low[2], low[3], high[0], high[1]};
            transform_b(columns, rows + 6 * r);
        }
        float *channel_target = target + c * channel_stride;
        for (int k = 0; k < 6; k++) {
            f4 d[6] = {rows[k], rows[6 + k], rows[12 + k], rows[18 + k], rows[24 + k], rows[30 + k]}, v[6];
            transform_b(d, v);
            for (int i = 0; i < 6; i++) store4(channel_target + (6 * i + k) * alpha_stride, v[i]);
        }
    }
}

void ssl_winograd4_transform_output(const float *source, long alpha_stride, float *const *targets,
                                    const long *extents, long row) {
    f4 s[6][4];
    for (int k = 0; k < 6; k++) {
        f4 m[6];
        for (int i = 0; i < 6; i++) m[i] = load4(source + (6 * i + k) * alpha_stride);
        transform_a(m, s[k]);
    }
    f4 rows[4][4];  // rows[r][tile]
    for (int r = 0; r < 4; r++) {
        f4 m[6] = {s[0][r], s[1][r], s[2][r], s[3][r], s[4][r], s[5][r]};
        transform_a(m, rows[r]);
        transpose4(rows[r]);
    }
    for (int tile = 0; tile < 4; tile++) {
        long extent = extents[tile];
        float *out = targets[tile];
        if (extent == 4 * 8 + 4) {
            for (int r = 0; r < 4; r++) store4(out + r * row, rows[r][tile]);
            continue;
        }
        long height = extent >> 3, width = extent & 7;
        for (long r = 0; r < height; r++) {
            for (long x = 0; x < width; x++) out[r * row + x] = rows[r][tile][x];
        }
    }
}

void ssl_winograd4_transform_output_gradient(const float *const *sources, const long *extents, long row,
                                             long alpha_stride, float *target) {
    f4 rows[4][4];  // rows[r][tile], then, transposed, rows[r][x] over the tiles
    for (int tile = 0; tile < 4; tile++) {
        long extent = extents[tile];
        const float *in = sources[tile];
        if (extent == 4 * 8 + 4) {
            for (int r = 0; r < 4; r++) rows[r][tile] = load4(in + r * row);
            continue;
        }
        long height = extent >> 3, width = extent & 7;
        for (long r = 0; r < 4; r++) {
            f4 values = 0;
            if (r < height) {
                for (long x = 0; x < width; x++) values[x] = in[r * row + x];
            }
            rows[r][tile] = values;
        }
    }
    f4 s[4][6];  // s[r][k]: row r of dY times Aᵀ, over the tiles
    for (int r = 0; r < 4; r++) {
        transpose4(rows[r]);
        transform_a_transposed(rows[r], s[r]);
    }
    for (int k = 0; k < 6; k++) {
        f4 y[4] = {s[0][k], s[1][k], s[2][k], s[3][k]}, m[6];
        transform_a_transposed(y, m);
        for (int i = 0; i < 6; i++) store4(target + (6 * i + k) * alpha_stride, m[i]);
    }
}

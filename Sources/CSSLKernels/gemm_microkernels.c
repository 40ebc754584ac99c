// GEMM micro-kernels. See include/CSSLKernels.h for the contract.
#include "CSSLKernels.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#include <immintrin.h>

static unsigned long long ssl_read_xcr0(void) {
    unsigned int eax, edx;
    __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((unsigned long long)edx << 32) | eax;
}

int ssl_cpu_features(void) {
    unsigned int eax = 0, ebx = 0, ecx = 0, edx = 0;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return 0;
    const int has_fma = (ecx >> 12) & 1;
    const int has_osxsave = (ecx >> 27) & 1;
    const int has_avx = (ecx >> 28) & 1;
    if (!has_osxsave || !has_avx) return 0;
    const unsigned long long xcr0 = ssl_read_xcr0();
    if ((xcr0 & 0x6) != 0x6) return 0;  // XMM and YMM state enabled by the OS
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return 0;
    const int has_avx2 = (ebx >> 5) & 1;
    const int has_avx512f = (ebx >> 16) & 1;
    int features = 0;
    if (has_avx2 && has_fma) features |= SSL_CPU_AVX2_FMA;
    if (has_avx512f && (xcr0 & 0xE6) == 0xE6) features |= SSL_CPU_AVX512F;  // opmask, ZMM
    return features;
}

#define SSL_ROW512(r)                                              \
    {                                                              \
        const __m512 av = _mm512_set1_ps(a[r]);                    \
        acc##r##0 = _mm512_fmadd_ps(av, b0, acc##r##0);            \
        acc##r##1 = _mm512_fmadd_ps(av, b1, acc##r##1);            \
    }

#define SSL_STORE512(r)                                                               \
    {                                                                                 \
        float *row = c + (r) * ldc;                                                   \
        if (beta == 0.0f) {                                                           \
            _mm512_storeu_ps(row, _mm512_mul_ps(va, acc##r##0));                      \
            _mm512_storeu_ps(row + 16, _mm512_mul_ps(va, acc##r##1));                 \
        } else {                                                                      \
            _mm512_storeu_ps(row, _mm512_fmadd_ps(vb, _mm512_loadu_ps(row),           \
                                                  _mm512_mul_ps(va, acc##r##0)));     \
            _mm512_storeu_ps(row + 16, _mm512_fmadd_ps(vb, _mm512_loadu_ps(row + 16), \
                                                       _mm512_mul_ps(va, acc##r##1))); \
        }                                                                             \
    }

/* Row lists: SSL_ROWS12(X) expands X(0) … X(11), so one kernel body names its rows once. */
#define SSL_ROWS4(X) X(0) X(1) X(2) X(3)
#define SSL_ROWS6(X) X(0) X(1) X(2) X(3) X(4) X(5)
#define SSL_ROWS8(X) SSL_ROWS4(X) X(4) X(5) X(6) X(7)
#define SSL_ROWS12(X) SSL_ROWS8(X) X(8) X(9) X(10) X(11)
#define SSL_ZERO512(r) __m512 acc##r##0 = _mm512_setzero_ps(), acc##r##1 = _mm512_setzero_ps();
#define SSL_ZERO256(r) __m256 acc##r##0 = _mm256_setzero_ps(), acc##r##1 = _mm256_setzero_ps();
/* Prefetch of the C tile's rows (every cache line of a row of 32 or 16 floats) when a kernel
 * starts, so that they arrive during the depth loop: C is read (beta != 0) and written only
 * at the end, and a tile of a wide C is rarely still cached from the panel before (each row
 * is a whole leading dimension apart). On an AMD EPYC (Zen 3) the 6x16 kernel gained 0-12%
 * with it in a 512x1024x1024 product (medians of alternated runs of
 * Benchmarks/microkernel_loop.c, five runs of the program), and was never slower. */
#define SSL_PREFETCH_C512(r)                                                      \
    _mm_prefetch((const char *)(c + (r) * ldc), _MM_HINT_T0);                     \
    _mm_prefetch((const char *)(c + (r) * ldc + 16), _MM_HINT_T0);                \
    _mm_prefetch((const char *)(c + (r) * ldc + 31), _MM_HINT_T0);
#define SSL_PREFETCH_C256(r)                                                      \
    _mm_prefetch((const char *)(c + (r) * ldc), _MM_HINT_T0);                     \
    _mm_prefetch((const char *)(c + (r) * ldc + 15), _MM_HINT_T0);

__attribute__((target("avx512f")))
void ssl_sgemm_kernel_12x32_avx512(long k, const float *a, const float *b, float *c, long ldc,
                                   float alpha, float beta) {
    SSL_ROWS12(SSL_PREFETCH_C512)
    SSL_ROWS12(SSL_ZERO512)
    for (long p = 0; p < k; ++p) {
        const __m512 b0 = _mm512_loadu_ps(b);
        const __m512 b1 = _mm512_loadu_ps(b + 16);
        _mm_prefetch((const char *)(b + 256), _MM_HINT_T0);
        SSL_ROWS12(SSL_ROW512)
        a += 12;
        b += 32;
    }
    const __m512 va = _mm512_set1_ps(alpha);
    const __m512 vb = _mm512_set1_ps(beta);
    SSL_ROWS12(SSL_STORE512)
}

/* Edge kernels for the last, partial sliver of a 12-row packed A panel: 8 or 4 rows of C,
 * reading A with the panel's stride of 12 floats per depth step (the padding rows are never
 * touched). They let M = 32, 64, 128 (12·k + 8 or + 4) run without computing zero rows. */
__attribute__((target("avx512f")))
void ssl_sgemm_kernel_8x32_avx512(long k, const float *a, const float *b, float *c, long ldc,
                                  float alpha, float beta) {
    SSL_ROWS8(SSL_PREFETCH_C512)
    SSL_ROWS8(SSL_ZERO512)
    for (long p = 0; p < k; ++p) {
        const __m512 b0 = _mm512_loadu_ps(b);
        const __m512 b1 = _mm512_loadu_ps(b + 16);
        _mm_prefetch((const char *)(b + 256), _MM_HINT_T0);
        SSL_ROWS8(SSL_ROW512)
        a += 12;
        b += 32;
    }
    const __m512 va = _mm512_set1_ps(alpha);
    const __m512 vb = _mm512_set1_ps(beta);
    SSL_ROWS8(SSL_STORE512)
}

__attribute__((target("avx512f")))
void ssl_sgemm_kernel_4x32_avx512(long k, const float *a, const float *b, float *c, long ldc,
                                  float alpha, float beta) {
    SSL_ROWS4(SSL_PREFETCH_C512)
    SSL_ROWS4(SSL_ZERO512)
    for (long p = 0; p < k; ++p) {
        const __m512 b0 = _mm512_loadu_ps(b);
        const __m512 b1 = _mm512_loadu_ps(b + 16);
        SSL_ROWS4(SSL_ROW512)
        a += 12;
        b += 32;
    }
    const __m512 va = _mm512_set1_ps(alpha);
    const __m512 vb = _mm512_set1_ps(beta);
    SSL_ROWS4(SSL_STORE512)
}

/* Gathered-A kernels: depth column p of the A sliver (MR floats along C's rows) is read in
 * place, at a + a_columns[p], instead of from a packed sliver; B is packed as usual. The
 * transposed product of a stride-1 convolution, Cᵀ = columnsᵀ · Wᵀ, taken over output
 * positions that keep the padded image's width, has exactly such an A: its column
 * (c, ky, kx) is the padded image read from offset c·Hp·Wp + ky·Wp + kx on, one float per
 * position. The broadcasts read single floats, so no load ever splits a cache line. */
__attribute__((target("avx512f")))
void ssl_sgemm_kernel_12x32_avx512_gathered(long k, const float *a, const long *a_columns, const float *b,
                                            float *c, long ldc, float alpha, float beta) {
    SSL_ROWS12(SSL_PREFETCH_C512)
    SSL_ROWS12(SSL_ZERO512)
    const float *const origin = a;
    for (long p = 0; p < k; ++p) {
        a = origin + a_columns[p];
        const __m512 b0 = _mm512_loadu_ps(b);
        const __m512 b1 = _mm512_loadu_ps(b + 16);
        _mm_prefetch((const char *)(b + 256), _MM_HINT_T0);
        SSL_ROWS12(SSL_ROW512)
        b += 32;
    }
    const __m512 va = _mm512_set1_ps(alpha);
    const __m512 vb = _mm512_set1_ps(beta);
    SSL_ROWS12(SSL_STORE512)
}

#define SSL_ROW256(r)                                              \
    {                                                              \
        const __m256 av = _mm256_broadcast_ss(a + (r));            \
        acc##r##0 = _mm256_fmadd_ps(av, b0, acc##r##0);            \
        acc##r##1 = _mm256_fmadd_ps(av, b1, acc##r##1);            \
    }

#define SSL_STORE256(r)                                                              \
    {                                                                                \
        float *row = c + (r) * ldc;                                                  \
        if (beta == 0.0f) {                                                          \
            _mm256_storeu_ps(row, _mm256_mul_ps(va, acc##r##0));                     \
            _mm256_storeu_ps(row + 8, _mm256_mul_ps(va, acc##r##1));                 \
        } else {                                                                     \
            _mm256_storeu_ps(row, _mm256_fmadd_ps(vb, _mm256_loadu_ps(row),          \
                                                  _mm256_mul_ps(va, acc##r##0)));    \
            _mm256_storeu_ps(row + 8, _mm256_fmadd_ps(vb, _mm256_loadu_ps(row + 8),  \
                                                      _mm256_mul_ps(va, acc##r##1))); \
        }                                                                            \
    }

__attribute__((target("avx2,fma")))
void ssl_sgemm_kernel_6x16_avx2(long k, const float *a, const float *b, float *c, long ldc,
                                float alpha, float beta) {
    SSL_ROWS6(SSL_PREFETCH_C256)
    SSL_ROWS6(SSL_ZERO256)
    for (long p = 0; p < k; ++p) {
        const __m256 b0 = _mm256_loadu_ps(b);
        const __m256 b1 = _mm256_loadu_ps(b + 8);
        _mm_prefetch((const char *)(b + 128), _MM_HINT_T0);
        SSL_ROWS6(SSL_ROW256)
        a += 6;
        b += 16;
    }
    const __m256 va = _mm256_set1_ps(alpha);
    const __m256 vb = _mm256_set1_ps(beta);
    SSL_ROWS6(SSL_STORE256)
}

/* Edge kernels for the last, partial sliver of a 6-row packed A panel: 4 or 2 rows of C,
 * reading A with the panel's stride of 6 floats per depth step. Layer widths are powers of two
 * (32 = 5·6 + 2, 64 = 10·6 + 4, 128 = 21·6 + 2, …), so without them the last sliver computes
 * 6 rows for 2 or 4 and goes through a tile buffer. */
#define SSL_ROWS2(X) X(0) X(1)
__attribute__((target("avx2,fma")))
void ssl_sgemm_kernel_4x16_avx2(long k, const float *a, const float *b, float *c, long ldc,
                                float alpha, float beta) {
    SSL_ROWS4(SSL_PREFETCH_C256)
    SSL_ROWS4(SSL_ZERO256)
    for (long p = 0; p < k; ++p) {
        const __m256 b0 = _mm256_loadu_ps(b);
        const __m256 b1 = _mm256_loadu_ps(b + 8);
        SSL_ROWS4(SSL_ROW256)
        a += 6;
        b += 16;
    }
    const __m256 va = _mm256_set1_ps(alpha);
    const __m256 vb = _mm256_set1_ps(beta);
    SSL_ROWS4(SSL_STORE256)
}

__attribute__((target("avx2,fma")))
void ssl_sgemm_kernel_2x16_avx2(long k, const float *a, const float *b, float *c, long ldc,
                                float alpha, float beta) {
    SSL_ROWS2(SSL_PREFETCH_C256)
    SSL_ROWS2(SSL_ZERO256)
    for (long p = 0; p < k; ++p) {
        const __m256 b0 = _mm256_loadu_ps(b);
        const __m256 b1 = _mm256_loadu_ps(b + 8);
        SSL_ROWS2(SSL_ROW256)
        a += 6;
        b += 16;
    }
    const __m256 va = _mm256_set1_ps(alpha);
    const __m256 vb = _mm256_set1_ps(beta);
    SSL_ROWS2(SSL_STORE256)
}

__attribute__((target("avx2,fma")))
void ssl_sgemm_kernel_6x16_avx2_gathered(long k, const float *a, const long *a_columns, const float *b,
                                         float *c, long ldc, float alpha, float beta) {
    SSL_ROWS6(SSL_PREFETCH_C256)
    SSL_ROWS6(SSL_ZERO256)
    const float *const origin = a;
    for (long p = 0; p < k; ++p) {
        a = origin + a_columns[p];
        const __m256 b0 = _mm256_loadu_ps(b);
        const __m256 b1 = _mm256_loadu_ps(b + 8);
        SSL_ROWS6(SSL_ROW256)
        b += 16;
    }
    const __m256 va = _mm256_set1_ps(alpha);
    const __m256 vb = _mm256_set1_ps(beta);
    SSL_ROWS6(SSL_STORE256)
}

/* Peak loops: independent chains acc = acc·x + y (x just below 1, so the values settle near
 * y / (1 − x) and never overflow or go subnormal). */
#define SSL_PEAK_CHAINS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15)

__attribute__((target("avx512f")))
long ssl_fma_peak_avx512(long iterations, float *sink) {
#define SSL_PEAK_INIT512(i) __m512 acc##i = _mm512_set1_ps(0.001f * (float)(i));
#define SSL_PEAK_FMA512(i) acc##i = _mm512_fmadd_ps(acc##i, x, y);
#define SSL_PEAK_SUM512(i) total = _mm512_add_ps(total, acc##i);
    const __m512 x = _mm512_set1_ps(0.9999999f), y = _mm512_set1_ps(1e-7f);
    SSL_PEAK_CHAINS(SSL_PEAK_INIT512)
    for (long i = 0; i < iterations; ++i) {
        SSL_PEAK_CHAINS(SSL_PEAK_FMA512)
    }
    __m512 total = _mm512_setzero_ps();
    SSL_PEAK_CHAINS(SSL_PEAK_SUM512)
    *sink = _mm512_reduce_add_ps(total);
    return iterations * 16 * 16 * 2;
}

__attribute__((target("avx2,fma")))
long ssl_fma_peak_avx2(long iterations, float *sink) {
#define SSL_PEAK_INIT256(i) __m256 acc##i = _mm256_set1_ps(0.001f * (float)(i));
#define SSL_PEAK_FMA256(i) acc##i = _mm256_fmadd_ps(acc##i, x, y);
#define SSL_PEAK_SUM256(i) total = _mm256_add_ps(total, acc##i);
    const __m256 x = _mm256_set1_ps(0.9999999f), y = _mm256_set1_ps(1e-7f);
    /* 14 chains: with x and y that is all 16 YMM registers. */
    SSL_PEAK_INIT256(0) SSL_PEAK_INIT256(1) SSL_PEAK_INIT256(2) SSL_PEAK_INIT256(3) SSL_PEAK_INIT256(4)
    SSL_PEAK_INIT256(5) SSL_PEAK_INIT256(6) SSL_PEAK_INIT256(7) SSL_PEAK_INIT256(8) SSL_PEAK_INIT256(9)
    SSL_PEAK_INIT256(10) SSL_PEAK_INIT256(11) SSL_PEAK_INIT256(12) SSL_PEAK_INIT256(13)
    for (long i = 0; i < iterations; ++i) {
        SSL_PEAK_FMA256(0) SSL_PEAK_FMA256(1) SSL_PEAK_FMA256(2) SSL_PEAK_FMA256(3) SSL_PEAK_FMA256(4)
        SSL_PEAK_FMA256(5) SSL_PEAK_FMA256(6) SSL_PEAK_FMA256(7) SSL_PEAK_FMA256(8) SSL_PEAK_FMA256(9)
        SSL_PEAK_FMA256(10) SSL_PEAK_FMA256(11) SSL_PEAK_FMA256(12) SSL_PEAK_FMA256(13)
    }
    __m256 total = _mm256_setzero_ps();
    SSL_PEAK_SUM256(0) SSL_PEAK_SUM256(1) SSL_PEAK_SUM256(2) SSL_PEAK_SUM256(3) SSL_PEAK_SUM256(4)
    SSL_PEAK_SUM256(5) SSL_PEAK_SUM256(6) SSL_PEAK_SUM256(7) SSL_PEAK_SUM256(8) SSL_PEAK_SUM256(9)
    SSL_PEAK_SUM256(10) SSL_PEAK_SUM256(11) SSL_PEAK_SUM256(12) SSL_PEAK_SUM256(13)
    float lanes[8];
    _mm256_storeu_ps(lanes, total);
    *sink = lanes[0] + lanes[1] + lanes[2] + lanes[3] + lanes[4] + lanes[5] + lanes[6] + lanes[7];
    return iterations * 14 * 8 * 2;
}

#else  // not x86-64

long ssl_fma_peak_avx512(long iterations, float *sink) {
    (void)iterations; (void)sink;
    __builtin_trap();
}

long ssl_fma_peak_avx2(long iterations, float *sink) {
    (void)iterations; (void)sink;
    __builtin_trap();
}

int ssl_cpu_features(void) { return 0; }

static void ssl_kernel_unavailable(void) { __builtin_trap(); }

void ssl_sgemm_kernel_12x32_avx512(long k, const float *a, const float *b, float *c, long ldc,
                                   float alpha, float beta) {
    (void)k; (void)a; (void)b; (void)c; (void)ldc; (void)alpha; (void)beta;
    ssl_kernel_unavailable();
}

void ssl_sgemm_kernel_6x16_avx2(long k, const float *a, const float *b, float *c, long ldc,
                                float alpha, float beta) {
    (void)k; (void)a; (void)b; (void)c; (void)ldc; (void)alpha; (void)beta;
    ssl_kernel_unavailable();
}

void ssl_sgemm_kernel_8x32_avx512(long k, const float *a, const float *b, float *c, long ldc,
                                  float alpha, float beta) {
    (void)k; (void)a; (void)b; (void)c; (void)ldc; (void)alpha; (void)beta;
    ssl_kernel_unavailable();
}

void ssl_sgemm_kernel_4x16_avx2(long k, const float *a, const float *b, float *c, long ldc,
                                float alpha, float beta) {
    (void)k; (void)a; (void)b; (void)c; (void)ldc; (void)alpha; (void)beta;
    ssl_kernel_unavailable();
}

void ssl_sgemm_kernel_2x16_avx2(long k, const float *a, const float *b, float *c, long ldc,
                                float alpha, float beta) {
    (void)k; (void)a; (void)b; (void)c; (void)ldc; (void)alpha; (void)beta;
    ssl_kernel_unavailable();
}

void ssl_sgemm_kernel_4x32_avx512(long k, const float *a, const float *b, float *c, long ldc,
                                  float alpha, float beta) {
    (void)k; (void)a; (void)b; (void)c; (void)ldc; (void)alpha; (void)beta;
    ssl_kernel_unavailable();
}

void ssl_sgemm_kernel_12x32_avx512_gathered(long k, const float *a, const long *a_columns, const float *b,
                                            float *c, long ldc, float alpha, float beta) {
    (void)k; (void)a; (void)a_columns; (void)b; (void)c; (void)ldc; (void)alpha; (void)beta;
    ssl_kernel_unavailable();
}

void ssl_sgemm_kernel_6x16_avx2_gathered(long k, const float *a, const long *a_columns, const float *b,
                                         float *c, long ldc, float alpha, float beta) {
    (void)k; (void)a; (void)a_columns; (void)b; (void)c; (void)ldc; (void)alpha; (void)beta;
    ssl_kernel_unavailable();
}

#endif

/* C = alpha·acc + beta·C for a 6x16 tile (C not read when beta is 0). */
static inline void ssl_store_6x16_generic(float acc[6][16], float *c, long ldc, float alpha, float beta) {
    for (int r = 0; r < 6; ++r) {
        float *row = c + r * ldc;
        if (beta == 0.0f) {
            for (int j = 0; j < 16; ++j) row[j] = alpha * acc[r][j];
        } else {
            for (int j = 0; j < 16; ++j) row[j] = alpha * acc[r][j] + beta * row[j];
        }
    }
}

void ssl_sgemm_kernel_6x16_generic(long k, const float *a, const float *b, float *c, long ldc,
                                   float alpha, float beta) {
    float acc[6][16];
    for (int r = 0; r < 6; ++r)
        for (int j = 0; j < 16; ++j) acc[r][j] = 0.0f;
    for (long p = 0; p < k; ++p) {
        for (int r = 0; r < 6; ++r) {
            const float av = a[r];
            for (int j = 0; j < 16; ++j) acc[r][j] += av * b[j];
        }
        a += 6;
        b += 16;
    }
    ssl_store_6x16_generic(acc, c, ldc, alpha, beta);
}

void ssl_sgemm_kernel_6x16_generic_gathered(long k, const float *a, const long *a_columns, const float *b,
                                            float *c, long ldc, float alpha, float beta) {
    float acc[6][16];
    for (int r = 0; r < 6; ++r)
        for (int j = 0; j < 16; ++j) acc[r][j] = 0.0f;
    for (long p = 0; p < k; ++p) {
        const float *column = a + a_columns[p];
        for (int r = 0; r < 6; ++r) {
            const float av = column[r];
            for (int j = 0; j < 16; ++j) acc[r][j] += av * b[j];
        }
        b += 16;
    }
    ssl_store_6x16_generic(acc, c, ldc, alpha, beta);
}

long ssl_fma_peak_generic(long iterations, float *sink) {
    /* 12 chains of 4 lanes (one SSE2 / NEON register each, with room for x and y), multiply
     * then add. Vector extensions keep the chains in registers, where a float array would not. */
    typedef float ssl_v4 __attribute__((vector_size(16)));
#define SSL_PEAK_INIT4(i) ssl_v4 acc##i = {0.001f * (float)(i), 0.002f, 0.003f, 0.004f};
#define SSL_PEAK_STEP4(i) acc##i = acc##i * x + y;
#define SSL_PEAK_SUM4(i) total += acc##i;
#define SSL_PEAK_CHAINS12(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
    const ssl_v4 x = {0.9999999f, 0.9999999f, 0.9999999f, 0.9999999f};
    const ssl_v4 y = {1e-7f, 1e-7f, 1e-7f, 1e-7f};
    SSL_PEAK_CHAINS12(SSL_PEAK_INIT4)
    for (long i = 0; i < iterations; ++i) {
        SSL_PEAK_CHAINS12(SSL_PEAK_STEP4)
    }
    ssl_v4 total = {0.0f, 0.0f, 0.0f, 0.0f};
    SSL_PEAK_CHAINS12(SSL_PEAK_SUM4)
    *sink = total[0] + total[1] + total[2] + total[3];
    return iterations * 12 * 4 * 2;
}

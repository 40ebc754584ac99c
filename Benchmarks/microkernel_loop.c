/* The AVX2 6x16 GEMM micro-kernel in gemm's loop over packed panels, one core, without the
 * Swift driver: C = A·B for 512x1024x1024 (C's leading dimension 1024), panels of depth 256,
 * blocks of 192 rows, B slivers outer and A slivers inner as in gemm. It compares the
 * library's kernel (which prefetches its C tile when it starts) with the same kernel without
 * that prefetch, with a C tile that stays in L1 (the bound prefetching can approach), and with
 * three variants of its loop: unrolled four times, without the B prefetch, and prefetching A
 * too. Alternated runs, median and quartiles of GFLOP/s:
 *
 *     clang -O2 -I Sources/CSSLKernels/include Benchmarks/microkernel_loop.c \
 *         Sources/CSSLKernels/gemm_microkernels.c -o /tmp/microkernel_loop && /tmp/microkernel_loop
 *
 * (x86-64 with AVX2 and FMA; the packed operands hold arbitrary values, only speed is measured.) */
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "CSSLKernels.h"

#define ROWS6(X) X(0) X(1) X(2) X(3) X(4) X(5)
#define ZERO(r) __m256 acc##r##0 = _mm256_setzero_ps(), acc##r##1 = _mm256_setzero_ps();
#define ROW(r)                                              \
    {                                                       \
        const __m256 av = _mm256_broadcast_ss(a + (r));     \
        acc##r##0 = _mm256_fmadd_ps(av, b0, acc##r##0);     \
        acc##r##1 = _mm256_fmadd_ps(av, b1, acc##r##1);     \
    }
#define STORE(r)                                                                                   \
    {                                                                                              \
        float *row = c + (r) * ldc;                                                                \
        if (beta == 0.0f) {                                                                        \
            _mm256_storeu_ps(row, _mm256_mul_ps(va, acc##r##0));                                   \
            _mm256_storeu_ps(row + 8, _mm256_mul_ps(va, acc##r##1));                               \
        } else {                                                                                   \
            _mm256_storeu_ps(row, _mm256_fmadd_ps(vb, _mm256_loadu_ps(row), _mm256_mul_ps(va, acc##r##0)));   \
            _mm256_storeu_ps(row + 8, _mm256_fmadd_ps(vb, _mm256_loadu_ps(row + 8), _mm256_mul_ps(va, acc##r##1))); \
        }                                                                                          \
    }

/* The library's kernel without its C prefetch, optionally without its B prefetch or with an
 * A prefetch (16 steps ahead) as well. */
#define LOOP_KERNEL(name, prefetch_b, prefetch_a)                                                   \
    __attribute__((target("avx2,fma"))) static void name(long k, const float *a, const float *b,    \
                                                         float *c, long ldc, float alpha, float beta) { \
        ROWS6(ZERO)                                                                                 \
        for (long p = 0; p < k; ++p) {                                                              \
            const __m256 b0 = _mm256_loadu_ps(b);                                                   \
            const __m256 b1 = _mm256_loadu_ps(b + 8);                                               \
            if (prefetch_b) _mm_prefetch((const char *)(b + 128), _MM_HINT_T0);                     \
            if (prefetch_a) _mm_prefetch((const char *)(a + 96), _MM_HINT_T0);                      \
            ROWS6(ROW)                                                                              \
            a += 6;                                                                                 \
            b += 16;                                                                                \
        }                                                                                           \
        const __m256 va = _mm256_set1_ps(alpha);                                                    \
        const __m256 vb = _mm256_set1_ps(beta);                                                     \
        ROWS6(STORE)                                                                                \
    }
LOOP_KERNEL(kernel_without_c_prefetch, 1, 0)
LOOP_KERNEL(kernel_without_any_prefetch, 0, 0)
LOOP_KERNEL(kernel_prefetching_a, 1, 1)

/* One depth step of the unrolled loop: step u of the four, reading A and B u steps further. */
#define UNROLLED_STEP(u)                                                \
    {                                                                   \
        const __m256 b0 = _mm256_loadu_ps(b + 16 * (u));                \
        const __m256 b1 = _mm256_loadu_ps(b + 16 * (u) + 8);            \
        const float *const step_a = a + 6 * (u);                        \
        {                                                               \
            const float *a = step_a;                                    \
            ROWS6(ROW)                                                  \
        }                                                               \
    }

/* The loop unrolled four times (one prefetch of B per two steps). */
__attribute__((target("avx2,fma"))) static void kernel_unrolled(
    long k, const float *a, const float *b, float *c, long ldc, float alpha, float beta) {
    ROWS6(ZERO)
    long p = 0;
    for (; p + 4 <= k; p += 4) {
        _mm_prefetch((const char *)(b + 128), _MM_HINT_T0);
        UNROLLED_STEP(0) UNROLLED_STEP(1)
        _mm_prefetch((const char *)(b + 160), _MM_HINT_T0);
        UNROLLED_STEP(2) UNROLLED_STEP(3)
        a += 24;
        b += 64;
    }
    for (; p < k; ++p) {
        UNROLLED_STEP(0)
        a += 6;
        b += 16;
    }
    const __m256 va = _mm256_set1_ps(alpha);
    const __m256 vb = _mm256_set1_ps(beta);
    ROWS6(STORE)
}

typedef void (*Kernel)(long, const float *, const float *, float *, long, float, float);
enum { M = 512, N = 1024, K = 1024, KC = 256, MC = 192, LDC = 1024, RUNS = 41 };
static float *packed_a, *packed_b, *c_matrix;
static float c_tile[6 * 16] __attribute__((aligned(64)));

static double seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* One product; `tile_in_l1` writes every tile to the same small buffer instead of C. */
static double gflops(Kernel kernel, int tile_in_l1) {
    const double start = seconds();
    for (long pc = 0; pc < K; pc += KC) {
        const float *panel_b = packed_b + pc * N;
        for (long ic = 0; ic < M; ic += MC) {
            const long rows = ic + MC > M ? M - ic : MC;
            const float *block_a = packed_a + pc * M + ic * KC;
            for (long j = 0; j < N / 16; ++j)
                for (long s = 0; s < rows / 6; ++s) {
                    float *c = tile_in_l1 ? c_tile : c_matrix + (ic + s * 6) * LDC + j * 16;
                    kernel(KC, block_a + s * 6 * KC, panel_b + j * 16 * KC, c, tile_in_l1 ? 16 : LDC, 1.0f,
                           pc ? 1.0f : 0.0f);
                }
        }
    }
    return 2.0 * M * N * K / (seconds() - start) / 1e9;
}

static int ascending(const void *x, const void *y) {
    const double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

int main(void) {
    packed_a = aligned_alloc(64, sizeof(float) * (M + 16) * K);
    packed_b = aligned_alloc(64, sizeof(float) * K * N);
    c_matrix = aligned_alloc(64, sizeof(float) * M * LDC);
    for (long i = 0; i < (long)(M + 16) * K; ++i) packed_a[i] = (float)(i % 7) * 0.01f;
    for (long i = 0; i < (long)K * N; ++i) packed_b[i] = (float)(i % 5) * 0.01f;
    memset(c_matrix, 0, sizeof(float) * M * LDC);
    const struct { const char *name; Kernel kernel; int tile_in_l1; } cases[] = {
        {"library kernel (prefetches C)", ssl_sgemm_kernel_6x16_avx2, 0},
        {"without the C prefetch", kernel_without_c_prefetch, 0},
        {"C tile kept in L1 (bound)", ssl_sgemm_kernel_6x16_avx2, 1},
        {"loop unrolled four times", kernel_unrolled, 0},
        {"without any prefetch", kernel_without_any_prefetch, 0},
        {"prefetching A too", kernel_prefetching_a, 0},
    };
    double results[6][RUNS];
    for (int run = 0; run < RUNS; ++run)
        for (int i = 0; i < 6; ++i) results[i][run] = gflops(cases[i].kernel, cases[i].tile_in_l1);
    for (int i = 0; i < 6; ++i) {
        qsort(results[i], RUNS, sizeof(double), ascending);
        printf("%-30s median %5.1f GFLOP/s (quartiles %5.1f, %5.1f)\n", cases[i].name, results[i][RUNS / 2],
               results[i][RUNS / 4], results[i][3 * RUNS / 4]);
    }
    return 0;
}

// CSSLKernels: the only C in the framework. It holds the GEMM micro-kernels that need
// instruction-set attributes Swift cannot express per function (AVX-512, AVX2+FMA), plus
// portable fallbacks, and a CPU-feature probe so Swift can choose among them at run time;
// and the Winograd F(4×4, 3×3) transforms, whose 4×4 transposes Swift's SIMD types compile
// to scalar code (portable C vectors). Packing, blocking and threading live in Swift
// (SSLTensor/Kernels/GEMM.swift, WinogradConvolution*.swift).
#ifndef CSSLKERNELS_H
#define CSSLKERNELS_H

#ifdef __cplusplus
extern "C" {
#endif

/// Bit flags returned by `ssl_cpu_features`.
enum {
    SSL_CPU_AVX2_FMA = 1,  ///< AVX2 and FMA3, with OS support for YMM state.
    SSL_CPU_AVX512F = 2    ///< AVX-512F, with OS support for ZMM and opmask state.
};

/// CPU features usable by the micro-kernels on this machine (x86-64: CPUID + XGETBV; other
/// architectures: 0).
int ssl_cpu_features(void);

// Micro-kernel contract (all variants):
//   C[MR x NR] = alpha * (A_panel · B_panel) + beta * C, where
//   a: packed A sliver, k groups of MR floats (column p holds rows 0..MR-1);
//   b: packed B sliver, k groups of NR floats (row p holds columns 0..NR-1);
//   c: row-major tile with row stride ldc. When beta == 0, C is not read (it may hold NaN).

/// 12x32 micro-kernel with AVX-512F (24 zmm accumulators). Call only when
/// `ssl_cpu_features() & SSL_CPU_AVX512F`.
void ssl_sgemm_kernel_12x32_avx512(long k, const float *a, const float *b, float *c, long ldc,
                                   float alpha, float beta);

/// Edge kernels for the last sliver of a 12-row packed A panel: 8 (or 4) rows x 32 with
/// AVX-512F, A read with a stride of 12 floats per depth step. Same contract otherwise.
void ssl_sgemm_kernel_8x32_avx512(long k, const float *a, const float *b, float *c, long ldc,
                                  float alpha, float beta);
void ssl_sgemm_kernel_4x32_avx512(long k, const float *a, const float *b, float *c, long ldc,
                                  float alpha, float beta);

/// 6x16 micro-kernel with AVX2 + FMA (12 ymm accumulators). Call only when
/// `ssl_cpu_features() & SSL_CPU_AVX2_FMA`.
void ssl_sgemm_kernel_6x16_avx2(long k, const float *a, const float *b, float *c, long ldc,
                                float alpha, float beta);

/// Edge kernels for the last sliver of a 6-row packed A panel: 4 (or 2) rows x 16 with AVX2 +
/// FMA, A read with a stride of 6 floats per depth step. Same contract otherwise.
void ssl_sgemm_kernel_4x16_avx2(long k, const float *a, const float *b, float *c, long ldc,
                                float alpha, float beta);
void ssl_sgemm_kernel_2x16_avx2(long k, const float *a, const float *b, float *c, long ldc,
                                float alpha, float beta);

/// Portable 6x16 micro-kernel (plain C the compiler vectorises for the baseline ISA: SSE2 on
/// x86-64, NEON on arm64).
void ssl_sgemm_kernel_6x16_generic(long k, const float *a, const float *b, float *c, long ldc,
                                   float alpha, float beta);

// Gathered-A variants: the same contract, except that A is not packed: column p of the A
// sliver (its MR floats, rows 0..MR-1) is read at `a + a_columns[p]`. B is packed as usual.
void ssl_sgemm_kernel_12x32_avx512_gathered(long k, const float *a, const long *a_columns, const float *b,
                                            float *c, long ldc, float alpha, float beta);
void ssl_sgemm_kernel_6x16_avx2_gathered(long k, const float *a, const long *a_columns, const float *b,
                                         float *c, long ldc, float alpha, float beta);
void ssl_sgemm_kernel_6x16_generic_gathered(long k, const float *a, const long *a_columns, const float *b,
                                            float *c, long ldc, float alpha, float beta);

// FMA peak loops: `iterations` rounds of independent fused multiply-adds on registers only
// (12 to 16 accumulator chains, enough to cover the FMA latency on two FMA ports), nothing read or
// written in memory. Each returns the floating-point operations it performed (2 per lane of
// every FMA) and stores a value that depends on all of them in `*sink`, so the loop is not
// removed. Timing one gives the single-core FMA peak of a kernel family, against which the
// GEMM and convolution figures read as a fraction. Same availability rules as the kernels.
long ssl_fma_peak_avx512(long iterations, float *sink);
long ssl_fma_peak_avx2(long iterations, float *sink);
/// The portable loop: multiplies and adds (no FMA in the baseline ISA), 2 operations per lane.
long ssl_fma_peak_generic(long iterations, float *sink);

// Winograd F(4×4, 3×3) transforms of four tiles at a time (winograd_large_tiles.c and …16.c; vectors
// over the tiles, portable C), of eight with AVX and of sixteen with AVX-512. Strides and offsets
// are in floats.

/// V[α = 6i + k] = (Bᵀ d B)[i][k] for the 6×6 windows at `windows[0..3]` (each read as six rows of
/// eight floats, `row` apart; channel c's window `c * plane` further), for every channel:
/// four floats (one per tile) at `target + α * alpha_stride + c * channel_stride`.
void ssl_winograd4_transform_input(const float *const *windows, long channels, long plane, long row,
                                   long alpha_stride, long channel_stride, float *target);

/// `ssl_winograd4_transform_input` for eight tiles (`windows[0..7]`, eight floats per channel and
/// α), with 256-bit vectors: call it only where the CPU has AVX (`ssl_cpu_features`). Each tile's
/// values are the same bits as the four-tile function's.
void ssl_winograd4_transform_input8(const float *const *windows, long channels, long plane, long row,
                                    long alpha_stride, long channel_stride, float *target);

/// Y = Aᵀ M A for four tiles: M[α] (one float per tile) at `source + α * alpha_stride`; tile j's
/// 4×4 outputs go to `targets[j]` (rows `row` apart), clipped to `extents[j]` (rows·8 + columns;
/// 0 writes nothing).
void ssl_winograd4_transform_output(const float *source, long alpha_stride, float *const *targets,
                                    const long *extents, long row);

/// M[α = 6i + k] = (A dY Aᵀ)[i][k] for four tiles of the output gradient (the weight gradient's
/// transform): tile j's 4×4 values at `sources[j]` (rows `row` apart), clipped to `extents[j]`
/// (rows·8 + columns; zeros past it, all zeros for 0): four floats (one per tile) at
/// `target + α * alpha_stride`.
void ssl_winograd4_transform_output_gradient(const float *const *sources, const long *extents, long row,
                                             long alpha_stride, float *target);

/// `ssl_winograd4_transform_output` and `ssl_winograd4_transform_output_gradient` for eight tiles
/// (`targets[0..7]`, `sources[0..7]`, `extents[0..7]`; eight floats per α), with 256-bit vectors:
/// call them only where the CPU has AVX. Each tile's values are the same bits as the four-tile
/// functions'.
void ssl_winograd4_transform_output8(const float *source, long alpha_stride, float *const *targets,
                                     const long *extents, long row);
void ssl_winograd4_transform_output_gradient8(const float *const *sources, const long *extents, long row,
                                              long alpha_stride, float *target);

/// The three transforms for sixteen tiles (sixteen windows, targets, sources and extents; sixteen
/// floats per α), with 512-bit vectors: call them only where the CPU has AVX-512F. Each tile's
/// values are the same bits as the four-tile functions'.
void ssl_winograd4_transform_input16(const float *const *windows, long channels, long plane, long row,
                                     long alpha_stride, long channel_stride, float *target);
void ssl_winograd4_transform_output16(const float *source, long alpha_stride, float *const *targets,
                                      const long *extents, long row);
void ssl_winograd4_transform_output_gradient16(const float *const *sources, const long *extents, long row,
                                               long alpha_stride, float *target);

#ifdef __cplusplus
}
#endif

#endif

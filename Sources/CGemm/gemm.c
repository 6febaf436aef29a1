#include "forger_gemm.h"
#include "lanes.h"
#include <string.h>
#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

enum { MR = FORGER_GEMM_MR, NR = FORGER_GEMM_NR, NV = FORGER_GEMM_NR / 16, KC = FORGER_GEMM_KC };

int forger_gemm_available(void) {
#if defined(__x86_64__)
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    if (!((c >> 27) & 1) || !((c >> 12) & 1)) return 0;     // OSXSAVE, FMA
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 0xe6) != 0xe6) return 0;                       // XMM, YMM, opmask and ZMM state on
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    return (b >> 16) & 1;                                     // AVX512F
#else
    return 0;
#endif
}

size_t forger_gemm_packed_a_count(int m, int k) {
    return (size_t)((m + MR - 1) / MR) * MR * (size_t)k;
}

void forger_gemm_pack_a(int m, int k, const float *a, ptrdiff_t lda, int transposed, float *packed) {
    for (int i0 = 0; i0 < m; i0 += MR) {
        int rows = m - i0 < MR ? m - i0 : MR;
        float *dst = packed + (size_t)i0 * k;
        for (int p = 0; p < k; p++) {
            for (int i = 0; i < MR; i++) {
                const ptrdiff_t row = i0 + i;
                dst[(size_t)p * MR + i] = i >= rows ? 0.0f : transposed ? a[(ptrdiff_t)p * lda + row] : a[row * lda + p];
            }
        }
    }
}

#if defined(__x86_64__)
/// NR floats: `cols` from src, zeros after.
__attribute__((target("avx512f"))) static inline void copy_row(float *dst, const float *src, int cols) {
    for (int v = 0; v < NV; v++) {
        int n = cols - 16 * v;
        __mmask16 mask = forger_lanes(n);
        _mm512_store_ps(dst + 16 * v, _mm512_maskz_loadu_ps(mask, src + 16 * v));
    }
}
#else
static inline void copy_row(float *dst, const float *src, int cols) {
    memcpy(dst, src, sizeof(float) * (size_t)cols);
    memset(dst + cols, 0, sizeof(float) * (size_t)(NR - cols));
}
#endif

size_t forger_gemm_scratch_count(int m) {
    return (size_t)KC * NR + (size_t)((m + MR - 1) / MR) * MR * NR + 16;
}

#if defined(__x86_64__)
__attribute__((target("avx512f"))) static inline __m512 or_ps(__m512 a, __m512 b) {
    return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(a), _mm512_castps_si512(b)));
}

/// Columns j0 ..< j0+cols of B = base[offsets[p] + positions[j]]: each 16-column vector is a few
/// runs of consecutive positions, loaded with one masked load per run (a gather when there are
/// more than four runs).
__attribute__((target("avx512f"))) static void pack_positions(int k, int j0, int cols, const forger_gemm_b *b,
                                                               float *dst) {
    enum { RUNS = 4 };
    __mmask16 masks[NV][RUNS];
    ptrdiff_t deltas[NV][RUNS];
    int runs[NV];
    __m512i index[NV];
    for (int v = 0; v < NV; v++) {
        int lanes = cols - 16 * v;
        lanes = lanes > 16 ? 16 : lanes < 0 ? 0 : lanes;
        const int32_t *pos = b->positions + j0 + 16 * v;
        __mmask16 all = forger_lanes(lanes);
        index[v] = _mm512_maskz_loadu_epi32(all, pos);
        runs[v] = 0;
        for (int r = 0; r < RUNS; r++) { masks[v][r] = 0; deltas[v][r] = 0; }
        for (int l = 0; l < lanes;) {
            int r = 1;
            while (l + r < lanes && pos[l + r] == pos[l] + r) r++;
            if (runs[v] == RUNS) { runs[v] = -1; break; }
            masks[v][runs[v]] = (__mmask16)(((1u << r) - 1) << l);
            deltas[v][runs[v]] = (ptrdiff_t)pos[l] - l;
            runs[v]++;
            l += r;
        }
        if (runs[v] < 0) { masks[v][0] = all; }
    }
    // Vector by vector, so that the loop over the depth has a fixed shape; the runs load
    // independently (zero-masked) and merge by OR.
    for (int v = 0; v < NV && 16 * v < cols; v++) {   // a narrow tile reads only these
        float *d = dst + 16 * v;
        const ptrdiff_t *offsets = b->offsets;
        const float *base = b->base;
        const __mmask16 m0 = masks[v][0], m1 = masks[v][1], m2 = masks[v][2], m3 = masks[v][3];
        const ptrdiff_t d0 = deltas[v][0], d1 = deltas[v][1], d2 = deltas[v][2], d3 = deltas[v][3];
        switch (runs[v]) {
        case 0:
            for (int p = 0; p < k; p++) _mm512_store_ps(d + (size_t)p * NR, _mm512_setzero_ps());
            break;
        case 1:
            for (int p = 0; p < k; p++)
                _mm512_store_ps(d + (size_t)p * NR, _mm512_maskz_loadu_ps(m0, base + offsets[p] + d0));
            break;
        case 2:
            for (int p = 0; p < k; p++) {
                const float *src = base + offsets[p];
                _mm512_store_ps(d + (size_t)p * NR, or_ps(_mm512_maskz_loadu_ps(m0, src + d0),
                                                                 _mm512_maskz_loadu_ps(m1, src + d1)));
            }
            break;
        case 3:
        case 4:
            for (int p = 0; p < k; p++) {
                const float *src = base + offsets[p];
                __m512 x = or_ps(_mm512_maskz_loadu_ps(m0, src + d0), _mm512_maskz_loadu_ps(m1, src + d1));
                __m512 y = or_ps(_mm512_maskz_loadu_ps(m2, src + d2), _mm512_maskz_loadu_ps(m3, src + d3));
                _mm512_store_ps(d + (size_t)p * NR, or_ps(x, y));
            }
            break;
        default:
            for (int p = 0; p < k; p++)
                _mm512_store_ps(d + (size_t)p * NR, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m0, index[v],
                                                                             base + offsets[p], 4));
        }
    }
}
#endif

#if defined(__x86_64__)
/// Columns j0 ..< j0+cols of B = base[offsets[j] + positions[p]] (the transposed implicit
/// matrix of a weight gradient): one gather per 16 columns and depth row.
__attribute__((target("avx512f"))) static void pack_transposed_positions(int k, int j0, int cols,
                                                                          const forger_gemm_b *b, float *dst) {
    __m512i index[NV];
    __mmask16 mask[NV];
    for (int v = 0; v < NV; v++) {
        int lanes = cols - 16 * v;
        lanes = lanes > 16 ? 16 : lanes < 0 ? 0 : lanes;
        mask[v] = forger_lanes(lanes);
        __m512i at = _mm512_setzero_si512();
        for (int l = 0; l < lanes; l++) ((int32_t *)&at)[l] = (int32_t)b->offsets[j0 + 16 * v + l];
        index[v] = at;
    }
    for (int p = 0; p < k; p++) {
        const float *src = b->base + b->positions[p];
        for (int v = 0; v < NV && 16 * v < cols; v++)
            _mm512_store_ps(dst + (size_t)p * NR + 16 * v,
                            _mm512_mask_i32gather_ps(_mm512_setzero_ps(), mask[v], index[v], src, 4));
    }
}
#endif

/// Columns j0 ..< j0+cols of B as a k x NR block, zero past `cols`.
static void pack_b(int k, int j0, int cols, const forger_gemm_b *b, float *dst) {
#if defined(__x86_64__)
    if (b->positions && b->transposed) { pack_transposed_positions(k, j0, cols, b, dst); return; }
    if (b->positions) { pack_positions(k, j0, cols, b, dst); return; }
#endif
    if (b->transposed) {
        if (cols < NR) memset(dst, 0, sizeof(float) * (size_t)k * NR);
        for (int j = 0; j < cols; j++) {
            const float *src = b->base + (ptrdiff_t)(j0 + j) * b->ld;
            for (int p = 0; p < k; p++) dst[(size_t)p * NR + j] = src[p];
        }
        return;
    }
    for (int p = 0; p < k; p++) {
        const float *src = b->base + (b->offsets ? b->offsets[p] : (ptrdiff_t)p * b->ld) + j0;
        copy_row(dst + (size_t)p * NR, src, cols);
    }
}

#if defined(__x86_64__)

/// One MR x (16 * nv) tile of C over k values of the depth: a (MR-row panel), b (k x NR block,
/// its first nv vectors). A tile that is not the depth's first starts from `partial`; one that
/// is not its last ends there. Instantiated for nv = 1, 2, 3 (narrow tiles for short rows).
AVX512 __attribute__((always_inline)) static inline void tile_nv(const int nv, int k, const float *a, const float *b, const forger_gemm_c *c,
                        int i0, int rows, int j0, int cols, float *partial, int first, int last) {
    __m512 acc[MR][NV];
    for (int i = 0; i < MR; i++)
        for (int v = 0; v < nv; v++)
            acc[i][v] = first ? _mm512_setzero_ps() : _mm512_load_ps(partial + i * NR + 16 * v);
    for (int p = 0; p < k; p++) {
        __m512 bv[NV];
        for (int v = 0; v < nv; v++) bv[v] = _mm512_load_ps(b + 16 * v);
        for (int i = 0; i < MR; i++) {
            __m512 ai = _mm512_set1_ps(a[i]);
            for (int v = 0; v < nv; v++) acc[i][v] = _mm512_fmadd_ps(ai, bv[v], acc[i][v]);
        }
        a += MR;
        b += NR;
    }
    if (!last) {
        for (int i = 0; i < MR; i++)
            for (int v = 0; v < nv; v++) _mm512_store_ps(partial + i * NR + 16 * v, acc[i][v]);
        return;
    }
    const __m512 alpha = _mm512_set1_ps(c->alpha), beta = _mm512_set1_ps(c->beta);
    __mmask16 mask[NV];
    __m512i index[NV];
    int contiguous[NV];
    for (int v = 0; v < nv; v++) {
        int n = cols - 16 * v;
        mask[v] = forger_lanes(n);
        contiguous[v] = 1;
        if (c->columns && mask[v]) {
            index[v] = _mm512_maskz_loadu_epi32(mask[v], c->columns + j0 + 16 * v);
            mask[v] &= _mm512_cmpge_epi32_mask(index[v], _mm512_setzero_si512());
            __m512i ramp = _mm512_add_epi32(_mm512_set1_epi32(c->columns[j0 + 16 * v]),
                                            _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
            contiguous[v] = mask[v] == 0xffff && _mm512_cmpeq_epi32_mask(index[v], ramp) == 0xffff;
        }
    }
    for (int i = 0; i < rows; i++) {
        float *row = c->base + (ptrdiff_t)(i0 + i) * c->row_stride;
        const __m512 bias = _mm512_set1_ps(c->bias ? c->bias[i0 + i] : 0.0f);
        for (int v = 0; v < nv; v++) {
            if (!mask[v]) continue;
            __m512 r = _mm512_fmadd_ps(alpha, acc[i][v], bias);
            if (!c->columns) {
                float *dst = row + j0 + 16 * v;
                if (c->beta != 0.0f) r = _mm512_fmadd_ps(beta, _mm512_maskz_loadu_ps(mask[v], dst), r);
                _mm512_mask_storeu_ps(dst, mask[v], activate(r, c->activation, c->slope));
            } else if (contiguous[v]) {
                _mm512_storeu_ps(row + c->columns[j0 + 16 * v], activate(r, c->activation, c->slope));
            } else {
                _mm512_mask_i32scatter_ps(row, mask[v], index[v], activate(r, c->activation, c->slope), 4);
            }
        }
    }
}

AVX512 static void tile1(int k, const float *a, const float *b, const forger_gemm_c *c, int i0, int rows, int j0,
                         int cols, float *partial, int first, int last) {
    tile_nv(1, k, a, b, c, i0, rows, j0, cols, partial, first, last);
}
AVX512 static void tile2(int k, const float *a, const float *b, const forger_gemm_c *c, int i0, int rows, int j0,
                         int cols, float *partial, int first, int last) {
    tile_nv(2, k, a, b, c, i0, rows, j0, cols, partial, first, last);
}
AVX512 static void tile3(int k, const float *a, const float *b, const forger_gemm_c *c, int i0, int rows, int j0,
                         int cols, float *partial, int first, int last) {
    tile_nv(3, k, a, b, c, i0, rows, j0, cols, partial, first, last);
}

void forger_gemm(int m, int n, int k, const float *packed_a, const forger_gemm_b *b,
                 const forger_gemm_c *c, float *scratch) {
    // The depth runs in slices of KC so that a packed block of B (KC x NR) stays in L1 while
    // every panel of A passes over it; partial sums wait in an (m x NR) block between slices.
    float *block = (float *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    float *partial = block + (size_t)KC * NR;
    for (int j0 = 0; j0 < n; j0 += NR) {
        int cols = n - j0 < NR ? n - j0 : NR;
        int p0 = 0;
        do {
            int kc = k - p0 < KC ? k - p0 : KC;
            forger_gemm_b slice = *b;
            if (slice.positions && slice.transposed) slice.positions += p0;
            else if (slice.offsets) slice.offsets += p0;
            else slice.base += slice.transposed ? p0 : (ptrdiff_t)p0 * slice.ld;
            pack_b(kc, j0, cols, &slice, block);
            void (*tile)(int, const float *, const float *, const forger_gemm_c *, int, int, int, int, float *,
                         int, int) = cols > 32 ? tile3 : cols > 16 ? tile2 : tile1;
            for (int i0 = 0; i0 < m; i0 += MR) {
                int rows = m - i0 < MR ? m - i0 : MR;
                tile(kc, packed_a + (size_t)i0 * k + (size_t)p0 * MR, block, c, i0, rows, j0, cols,
                     partial + (size_t)i0 * NR, p0 == 0, p0 + kc >= k);
            }
            p0 += kc;
        } while (p0 < k);
    }
}
#else
void forger_gemm(int m, int n, int k, const float *packed_a, const forger_gemm_b *b,
                 const forger_gemm_c *c, float *scratch) {
    (void)m; (void)n; (void)k; (void)packed_a; (void)b; (void)c; (void)scratch;
}
#endif

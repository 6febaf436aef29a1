#include "forger_gemm.h"
#include "lanes.h"
#if defined(__x86_64__)
#include <immintrin.h>

// Activation passes of the training loop on AVX-512 (Swift code is built for baseline x86-64,
// whose loops run four floats at a time). Each computes exactly what the Swift loop beside its
// caller does, value by value.

__attribute__((target("avx512f"))) int forger_activation_forward(int kind, float slope, const float *x, float *y, size_t n) {
    if (kind != FORGER_ACT_RELU && kind != FORGER_ACT_LEAKY) return 0;
    const __m512 zero = _mm512_setzero_ps(), s = _mm512_set1_ps(slope);
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 m = forger_lanes((long)(n - i));
        __m512 v = _mm512_maskz_loadu_ps(m, x + i), r;
        // Swift's max(v, 0) is (0 >= v ? 0 : v): +0 for -0, NaN stays NaN.
        if (kind == FORGER_ACT_RELU) r = _mm512_mask_mov_ps(v, _mm512_cmp_ps_mask(v, zero, _CMP_LE_OQ), zero);
        else r = _mm512_mask_mul_ps(v, _mm512_cmp_ps_mask(v, zero, _CMP_LT_OQ), v, s);
        _mm512_mask_storeu_ps(y + i, m, r);
    }
    return 1;
}

__attribute__((target("avx512f"))) int forger_activation_backward(int kind, float slope, const float *y, const float *dy,
                                                                   float *dx, size_t n) {
    if (kind != FORGER_ACT_RELU && kind != FORGER_ACT_LEAKY) return 0;
    const __m512 zero = _mm512_setzero_ps(), s = _mm512_set1_ps(slope);
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 m = forger_lanes((long)(n - i));
        __m512 g = _mm512_maskz_loadu_ps(m, dy + i);
        __mmask16 positive = _mm512_cmp_ps_mask(_mm512_maskz_loadu_ps(m, y + i), zero, _CMP_GT_OQ);
        __m512 r = kind == FORGER_ACT_RELU ? _mm512_maskz_mov_ps(positive, g)
                                           : _mm512_mask_mov_ps(_mm512_mul_ps(g, s), positive, g);
        _mm512_mask_storeu_ps(dx + i, m, r);
    }
    return 1;
}
#else
int forger_activation_forward(int kind, float slope, const float *x, float *y, size_t n) {
    (void)kind; (void)slope; (void)x; (void)y; (void)n; return 0;
}
int forger_activation_backward(int kind, float slope, const float *y, const float *dy, float *dx, size_t n) {
    (void)kind; (void)slope; (void)y; (void)dy; (void)dx; (void)n; return 0;
}
#endif

#if defined(__x86_64__)
// y[j] = sum over p of x[p] * w[p*ldw + j], j < n: a row vector times a matrix, 128 columns at a
// time in registers (one load and one FMA per weight; the weights are read once, in order).
__attribute__((target("avx512f"))) void forger_gemv_rows(int k, int n, const float *x, const float *w, ptrdiff_t ldw,
                                                          float *y) {
    for (int j0 = 0; j0 < n; j0 += 128) {
        __m512 acc[8];
        __mmask16 mask[8];
        for (int v = 0; v < 8; v++) {
            int lanes = n - j0 - 16 * v;
            mask[v] = forger_lanes(lanes);
            acc[v] = _mm512_setzero_ps();
        }
        if (n - j0 >= 128) {
            for (int p = 0; p < k; p++) {
                const __m512 xp = _mm512_set1_ps(x[p]);
                const float *row = w + (ptrdiff_t)p * ldw + j0;
                for (int v = 0; v < 8; v++) acc[v] = _mm512_fmadd_ps(xp, _mm512_loadu_ps(row + 16 * v), acc[v]);
            }
        } else {
            for (int p = 0; p < k; p++) {
                const __m512 xp = _mm512_set1_ps(x[p]);
                const float *row = w + (ptrdiff_t)p * ldw + j0;
                for (int v = 0; v < 8; v++)
                    acc[v] = _mm512_fmadd_ps(xp, _mm512_maskz_loadu_ps(mask[v], row + 16 * v), acc[v]);
            }
        }
        // + 0 as forger_gemm's store adds its (zero) bias: the same values, signed zeros included.
        for (int v = 0; v < 8; v++) _mm512_mask_storeu_ps(y + j0 + 16 * v, mask[v], _mm512_add_ps(acc[v], _mm512_setzero_ps()));
    }
}
#else
void forger_gemv_rows(int k, int n, const float *x, const float *w, ptrdiff_t ldw, float *y) {
    (void)k; (void)n; (void)x; (void)w; (void)ldw; (void)y;
}
#endif

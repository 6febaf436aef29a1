#pragma once
// Shared by the CGemm sources (not part of the module's interface): lane masks and the
// activations the fused stores apply.
#if defined(__x86_64__)
#include <immintrin.h>
#include "forger_gemm.h"

#define AVX512 __attribute__((target("avx512f,fma")))

/// The first n of 16 lanes (none for n <= 0, all for n >= 16).
static inline __mmask16 forger_lanes(long n) {
    return n >= 16 ? (__mmask16)0xffff : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1);
}

/// tanh as ActivationKind.fastTanh computes it (Eigen's rational approximation, clamped), with
/// fused multiply-adds where Swift rounds twice: within a few units in the last place of it.
AVX512 static inline __m512 fast_tanh(__m512 v) {
    const __m512 limit = _mm512_set1_ps(7.90531110763549805f);
    // The clamp keeps NaN (max_ps and min_ps return their second operand when one is NaN).
    __m512 x = _mm512_min_ps(limit, _mm512_max_ps(_mm512_sub_ps(_mm512_setzero_ps(), limit), v));
    __m512 x2 = _mm512_mul_ps(x, x);
    __m512 p = _mm512_set1_ps(-2.76076847742355e-16f);
    p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(2.00018790482477e-13f));
    p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(-8.60467152213735e-11f));
    p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(5.12229709037114e-08f));
    p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(1.48572235717979e-05f));
    p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(6.37261928875436e-04f));
    p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(4.89352455891786e-03f));
    __m512 q = _mm512_set1_ps(1.19825839466702e-06f);
    q = _mm512_fmadd_ps(q, x2, _mm512_set1_ps(1.18534705686654e-04f));
    q = _mm512_fmadd_ps(q, x2, _mm512_set1_ps(2.26843463243900e-03f));
    q = _mm512_fmadd_ps(q, x2, _mm512_set1_ps(4.89352518554385e-03f));
    return _mm512_div_ps(_mm512_mul_ps(x, p), q);
}

AVX512 static inline __m512 activate(__m512 v, int activation, float slope) {
    switch (activation) {
    case FORGER_ACT_RELU:   // Swift's max(v, 0): +0 for -0, NaN stays NaN
        return _mm512_mask_mov_ps(v, _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LE_OQ), _mm512_setzero_ps());
    case FORGER_ACT_LEAKY: {
        __mmask16 negative = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ);
        return _mm512_mask_mul_ps(v, negative, v, _mm512_set1_ps(slope));
    }
    case FORGER_ACT_TANH: return fast_tanh(v);
    case FORGER_ACT_SIGMOID: {
        const __m512 half = _mm512_set1_ps(0.5f);
        return _mm512_fmadd_ps(half, fast_tanh(_mm512_mul_ps(half, v)), half);
    }
    default: return v;
    }
}
#endif

// The vector layer the CGemm kernels are written over (not part of the module's interface).
// A source that defines one of FORGER_SIMD_AVX512, FORGER_SIMD_AVX2 or FORGER_SIMD_NEON and
// then includes this header gets, for that instruction set:
//   vf (a vector of LANES floats), vm (a lane mask), vi (LANES int32 indexes), TARGET (the
//   function attribute that enables the instructions), ISA(name) (the instance's symbol prefix)
// and static inline operations on them: loads and stores (aligned, unaligned, masked: lanes off
// the mask read as zero and are never touched in memory), broadcast, FMA, min/max as x86's
// minps/maxps (the second operand where one is NaN), compares to masks, select, gather and
// scatter through indexes. Instances: AVX-512 (16 lanes, 32 registers, native masks), AVX2 + FMA
// (8 lanes, 16 registers, masks as all-ones lanes, maskload/maskstore; scatter lane by lane) and
// NEON (4 lanes, 32 registers; masked memory access and gather/scatter lane by lane).
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "forger_gemm.h"

#define FORGER_ALWAYS_INLINE __attribute__((always_inline)) static inline

#if defined(FORGER_SIMD_AVX512)
#include <immintrin.h>
#define TARGET __attribute__((target("avx512f,fma")))
#define ISA(name) name##_avx512
enum { LANES = 16, REGISTERS = 32 };
typedef __m512 vf;
typedef __mmask16 vm;
typedef __m512i vi;

TARGET FORGER_ALWAYS_INLINE vm m_lanes(long n) {
    return n >= 16 ? (vm)0xffff : n <= 0 ? (vm)0 : (vm)((1u << n) - 1);
}
TARGET FORGER_ALWAYS_INLINE vm m_and(vm a, vm b) { return a & b; }
TARGET FORGER_ALWAYS_INLINE vm m_andnot(vm a, vm b) { return (vm)(~a & b); }
TARGET FORGER_ALWAYS_INLINE int m_any(vm m) { return m != 0; }
TARGET FORGER_ALWAYS_INLINE int m_all(vm m) { return m == 0xffff; }
TARGET FORGER_ALWAYS_INLINE vm m_none(void) { return 0; }
TARGET FORGER_ALWAYS_INLINE vf v_zero(void) { return _mm512_setzero_ps(); }
TARGET FORGER_ALWAYS_INLINE vf v_set1(float x) { return _mm512_set1_ps(x); }
TARGET FORGER_ALWAYS_INLINE vf v_load(const float *p) { return _mm512_load_ps(p); }
TARGET FORGER_ALWAYS_INLINE vf v_loadu(const float *p) { return _mm512_loadu_ps(p); }
TARGET FORGER_ALWAYS_INLINE void v_store(float *p, vf v) { _mm512_store_ps(p, v); }
TARGET FORGER_ALWAYS_INLINE void v_storeu(float *p, vf v) { _mm512_storeu_ps(p, v); }
TARGET FORGER_ALWAYS_INLINE vf v_loadz(vm m, const float *p) { return _mm512_maskz_loadu_ps(m, p); }
TARGET FORGER_ALWAYS_INLINE void v_storem(float *p, vm m, vf v) { _mm512_mask_storeu_ps(p, m, v); }
TARGET FORGER_ALWAYS_INLINE vf v_fmadd(vf a, vf b, vf c) { return _mm512_fmadd_ps(a, b, c); }
TARGET FORGER_ALWAYS_INLINE vf v_add(vf a, vf b) { return _mm512_add_ps(a, b); }
TARGET FORGER_ALWAYS_INLINE vf v_sub(vf a, vf b) { return _mm512_sub_ps(a, b); }
TARGET FORGER_ALWAYS_INLINE vf v_mul(vf a, vf b) { return _mm512_mul_ps(a, b); }
TARGET FORGER_ALWAYS_INLINE vf v_div(vf a, vf b) { return _mm512_div_ps(a, b); }
TARGET FORGER_ALWAYS_INLINE vf v_min(vf a, vf b) { return _mm512_min_ps(a, b); }
TARGET FORGER_ALWAYS_INLINE vf v_max(vf a, vf b) { return _mm512_max_ps(a, b); }
TARGET FORGER_ALWAYS_INLINE vf v_or(vf a, vf b) {
    return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(a), _mm512_castps_si512(b)));
}
TARGET FORGER_ALWAYS_INLINE vm v_le(vf a, vf b) { return _mm512_cmp_ps_mask(a, b, _CMP_LE_OQ); }
TARGET FORGER_ALWAYS_INLINE vm v_lt(vf a, vf b) { return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ); }
TARGET FORGER_ALWAYS_INLINE vm v_gt(vf a, vf b) { return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ); }
/// m ? a : b, lane by lane.
TARGET FORGER_ALWAYS_INLINE vf v_select(vm m, vf a, vf b) { return _mm512_mask_mov_ps(b, m, a); }
TARGET FORGER_ALWAYS_INLINE vi i_ramp(void) {
    return _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
}
TARGET FORGER_ALWAYS_INLINE vi i_set1(int32_t x) { return _mm512_set1_epi32(x); }
TARGET FORGER_ALWAYS_INLINE vi i_add(vi a, vi b) { return _mm512_add_epi32(a, b); }
TARGET FORGER_ALWAYS_INLINE vi i_mul(vi a, vi b) { return _mm512_mullo_epi32(a, b); }
TARGET FORGER_ALWAYS_INLINE vi i_loadz(vm m, const int32_t *p) { return _mm512_maskz_loadu_epi32(m, p); }
TARGET FORGER_ALWAYS_INLINE vm i_ge0(vi a) { return _mm512_cmpge_epi32_mask(a, _mm512_setzero_si512()); }
TARGET FORGER_ALWAYS_INLINE int i_equal(vi a, vi b) { return _mm512_cmpeq_epi32_mask(a, b) == 0xffff; }
/// base[index[l]] in the lanes of m, zero in the others.
TARGET FORGER_ALWAYS_INLINE vf v_gather(vm m, vi index, const float *base) {
    return _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, index, base, 4);
}
TARGET FORGER_ALWAYS_INLINE void v_scatter(float *base, vm m, vi index, vf v) {
    _mm512_mask_i32scatter_ps(base, m, index, v, 4);
}

#elif defined(FORGER_SIMD_AVX2)
#include <immintrin.h>
#define TARGET __attribute__((target("avx2,fma")))
#define ISA(name) name##_avx2
enum { LANES = 8, REGISTERS = 16 };
typedef __m256 vf;
typedef __m256i vm;   // all ones in a lane that is on
typedef __m256i vi;

TARGET FORGER_ALWAYS_INLINE vm m_lanes(long n) {
    const int k = n >= 8 ? 8 : n <= 0 ? 0 : (int)n;
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(k), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
TARGET FORGER_ALWAYS_INLINE vm m_and(vm a, vm b) { return _mm256_and_si256(a, b); }
TARGET FORGER_ALWAYS_INLINE vm m_andnot(vm a, vm b) { return _mm256_andnot_si256(a, b); }
TARGET FORGER_ALWAYS_INLINE int m_any(vm m) { return !_mm256_testz_si256(m, m); }
TARGET FORGER_ALWAYS_INLINE int m_all(vm m) { return _mm256_movemask_ps(_mm256_castsi256_ps(m)) == 0xff; }
TARGET FORGER_ALWAYS_INLINE vm m_none(void) { return _mm256_setzero_si256(); }
TARGET FORGER_ALWAYS_INLINE vf v_zero(void) { return _mm256_setzero_ps(); }
TARGET FORGER_ALWAYS_INLINE vf v_set1(float x) { return _mm256_set1_ps(x); }
TARGET FORGER_ALWAYS_INLINE vf v_load(const float *p) { return _mm256_load_ps(p); }
TARGET FORGER_ALWAYS_INLINE vf v_loadu(const float *p) { return _mm256_loadu_ps(p); }
TARGET FORGER_ALWAYS_INLINE void v_store(float *p, vf v) { _mm256_store_ps(p, v); }
TARGET FORGER_ALWAYS_INLINE void v_storeu(float *p, vf v) { _mm256_storeu_ps(p, v); }
TARGET FORGER_ALWAYS_INLINE vf v_loadz(vm m, const float *p) { return _mm256_maskload_ps(p, m); }
TARGET FORGER_ALWAYS_INLINE void v_storem(float *p, vm m, vf v) { _mm256_maskstore_ps(p, m, v); }
TARGET FORGER_ALWAYS_INLINE vf v_fmadd(vf a, vf b, vf c) { return _mm256_fmadd_ps(a, b, c); }
TARGET FORGER_ALWAYS_INLINE vf v_add(vf a, vf b) { return _mm256_add_ps(a, b); }
TARGET FORGER_ALWAYS_INLINE vf v_sub(vf a, vf b) { return _mm256_sub_ps(a, b); }
TARGET FORGER_ALWAYS_INLINE vf v_mul(vf a, vf b) { return _mm256_mul_ps(a, b); }
TARGET FORGER_ALWAYS_INLINE vf v_div(vf a, vf b) { return _mm256_div_ps(a, b); }
TARGET FORGER_ALWAYS_INLINE vf v_min(vf a, vf b) { return _mm256_min_ps(a, b); }
TARGET FORGER_ALWAYS_INLINE vf v_max(vf a, vf b) { return _mm256_max_ps(a, b); }
TARGET FORGER_ALWAYS_INLINE vf v_or(vf a, vf b) { return _mm256_or_ps(a, b); }
TARGET FORGER_ALWAYS_INLINE vm v_le(vf a, vf b) { return _mm256_castps_si256(_mm256_cmp_ps(a, b, _CMP_LE_OQ)); }
TARGET FORGER_ALWAYS_INLINE vm v_lt(vf a, vf b) { return _mm256_castps_si256(_mm256_cmp_ps(a, b, _CMP_LT_OQ)); }
TARGET FORGER_ALWAYS_INLINE vm v_gt(vf a, vf b) { return _mm256_castps_si256(_mm256_cmp_ps(a, b, _CMP_GT_OQ)); }
TARGET FORGER_ALWAYS_INLINE vf v_select(vm m, vf a, vf b) { return _mm256_blendv_ps(b, a, _mm256_castsi256_ps(m)); }
TARGET FORGER_ALWAYS_INLINE vi i_ramp(void) { return _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7); }
TARGET FORGER_ALWAYS_INLINE vi i_set1(int32_t x) { return _mm256_set1_epi32(x); }
TARGET FORGER_ALWAYS_INLINE vi i_add(vi a, vi b) { return _mm256_add_epi32(a, b); }
TARGET FORGER_ALWAYS_INLINE vi i_mul(vi a, vi b) { return _mm256_mullo_epi32(a, b); }
TARGET FORGER_ALWAYS_INLINE vi i_loadz(vm m, const int32_t *p) { return _mm256_maskload_epi32((const int *)p, m); }
TARGET FORGER_ALWAYS_INLINE vm i_ge0(vi a) { return _mm256_cmpgt_epi32(a, _mm256_set1_epi32(-1)); }
TARGET FORGER_ALWAYS_INLINE int i_equal(vi a, vi b) {
    return _mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(a, b))) == 0xff;
}
TARGET FORGER_ALWAYS_INLINE vf v_gather(vm m, vi index, const float *base) {
    return _mm256_mask_i32gather_ps(_mm256_setzero_ps(), base, index, _mm256_castsi256_ps(m), 4);
}
TARGET FORGER_ALWAYS_INLINE void v_scatter(float *base, vm m, vi index, vf v) {
    float lane[8] __attribute__((aligned(32)));
    int32_t at[8] __attribute__((aligned(32)));
    _mm256_store_ps(lane, v);
    _mm256_store_si256((__m256i *)at, index);
    const int on = _mm256_movemask_ps(_mm256_castsi256_ps(m));
    for (int l = 0; l < 8; l++)
        if (on >> l & 1) base[at[l]] = lane[l];
}

#elif defined(FORGER_SIMD_NEON)
#include <arm_neon.h>
#define TARGET
#define ISA(name) name##_neon
enum { LANES = 4, REGISTERS = 32 };
typedef float32x4_t vf;
typedef uint32x4_t vm;   // all ones in a lane that is on
typedef int32x4_t vi;

FORGER_ALWAYS_INLINE vm m_lanes(long n) {
    const int32_t k = n >= 4 ? 4 : n <= 0 ? 0 : (int32_t)n;
    const int32_t ramp[4] = {0, 1, 2, 3};
    return vcltq_s32(vld1q_s32(ramp), vdupq_n_s32(k));
}
FORGER_ALWAYS_INLINE vm m_and(vm a, vm b) { return vandq_u32(a, b); }
FORGER_ALWAYS_INLINE vm m_andnot(vm a, vm b) { return vbicq_u32(b, a); }
FORGER_ALWAYS_INLINE int m_any(vm m) { return vmaxvq_u32(m) != 0; }
FORGER_ALWAYS_INLINE int m_all(vm m) { return vminvq_u32(m) != 0; }
FORGER_ALWAYS_INLINE vm m_none(void) { return vdupq_n_u32(0); }
FORGER_ALWAYS_INLINE vf v_zero(void) { return vdupq_n_f32(0.0f); }
FORGER_ALWAYS_INLINE vf v_set1(float x) { return vdupq_n_f32(x); }
FORGER_ALWAYS_INLINE vf v_load(const float *p) { return vld1q_f32(p); }
FORGER_ALWAYS_INLINE vf v_loadu(const float *p) { return vld1q_f32(p); }
FORGER_ALWAYS_INLINE void v_store(float *p, vf v) { vst1q_f32(p, v); }
FORGER_ALWAYS_INLINE void v_storeu(float *p, vf v) { vst1q_f32(p, v); }
FORGER_ALWAYS_INLINE vf v_loadz(vm m, const float *p) {
    if (m_all(m)) return vld1q_f32(p);
    uint32_t on[4];
    float lane[4];
    vst1q_u32(on, m);
    for (int l = 0; l < 4; l++) lane[l] = on[l] ? p[l] : 0.0f;
    return vld1q_f32(lane);
}
FORGER_ALWAYS_INLINE void v_storem(float *p, vm m, vf v) {
    if (m_all(m)) { vst1q_f32(p, v); return; }
    uint32_t on[4];
    float lane[4];
    vst1q_u32(on, m);
    vst1q_f32(lane, v);
    for (int l = 0; l < 4; l++)
        if (on[l]) p[l] = lane[l];
}
FORGER_ALWAYS_INLINE vf v_fmadd(vf a, vf b, vf c) { return vfmaq_f32(c, a, b); }
FORGER_ALWAYS_INLINE vf v_add(vf a, vf b) { return vaddq_f32(a, b); }
FORGER_ALWAYS_INLINE vf v_sub(vf a, vf b) { return vsubq_f32(a, b); }
FORGER_ALWAYS_INLINE vf v_mul(vf a, vf b) { return vmulq_f32(a, b); }
FORGER_ALWAYS_INLINE vf v_div(vf a, vf b) { return vdivq_f32(a, b); }
// As minps/maxps: b unless a < b (a > b), so b where either is NaN.
FORGER_ALWAYS_INLINE vf v_min(vf a, vf b) { return vbslq_f32(vcltq_f32(a, b), a, b); }
FORGER_ALWAYS_INLINE vf v_max(vf a, vf b) { return vbslq_f32(vcgtq_f32(a, b), a, b); }
FORGER_ALWAYS_INLINE vf v_or(vf a, vf b) {
    return vreinterpretq_f32_u32(vorrq_u32(vreinterpretq_u32_f32(a), vreinterpretq_u32_f32(b)));
}
FORGER_ALWAYS_INLINE vm v_le(vf a, vf b) { return vcleq_f32(a, b); }
FORGER_ALWAYS_INLINE vm v_lt(vf a, vf b) { return vcltq_f32(a, b); }
FORGER_ALWAYS_INLINE vm v_gt(vf a, vf b) { return vcgtq_f32(a, b); }
FORGER_ALWAYS_INLINE vf v_select(vm m, vf a, vf b) { return vbslq_f32(m, a, b); }
FORGER_ALWAYS_INLINE vi i_ramp(void) {
    const int32_t ramp[4] = {0, 1, 2, 3};
    return vld1q_s32(ramp);
}
FORGER_ALWAYS_INLINE vi i_set1(int32_t x) { return vdupq_n_s32(x); }
FORGER_ALWAYS_INLINE vi i_add(vi a, vi b) { return vaddq_s32(a, b); }
FORGER_ALWAYS_INLINE vi i_mul(vi a, vi b) { return vmulq_s32(a, b); }
FORGER_ALWAYS_INLINE vi i_loadz(vm m, const int32_t *p) {
    uint32_t on[4];
    int32_t lane[4];
    vst1q_u32(on, m);
    for (int l = 0; l < 4; l++) lane[l] = on[l] ? p[l] : 0;
    return vld1q_s32(lane);
}
FORGER_ALWAYS_INLINE vm i_ge0(vi a) { return vcgeq_s32(a, vdupq_n_s32(0)); }
FORGER_ALWAYS_INLINE int i_equal(vi a, vi b) { return vminvq_u32(vceqq_s32(a, b)) != 0; }
FORGER_ALWAYS_INLINE vf v_gather(vm m, vi index, const float *base) {
    uint32_t on[4];
    int32_t at[4];
    float lane[4];
    vst1q_u32(on, m);
    vst1q_s32(at, index);
    for (int l = 0; l < 4; l++) lane[l] = on[l] ? base[at[l]] : 0.0f;
    return vld1q_f32(lane);
}
FORGER_ALWAYS_INLINE void v_scatter(float *base, vm m, vi index, vf v) {
    uint32_t on[4];
    int32_t at[4];
    float lane[4];
    vst1q_u32(on, m);
    vst1q_s32(at, index);
    vst1q_f32(lane, v);
    for (int l = 0; l < 4; l++)
        if (on[l]) base[at[l]] = lane[l];
}
#else
#error "simd.h: define FORGER_SIMD_AVX512, FORGER_SIMD_AVX2 or FORGER_SIMD_NEON first"
#endif

/// Lanes lo ..< hi (clamped to the vector).
TARGET FORGER_ALWAYS_INLINE vm m_range(long lo, long hi) { return m_andnot(m_lanes(lo), m_lanes(hi)); }

/// tanh as ActivationKind.fastTanh computes it (Eigen's rational approximation, clamped), with
/// fused multiply-adds where Swift rounds twice: within a few units in the last place of it.
TARGET FORGER_ALWAYS_INLINE vf fast_tanh(vf v) {
    const vf limit = v_set1(7.90531110763549805f);
    // The clamp keeps NaN (min and max return their second operand when one is NaN).
    vf x = v_min(limit, v_max(v_sub(v_zero(), limit), v));
    vf x2 = v_mul(x, x);
    vf p = v_set1(-2.76076847742355e-16f);
    p = v_fmadd(p, x2, v_set1(2.00018790482477e-13f));
    p = v_fmadd(p, x2, v_set1(-8.60467152213735e-11f));
    p = v_fmadd(p, x2, v_set1(5.12229709037114e-08f));
    p = v_fmadd(p, x2, v_set1(1.48572235717979e-05f));
    p = v_fmadd(p, x2, v_set1(6.37261928875436e-04f));
    p = v_fmadd(p, x2, v_set1(4.89352455891786e-03f));
    vf q = v_set1(1.19825839466702e-06f);
    q = v_fmadd(q, x2, v_set1(1.18534705686654e-04f));
    q = v_fmadd(q, x2, v_set1(2.26843463243900e-03f));
    q = v_fmadd(q, x2, v_set1(4.89352518554385e-03f));
    return v_div(v_mul(x, p), q);
}

/// The activation the fused stores apply (FORGER_ACT_*), as ActivationKind.value computes it.
TARGET FORGER_ALWAYS_INLINE vf activate(vf v, int activation, float slope) {
    switch (activation) {
    case FORGER_ACT_RELU:   // Swift's max(v, 0): +0 for -0, NaN stays NaN
        return v_select(v_le(v, v_zero()), v_zero(), v);
    case FORGER_ACT_LEAKY: return v_select(v_lt(v, v_zero()), v_mul(v, v_set1(slope)), v);
    case FORGER_ACT_TANH: return fast_tanh(v);
    case FORGER_ACT_SIGMOID: {
        const vf half = v_set1(0.5f);
        return v_fmadd(half, fast_tanh(v_mul(half, v)), half);
    }
    default: return v;
    }
}

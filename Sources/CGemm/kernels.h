#pragma once
// The table of one instruction set's kernels (kernels_<isa>.c), which dispatch.c picks from
// (not part of the module's interface).
#include "forger_gemm.h"

typedef struct {
    void (*gemm)(int, int, int, const float *, const forger_gemm_b *, const forger_gemm_c *, float *);
    int (*chanvec_phase)(const forger_chanvec_conv *, int, int, int, int);
    int (*chanvec_most_columns)(int);
    int (*direct_phase)(const forger_direct_conv *, int, int);
    int (*activation_forward)(int, float, const float *, float *, size_t);
    int (*activation_backward)(int, float, const float *, const float *, float *, size_t);
    void (*gemv_rows)(int, int, const float *, const float *, ptrdiff_t, float *);
} forger_kernels;

#if defined(__x86_64__)
extern const forger_kernels forger_kernels_avx512, forger_kernels_avx2;
#elif defined(__aarch64__)
extern const forger_kernels forger_kernels_neon;
#endif

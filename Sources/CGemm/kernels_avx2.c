// The CGemm kernels for AVX2 + FMA (8 lanes, 16 registers): the shared bodies over simd.h
// (kernels_instance.h), with this instruction set's tile sizes (each body's header comment says
// what they mean).
#if defined(__x86_64__)
#define FORGER_SIMD_AVX2
#define GEMM_TILE_ROWS 2
#define GEMM_BROADCAST_FIRST 1
#define GEMM_TILE_VECTORS 6
#define CHANVEC_MOST_1 6
#define CHANVEC_BROADCAST_FIRST 1
#define CHANVEC_MOST_2 3
#define CHANVEC_MOST_4 1
#define DIRECT_ROWS_SMALL 8
#define DIRECT_ROWS_SEVEN 7
#define DIRECT_ROWS_LARGE 4
#include "kernels_instance.h"
#endif

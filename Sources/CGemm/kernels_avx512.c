// The CGemm kernels for AVX-512 (16 lanes, 32 registers): the shared bodies over simd.h
// (kernels_instance.h), with this instruction set's tile sizes (each body's header comment says
// what they mean).
#if defined(__x86_64__)
#define FORGER_SIMD_AVX512
#define GEMM_TILE_ROWS 8
#define GEMM_TILE_VECTORS 3
#define GEMM_BROADCAST_FIRST 0
#define CHANVEC_MOST_1 24
#define CHANVEC_BROADCAST_FIRST 0
#define CHANVEC_MOST_2 13
#define CHANVEC_MOST_4 6
#define DIRECT_ROWS_SMALL 8
#define DIRECT_ROWS_SEVEN 7
#define DIRECT_ROWS_LARGE 4
#include "kernels_instance.h"
#endif

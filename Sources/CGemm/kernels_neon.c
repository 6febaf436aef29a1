// The CGemm kernels for NEON (4 lanes, 32 registers): the shared bodies over simd.h
// (kernels_instance.h), with this instruction set's tile sizes (each body's header comment says
// what they mean).
#if defined(__aarch64__)
#define FORGER_SIMD_NEON
#define GEMM_TILE_ROWS 8
#define GEMM_TILE_VECTORS 3
#define GEMM_BROADCAST_FIRST 0
#define CHANVEC_MOST_1 6
#define CHANVEC_BROADCAST_FIRST 0
#define CHANVEC_MOST_2 2
#define CHANVEC_MOST_4 1
#define DIRECT_ROWS_SMALL 8
#define DIRECT_ROWS_SEVEN 7
#define DIRECT_ROWS_LARGE 4
#include "kernels_instance.h"
#endif

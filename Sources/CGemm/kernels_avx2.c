// The CGemm kernels for AVX2 + FMA (8 lanes, 16 registers): the shared bodies over simd.h, with this
// instruction set's tile sizes (each body's header comment says what they mean).
#if defined(__x86_64__)
#define FORGER_SIMD_AVX2
#include <string.h>
#include "simd.h"
#include "kernels.h"
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
#include "gemm_body.h"
#include "chanvec_body.h"
#include "direct_body.h"
#include "elementwise_body.h"

const forger_kernels ISA(forger_kernels) = {
    ISA(forger_gemm), ISA(forger_chanvec_phase), ISA(forger_chanvec_most_columns), ISA(forger_direct_phase),
    ISA(forger_activation_forward), ISA(forger_activation_backward), ISA(forger_gemv_rows),
};
#endif

// One instruction set's instance of every CGemm kernel: included by kernels_<isa>.c after it
// defines FORGER_SIMD_<ISA> and its tile sizes; defines that instruction set's table
// (forger_kernels_<isa>, kernels.h).
#include <string.h>
#include "simd.h"
#include "kernels.h"
#include "gemm_body.h"
#include "chanvec_body.h"
#include "direct_body.h"
#include "elementwise_body.h"

const forger_kernels ISA(forger_kernels) = {
    ISA(forger_gemm), ISA(forger_chanvec_phase), ISA(forger_chanvec_most_columns), ISA(forger_direct_phase),
    ISA(forger_activation_forward), ISA(forger_activation_backward), ISA(forger_gemv_rows),
};

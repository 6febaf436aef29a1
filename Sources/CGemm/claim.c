#include "forger_gemm.h"

ptrdiff_t forger_claim_next(ptrdiff_t *counter) {
    return __atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
}

#include "forger_gemm.h"
#include <sched.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

ptrdiff_t forger_claim_next(ptrdiff_t *counter) {
    return __atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
}

void forger_count_done(ptrdiff_t *counter) {
    __atomic_fetch_add(counter, 1, __ATOMIC_RELEASE);
}

void forger_wait_count(const ptrdiff_t *counter, ptrdiff_t count) {
    // Spin (the other items take microseconds); after a while, also give the core away, in case
    // the thread running them waits for it (more threads than cores).
    for (long spins = 0; __atomic_load_n(counter, __ATOMIC_ACQUIRE) < count; spins++) {
        if (spins >= 20000) sched_yield();
#if defined(__x86_64__)
        _mm_pause();
#elif defined(__aarch64__)
        __asm__ volatile("yield");
#endif
    }
}

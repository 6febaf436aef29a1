#pragma once
// Shared by the CGemm sources (not part of the module's interface).
#if defined(__x86_64__)
#include <immintrin.h>

/// The first n of 16 lanes (none for n <= 0, all for n >= 16).
static inline __mmask16 forger_lanes(long n) {
    return n >= 16 ? (__mmask16)0xffff : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1);
}
#endif

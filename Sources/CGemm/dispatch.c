// Which instruction set's kernels run: the best this CPU can execute (CPUID on x86-64; NEON is
// part of every aarch64 CPU), or the one FORGER_ISA names, chosen on first use; tests switch it
// with forger_isa_set. Also the packing shared by every instance (its layout does not depend on
// the instruction set).
#include "forger_gemm.h"
#include "kernels.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif

enum { MR = FORGER_GEMM_MR, NR = FORGER_GEMM_NR, KC = FORGER_GEMM_KC };

static const char *const isa_names[] = {"none", "avx2", "avx512", "neon"};

const char *forger_isa_name(int isa) {
    return isa >= 0 && isa < (int)(sizeof isa_names / sizeof isa_names[0]) ? isa_names[isa] : "unknown";
}

int forger_isa_runnable(int isa) {
    if (isa == FORGER_ISA_NONE) return 1;
#if defined(__x86_64__)
    if (isa != FORGER_ISA_AVX2 && isa != FORGER_ISA_AVX512) return 0;
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    if (!((c >> 27) & 1) || !((c >> 12) & 1)) return 0;     // OSXSAVE, FMA
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 0x6) != 0x6) return 0;                         // XMM and YMM state on
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    if (isa == FORGER_ISA_AVX2) return (b >> 5) & 1;         // AVX2
    return (lo & 0xe6) == 0xe6 && ((b >> 16) & 1);           // opmask and ZMM state on, AVX512F
#elif defined(__aarch64__)
    return isa == FORGER_ISA_NEON;
#else
    return 0;
#endif
}

static const forger_kernels *table_for(int isa) {
#if defined(__x86_64__)
    if (isa == FORGER_ISA_AVX512) return &forger_kernels_avx512;
    if (isa == FORGER_ISA_AVX2) return &forger_kernels_avx2;
#elif defined(__aarch64__)
    if (isa == FORGER_ISA_NEON) return &forger_kernels_neon;
#endif
    return NULL;
}

static int best_isa(void) {
    const int order[] = {FORGER_ISA_AVX512, FORGER_ISA_AVX2, FORGER_ISA_NEON};
    for (int i = 0; i < 3; i++)
        if (forger_isa_runnable(order[i])) return order[i];
    return FORGER_ISA_NONE;
}

static int chosen = -1;
static const forger_kernels *active;

int forger_isa_set(int isa) {
    if (!forger_isa_runnable(isa)) return 0;
    __atomic_store_n(&active, table_for(isa), __ATOMIC_RELEASE);
    __atomic_store_n(&chosen, isa, __ATOMIC_RELEASE);
    return 1;
}

int forger_isa(void) {
    int isa = __atomic_load_n(&chosen, __ATOMIC_ACQUIRE);
    if (isa >= 0) return isa;
    const char *asked = getenv("FORGER_ISA");
    isa = best_isa();
    if (asked && *asked) {
        int named = -1;
        for (int i = 0; i < (int)(sizeof isa_names / sizeof isa_names[0]); i++)
            if (strcmp(asked, isa_names[i]) == 0) named = i;
        if (named < 0) {
            fprintf(stderr, "forger: FORGER_ISA=%s: not a path (avx512, avx2, neon or none)\n", asked);
            exit(2);
        }
        if (!forger_isa_runnable(named)) {
            fprintf(stderr, "forger: FORGER_ISA=%s: this CPU (or this build) cannot run that path; it can run %s\n",
                    asked, forger_isa_name(isa));
            exit(2);
        }
        isa = named;
    }
    forger_isa_set(isa);
    return isa;
}

int forger_gemm_available(void) { return forger_isa() != FORGER_ISA_NONE; }

/// The active table; the callers only call the kernels while a vector path is active.
static const forger_kernels *kernels(void) {
    forger_isa();
    const forger_kernels *table = __atomic_load_n(&active, __ATOMIC_ACQUIRE);
    if (!table) {
        fprintf(stderr, "forger: a CGemm kernel called with no vector path active\n");
        abort();
    }
    return table;
}

size_t forger_gemm_packed_a_count(int m, int k) {
    return (size_t)((m + MR - 1) / MR) * MR * (size_t)k;
}

void forger_gemm_pack_a(int m, int k, const float *a, ptrdiff_t lda, int transposed, float *packed) {
    for (int i0 = 0; i0 < m; i0 += MR) {
        int rows = m - i0 < MR ? m - i0 : MR;
        float *dst = packed + (size_t)i0 * k;
        for (int p = 0; p < k; p++) {
            for (int i = 0; i < MR; i++) {
                const ptrdiff_t row = i0 + i;
                dst[(size_t)p * MR + i] = i >= rows ? 0.0f : transposed ? a[(ptrdiff_t)p * lda + row] : a[row * lda + p];
            }
        }
    }
}

size_t forger_gemm_scratch_count(int m) {
    return (size_t)KC * NR + (size_t)((m + MR - 1) / MR) * MR * NR + 16;
}

void forger_gemm(int m, int n, int k, const float *packed_a, const forger_gemm_b *b, const forger_gemm_c *c,
                 float *scratch) {
    kernels()->gemm(m, n, k, packed_a, b, c, scratch);
}

int forger_activation_forward(int kind, float slope, const float *x, float *y, size_t n) {
    return kernels()->activation_forward(kind, slope, x, y, n);
}

int forger_activation_backward(int kind, float slope, const float *y, const float *dy, float *dx, size_t n) {
    return kernels()->activation_backward(kind, slope, y, dy, dx, n);
}

void forger_gemv_rows(int k, int n, const float *x, const float *w, ptrdiff_t ldw, float *y) {
    kernels()->gemv_rows(k, n, x, w, ldw, y);
}

size_t forger_chanvec_packed_count(int out_channels, int depth, int vectors) {
    const int width = 16 * vectors;
    return (size_t)((out_channels + width - 1) / width) * width * (size_t)depth;
}

void forger_chanvec_pack(int out_channels, int depth, int vectors, const float *weight, float *packed) {
    const int width = 16 * vectors;
    const int blocks = (out_channels + width - 1) / width;
    for (int b = 0; b < blocks; b++) {
        float *dst = packed + (size_t)b * width * depth;
        for (int p = 0; p < depth; p++) {
            for (int l = 0; l < width; l++) {
                const int o = b * width + l;
                dst[(size_t)p * width + l] = o < out_channels ? weight[(size_t)o * depth + p] : 0.0f;
            }
        }
    }
}

int forger_chanvec_most_columns(int vectors) {
    return forger_isa() == FORGER_ISA_NONE ? 0 : kernels()->chanvec_most_columns(vectors);
}

int forger_chanvec_phase(const forger_chanvec_conv *d, int row_begin, int row_end, int block_begin, int block_end) {
    return kernels()->chanvec_phase(d, row_begin, row_end, block_begin, block_end);
}

int forger_direct_phase(const forger_direct_conv *d, int row_begin, int row_end) {
    return kernels()->direct_phase(d, row_begin, row_end);
}

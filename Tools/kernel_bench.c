// FastGemm's micro-kernel alone, against the machine's FMA peak, one thread, on one vector path
// (`kernel_bench avx512|avx2|neon`; the best this CPU runs without an argument).
// Built and run by Tools/kernel_bench.sh. Prints GFLOP/s for an FMA loop as wide as the path's
// vectors (16 independent AVX-512 chains, or 12 AVX2 ones: the per-core peak at that width), and
// each figure also as a share of it, for forger_gemm on implicit-matrix products shaped as
// benchmark A's and B's layers (m output channels, k = channels x taps, n positions), and for
// the direct kernel (forger_direct_phase) on the last layers of A, B and C, and for the
// channel-vector kernel (forger_chanvec_phase) on A's and B's layers at 1, 2 or 4 vectors a tile
// (step 2: the strided stores of an upsample's phases), checked once against a plain loop; each
// the best of 7 timed rounds, counting the multiply-adds of the output positions computed.
#include "forger_gemm.h"
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <math.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

__attribute__((target("avx512f,fma"))) static double fma_peak512(void) {
    __m512 acc[16];
    for (int i = 0; i < 16; i++) acc[i] = _mm512_set1_ps(i * 0.001f);
    const __m512 b = _mm512_set1_ps(0.9999f), c = _mm512_set1_ps(0.00001f);
    const long iterations = 20000000;
    double t = 1e9;
    for (int r = 0; r < 7; r++) {   // the best of 7 rounds, as the kernels' figures
        double t0 = now();
        for (long i = 0; i < iterations; i++)
            for (int j = 0; j < 16; j++) acc[j] = _mm512_fmadd_ps(acc[j], b, c);
        if (now() - t0 < t) t = now() - t0;
    }
    float sink = 0;
    for (int i = 0; i < 16; i++) sink += _mm512_reduce_add_ps(acc[i]);
    if (sink == 12345.0f) puts("");
    return iterations * 16.0 * 32.0 / t / 1e9;
}

__attribute__((target("avx2,fma"))) static double fma_peak256(void) {
    __m256 acc[12];
    for (int i = 0; i < 12; i++) acc[i] = _mm256_set1_ps(i * 0.001f);
    const __m256 b = _mm256_set1_ps(0.9999f), c = _mm256_set1_ps(0.00001f);
    const long iterations = 20000000;
    double t = 1e9;
    for (int r = 0; r < 7; r++) {
        double t0 = now();
        for (long i = 0; i < iterations; i++)
            for (int j = 0; j < 12; j++) acc[j] = _mm256_fmadd_ps(acc[j], b, c);
        if (now() - t0 < t) t = now() - t0;
    }
    float sink = 0, lanes[8];
    for (int i = 0; i < 12; i++) {
        _mm256_storeu_ps(lanes, acc[i]);
        for (int l = 0; l < 8; l++) sink += lanes[l];
    }
    if (sink == 12345.0f) puts("");
    return iterations * 12.0 * 16.0 / t / 1e9;
}

static double peak;
static double fma_peak(void) { return forger_isa() == FORGER_ISA_AVX512 ? fma_peak512() : fma_peak256(); }
/// "x GFLOP/s (y% of the FMA loop)".
static const char *share(double g) {
    static char text[8][64];
    static int next;
    char *t = text[next++ % 8];
    snprintf(t, 64, "%.1f GFLOP/s (%.0f%%)", g, 100 * g / peak);
    return t;
}

static double product(int m, int k, int n, int run) {
    const int plane = n + 64;
    float *a = malloc(sizeof(float) * (size_t)m * k), *x = malloc(sizeof(float) * ((size_t)k * plane + 64));
    float *y = malloc(sizeof(float) * (size_t)m * n);
    for (long i = 0; i < (long)m * k; i++) a[i] = 0.001f * (float)(i % 7);
    for (long i = 0; i < (long)k * plane + 64; i++) x[i] = 0.001f * (float)(i % 5);
    float *packed = malloc(sizeof(float) * forger_gemm_packed_a_count(m, k));
    forger_gemm_pack_a(m, k, a, k, 0, packed);
    float *scratch = malloc(sizeof(float) * forger_gemm_scratch_count(m));
    ptrdiff_t *offsets = malloc(sizeof(ptrdiff_t) * k);
    int32_t *positions = malloc(sizeof(int32_t) * n);
    for (int p = 0; p < k; p++) offsets[p] = (ptrdiff_t)p * plane + p % 3;
    for (int j = 0; j < n; j++) positions[j] = (j / run) * (run + 2) + j % run;   // rows of `run` positions
    forger_gemm_b b = {x, offsets, positions, 0, 0};
    forger_gemm_c c = {y, n, NULL, NULL, FORGER_ACT_IDENTITY, 0, 1, 0};
    int reps = (int)(3e8 / (2.0 * m * n * k)) + 1;
    double best = 0;
    for (int r = 0; r < 7; r++) {
        double t = now();
        for (int i = 0; i < reps; i++) forger_gemm(m, n, k, packed, &b, &c, scratch);
        t = now() - t;
        double g = 2.0 * m * n * k * reps / t / 1e9;
        if (g > best) best = g;
    }
    free(a); free(x); free(y); free(packed); free(scratch); free(offsets); free(positions);
    return best;
}

/// The direct kernel on `phases` phases of rows x cols outputs, each with a ty x tx kernel over
/// c channels of an h x w input, into o output channels (output column step `step`).
static double direct(int o, int c, int h, int w, int ty, int tx, int rows, int cols, int phases, int step) {
    float *x = malloc(sizeof(float) * (size_t)c * h * w), *wt = malloc(sizeof(float) * (size_t)o * c * ty * tx);
    float *y = calloc((size_t)o * rows * cols * phases, sizeof(float)), bias[4] = {0, 0, 0, 0};
    for (long i = 0; i < (long)c * h * w; i++) x[i] = 0.001f * (float)(i % 5);
    for (long i = 0; i < (long)o * c * ty * tx; i++) wt[i] = 0.001f * (float)(i % 7);
    forger_direct_conv d = {o, c, h, w, x, wt, ty, tx, -(ty - 1), -(tx - 1), cols, y,
                            (ptrdiff_t)rows * cols * phases, (ptrdiff_t)cols * step, step, bias, FORGER_ACT_IDENTITY, 0};
    double flops = 2.0 * o * c * ty * tx * rows * cols * phases;
    int reps = (int)(1e8 / flops) + 1;
    double best = 0;
    for (int r = 0; r < 7; r++) {
        double t = now();
        for (int i = 0; i < reps; i++)
            for (int p = 0; p < phases; p++) forger_direct_phase(&d, 0, rows);
        t = now() - t;
        if (flops * reps / t / 1e9 > best) best = flops * reps / t / 1e9;
    }
    free(x); free(wt); free(y);
    return best;
}

/// The channel-vector kernel on `phases` phases of rows x cols outputs, each a ty x tx kernel over
/// c channels of an hp x wp padded window, into o output channels, `vectors` vectors a tile;
/// checked once against a plain loop.
static double chanvec(int o, int c, int hp, int wp, int ty, int tx, int rows, int cols, int phases, int step, int vectors) {
    const int depth = c * ty * tx;
    float *x = malloc(sizeof(float) * ((size_t)c * hp * wp + 64)), *wt = malloc(sizeof(float) * (size_t)o * depth);
    float *y = calloc((size_t)o * rows * cols * phases, sizeof(float)), *bias = calloc((size_t)o, sizeof(float));
    for (long i = 0; i < (long)c * hp * wp + 64; i++) x[i] = 0.001f * (float)(i % 5);
    for (long i = 0; i < (long)o * depth; i++) wt[i] = 0.001f * (float)(i % 7);
    float *packed = aligned_alloc(64, sizeof(float) * (forger_chanvec_packed_count(o, depth, vectors) + 16));
    forger_chanvec_pack(o, depth, vectors, wt, packed);
    ptrdiff_t *offsets = malloc(sizeof(ptrdiff_t) * depth);
    for (int ch = 0; ch < c; ch++)
        for (int ey = 0; ey < ty; ey++)
            for (int ex = 0; ex < tx; ex++) offsets[(ch * ty + ey) * tx + ex] = (ptrdiff_t)ch * hp * wp + ey * wp + ex;
    const int blocks = (o + 16 * vectors - 1) / (16 * vectors);
    forger_chanvec_conv d = {o, depth, vectors, packed, offsets, 1, x, 0, wp, cols, y, 0, (ptrdiff_t)rows * cols * phases,
                             (ptrdiff_t)cols * step, step, bias, FORGER_ACT_IDENTITY, 0};
    forger_chanvec_phase(&d, 0, rows, 0, blocks);
    double worst = 0;
    for (int oc = 0; oc < o; oc++)
        for (int t = 0; t < rows; t++)
            for (int u = 0; u < cols; u++) {
                double sum = 0;
                for (int p = 0; p < depth; p++) sum += (double)wt[(size_t)oc * depth + p] * x[t * wp + u + offsets[p]];
                double e = fabs(sum - y[(size_t)oc * rows * cols * phases + ((size_t)t * cols + u) * step]);
                if (e > worst) worst = e;
            }
    if (worst > 1e-3) printf("chanvec: wrong result, off by %g\n", worst);
    double flops = 2.0 * o * depth * rows * cols * phases;
    int reps = (int)(3e8 / flops) + 1;
    double best = 0;
    for (int r = 0; r < 7; r++) {
        double t = now();
        for (int i = 0; i < reps; i++)
            for (int p = 0; p < phases; p++) forger_chanvec_phase(&d, 0, rows, 0, blocks);
        t = now() - t;
        if (flops * reps / t / 1e9 > best) best = flops * reps / t / 1e9;
    }
    free(x); free(wt); free(y); free(bias); free(packed); free(offsets);
    return best;
}

int main(int argc, char **argv) {
    if (argc > 1) {
        int isa = -1;
        for (int i = 0; i < 4; i++)
            if (strcmp(argv[1], forger_isa_name(i)) == 0) isa = i;
        if (isa <= 0 || !forger_isa_set(isa)) {
            printf("kernel_bench: this CPU cannot run the %s path\n", argv[1]);
            return 1;
        }
    }
    if (!forger_gemm_available()) {
        puts("kernel_bench: no vector path on this CPU; FastGemm is not used here");
        return 0;
    }
    peak = fma_peak();
    printf("%s path; FMA loop (%d bits), one core: %.1f GFLOP/s; figures as a share of it\n", forger_isa_name(forger_isa()),
           forger_isa() == FORGER_ISA_AVX512 ? 512 : 256, peak);
    // m, k, n, positions per row: A's four hidden convolutions (phases of one group), B's 8x8 stage.
    const int shapes[][4] = {{128, 1024, 400, 5}, {64, 512, 968, 11}, {64, 576, 576, 24}, {32, 576, 676, 26},
                             {128, 1024, 512, 8}};
    const char *names[] = {"A conv1 (phased)", "A conv2 (phased)", "A conv3", "A conv4", "B 8x8 -> 16x16 (phased)"};
    for (int s = 0; s < 5; s++) {
        printf("forger_gemm, %-24s m %3d k %4d n %3d: %s\n", names[s], shapes[s][0], shapes[s][1],
               shapes[s][2], share(product(shapes[s][0], shapes[s][1], shapes[s][2], shapes[s][3])));
    }
    // B's last layer (3 channels, phases of 32x32 positions, 64 channels x 2x2 taps) as FastGemm
    // runs it (one panel of 8 rows, 3 of them used; counted as 3 rows) and as the direct kernel.
    printf("forger_gemm, %-24s m %3d k %4d n %3d: %s (3 of its 8 panel rows used)\n",
           "B last, 3 channels", 3, 256, 1024, share(product(3, 256, 1024, 32)));
    printf("direct, B last: 3 channels, 4 phases 32x32, 64 ch x 2x2: %s\n", share(direct(3, 64, 32, 32, 2, 2, 32, 32, 4, 2)));
    printf("direct, A conv5: 1 channel, 28x28, 32 ch x 3x3:          %s\n", share(direct(1, 32, 26, 26, 3, 3, 28, 28, 1, 1)));
    printf("direct, C last: 1 channel, 4 phases 14x14, 64 ch x 2x2:  %s\n", share(direct(1, 64, 14, 14, 2, 2, 14, 14, 4, 2)));
    printf("chanvec, A conv1 (phased) V4, step 2: %s\n", share(chanvec(128, 256, 10, 10, 2, 2, 5, 5, 4, 2, 4)));
    printf("chanvec, A conv1 (phased) V4, step 1: %s\n", share(chanvec(128, 256, 10, 10, 2, 2, 5, 5, 4, 1, 4)));
    printf("chanvec, A conv2 (phased) V2, step 2: %s\n", share(chanvec(64, 128, 12, 12, 2, 2, 11, 11, 4, 2, 2)));
    printf("chanvec, A conv2 (phased) V4, step 2: %s\n", share(chanvec(64, 128, 12, 12, 2, 2, 11, 11, 4, 2, 4)));
    printf("chanvec, A conv3 V1:          %s\n", share(chanvec(64, 64, 26, 26, 3, 3, 24, 24, 1, 1, 1)));
    printf("chanvec, A conv3 V2:          %s\n", share(chanvec(64, 64, 26, 26, 3, 3, 24, 24, 1, 1, 2)));
    printf("chanvec, A conv3 V4:          %s\n", share(chanvec(64, 64, 26, 26, 3, 3, 24, 24, 1, 1, 4)));
    printf("chanvec, A conv4 V2:          %s\n", share(chanvec(32, 64, 28, 28, 3, 3, 26, 26, 1, 1, 2)));
    printf("chanvec, B 8x8 -> 16x16 V4, step 2:   %s\n", share(chanvec(128, 256, 10, 10, 2, 2, 8, 8, 4, 2, 4)));
    printf("chanvec, B 8x8 -> 16x16 V2, step 2:   %s\n", share(chanvec(128, 256, 10, 10, 2, 2, 8, 8, 4, 2, 2)));
    printf("FMA loop, one core, after: %.1f GFLOP/s\n", fma_peak());
    return 0;
}

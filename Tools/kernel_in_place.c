// The channel-vector kernel on A's third layer at batch 64 as the plan runs it, one thread: each
// group of g images is copied into zero-padded windows, then the kernel writes a fresh part of
// the batch's output. Mode 1 skips the copy (the windows stay as they are), mode 2 writes every
// group to the same output; the best of 7 rounds in GFLOP/s. Built and run by
// Tools/kernel_bench.sh (`kernel_in_place G MODE`).
#include "forger_gemm.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
int main(int argc, char **argv) {
    const int N = 64, C = 64, H = 22, W = 22, O = 64, HP = 26, WP = 26, OH = 24, OW = 24, V = 2;
    int g = argc > 1 ? atoi(argv[1]) : 3, mode = argc > 2 ? atoi(argv[2]) : 0;
    const int depth = C * 9, plane = HP * WP;
    float *x = malloc(sizeof(float) * N * C * H * W), *y = malloc(sizeof(float) * (size_t)N * O * OH * OW);
    for (long i = 0; i < (long)N * C * H * W; i++) x[i] = (float)((i * 7919) % 1000) * 0.001f;
    memset(y, 0, sizeof(float) * (size_t)N * O * OH * OW);
    float *wt = malloc(sizeof(float) * O * depth), *bias = calloc(O, sizeof(float));
    for (int i = 0; i < O * depth; i++) wt[i] = (float)((i * 31) % 97) * 0.0001f;
    float *packed = aligned_alloc(64, sizeof(float) * (forger_chanvec_packed_count(O, depth, V) + 16));
    forger_chanvec_pack(O, depth, V, wt, packed);
    ptrdiff_t *off = malloc(sizeof(ptrdiff_t) * depth);
    for (int c = 0; c < C; c++) for (int a = 0; a < 3; a++) for (int b = 0; b < 3; b++) off[c * 9 + a * 3 + b] = c * plane + a * WP + b;
    float *win = aligned_alloc(64, sizeof(float) * ((size_t)16 * C * plane + 1024));
    memset(win, 0, sizeof(float) * ((size_t)16 * C * plane + 1024));
    double best = 0;
    for (int r = 0; r < 7; r++) {
        double t = now();
        for (int rep = 0; rep < 3; rep++)
        for (int n0 = 0; n0 < N; n0 += g) {
            int gi = N - n0 < g ? N - n0 : g;
            if (mode != 1)
                for (int i = 0; i < gi; i++)
                    for (int c = 0; c < C; c++)
                        for (int rr = 0; rr < H; rr++)
                            memcpy(win + ((size_t)i * C + c) * plane + (rr + 2) * WP + 2, x + (((size_t)(n0 + i) * C + c) * H + rr) * W, W * 4);
            float *yy = mode == 2 ? y : y + (size_t)n0 * O * OH * OW;
            forger_chanvec_conv d = {O, depth, V, packed, off, gi, win, C * plane, WP, OW, yy, O * OH * OW, OH * OW, OW, 1, bias, 1, 0};
            forger_chanvec_phase(&d, 0, OH, 0, O / 32);
        }
        t = now() - t;
        double gf = 3.0 * 2.0 * N * O * OH * OW * depth / t / 1e9;
        if (gf > best) best = gf;
    }
    printf("g %d mode %d: %.1f GFLOP/s\n", g, mode, best);
    return 0;
}

#include "forger_gemm.h"
#include "lanes.h"

#if defined(__x86_64__)
/// Reads of rows outside the image (any 16 lanes from any of 16 taps read zeros here).
static const float zero_row[32] __attribute__((aligned(64)));

/// Output rows t0..<t0+rb (those below t1) and 16 columns from u0, for `no` output channels from
/// o0. Every accumulator stays in a register across the whole depth (the loops over rows, kernel
/// rows and channels unroll fully). For kernels of `fixed_ty` rows, each input row is loaded once
/// per kernel column and feeds every output row it reaches (10 loads in place of 24 for three
/// kernel rows and eight output rows); otherwise (fixed_ty 0) once per output row. Lanes whose input column lies outside the
/// image are masked off (a masked load never touches those addresses); rows outside it read
/// `zero_row`.
AVX512 __attribute__((always_inline)) static inline void block(const int no, const int rb, const int fixed_ty,
                                                               const forger_direct_conv *d, int o0, int t0, int t1, int u0) {
    const int C = d->in_channels, H = d->height, W = d->width, ty = d->taps_y, tx = d->taps_x;
    const int lanes = d->columns - u0 < 16 ? d->columns - u0 : 16;
    __mmask16 column_mask[16];
    for (int ex = 0; ex < tx; ex++) {
        int first = d->in_column + u0 + ex;   // the input column of lane 0
        __mmask16 m = forger_lanes(lanes < W - first ? lanes : W - first);
        if (first < 0) m &= (__mmask16)~forger_lanes(-first);
        column_mask[ex] = m;
    }
    __m512 acc[4][8];
#pragma clang loop unroll(full)
    for (int o = 0; o < no; o++)
#pragma clang loop unroll(full)
        for (int r = 0; r < rb; r++) acc[o][r] = _mm512_setzero_ps();
    const ptrdiff_t wo = (ptrdiff_t)C * ty * tx;
    const float *wc = d->weight + (ptrdiff_t)o0 * wo;
    if (fixed_ty) {
        // Input rows in_row + t0 + i, i < rb + ty - 1: row i feeds output row r = i - ey with
        // kernel row ey (output rows past t1 are computed and dropped).
        enum { MAX_IN = 8 + 4 - 1 };
        for (int c = 0; c < C; c++, wc += fixed_ty * tx) {
            const float *row[MAX_IN];
#pragma clang loop unroll(full)
            for (int i = 0; i < rb + fixed_ty - 1; i++) {
                int iy = d->in_row + t0 + i;
                row[i] = iy >= 0 && iy < H ? d->x + ((ptrdiff_t)c * H + iy) * W + d->in_column + u0 : zero_row;
            }
            for (int ex = 0; ex < tx; ex++) {
                const __mmask16 m = column_mask[ex];
                __m512 w[4][4];
#pragma clang loop unroll(full)
                for (int o = 0; o < no; o++)
#pragma clang loop unroll(full)
                    for (int ey = 0; ey < fixed_ty; ey++) w[o][ey] = _mm512_set1_ps(wc[o * wo + ey * tx + ex]);
#pragma clang loop unroll(full)
                for (int i = 0; i < rb + fixed_ty - 1; i++) {
                    __m512 v = _mm512_maskz_loadu_ps(m, row[i] + ex);
#pragma clang loop unroll(full)
                    for (int ey = 0; ey < fixed_ty; ey++) {
                        if (i - ey < 0 || i - ey >= rb) continue;
#pragma clang loop unroll(full)
                        for (int o = 0; o < no; o++) acc[o][i - ey] = _mm512_fmadd_ps(w[o][ey], v, acc[o][i - ey]);
                    }
                }
            }
        }
    } else {
        for (int c = 0; c < C; c++) {
            for (int ey = 0; ey < ty; ey++, wc += tx) {
                const float *row[8];
#pragma clang loop unroll(full)
                for (int r = 0; r < rb; r++) {
                    int iy = d->in_row + t0 + r + ey;
                    row[r] = iy >= 0 && iy < H ? d->x + ((ptrdiff_t)c * H + iy) * W + d->in_column + u0 : zero_row;
                }
                for (int ex = 0; ex < tx; ex++) {
                    const __mmask16 m = column_mask[ex];
                    __m512 w[4];
#pragma clang loop unroll(full)
                    for (int o = 0; o < no; o++) w[o] = _mm512_set1_ps(wc[o * wo + ex]);
#pragma clang loop unroll(full)
                    for (int r = 0; r < rb; r++) {
                        __m512 v = _mm512_maskz_loadu_ps(m, row[r] + ex);
#pragma clang loop unroll(full)
                        for (int o = 0; o < no; o++) acc[o][r] = _mm512_fmadd_ps(w[o], v, acc[o][r]);
                    }
                }
            }
        }
    }
    const __mmask16 store = forger_lanes(lanes);
    const __m512i index = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                             _mm512_set1_epi32((int)d->y_column));
#pragma clang loop unroll(full)
    for (int o = 0; o < no; o++) {
        const __m512 bias = _mm512_set1_ps(d->bias[o0 + o]);
#pragma clang loop unroll(full)
        for (int r = 0; r < rb; r++) {
            if (t0 + r >= t1) continue;
            __m512 v = activate(_mm512_add_ps(acc[o][r], bias), d->activation, d->slope);
            float *dst = d->y + (o0 + o) * d->y_plane + (ptrdiff_t)(t0 + r) * d->y_row + (ptrdiff_t)u0 * d->y_column;
            if (d->y_column == 1) _mm512_mask_storeu_ps(dst, store, v);
            else _mm512_mask_i32scatter_ps(dst, store, index, v, 4);
        }
    }
}

typedef void (*block_fn)(const forger_direct_conv *, int, int, int, int);

// One instance per channel count, block height and kernel height (1 to 4 rows, or any): eight
// or seven rows of accumulators for one or two channels (seven where it wastes fewer rows: 14
// and 28 rows, C's and A's last layers), four for three or four (at most 16 of the 32
// registers hold sums).
#define BLOCK(no, rb, ty) \
    AVX512 static void block_##no##_##rb##_##ty(const forger_direct_conv *d, int o0, int t0, int t1, int u0) { \
        block(no, rb, ty, d, o0, t0, t1, u0); \
    }
#define BLOCKS(no, rb) BLOCK(no, rb, 0) BLOCK(no, rb, 1) BLOCK(no, rb, 2) BLOCK(no, rb, 3) BLOCK(no, rb, 4)
#define ROW(no, rb) {block_##no##_##rb##_0, block_##no##_##rb##_1, block_##no##_##rb##_2, block_##no##_##rb##_3, \
                     block_##no##_##rb##_4}
BLOCKS(1, 8)
BLOCKS(1, 7)
BLOCKS(2, 8)
BLOCKS(2, 7)
BLOCKS(3, 4)
BLOCKS(4, 4)

/// [channels - 1][seven rows][kernel rows, 0 for any].
static const block_fn blocks[4][2][5] = {
    {ROW(1, 8), ROW(1, 7)},
    {ROW(2, 8), ROW(2, 7)},
    {ROW(3, 4), ROW(3, 4)},
    {ROW(4, 4), ROW(4, 4)},
};

int forger_direct_phase(const forger_direct_conv *d, int row_begin, int row_end) {
    if (d->taps_x > 16) return 0;
    for (int o0 = 0; o0 < d->out_channels; o0 += 4) {
        int no = d->out_channels - o0 < 4 ? d->out_channels - o0 : 4;
        // Seven-row blocks where they compute fewer rows than eight-row ones.
        int rows = row_end - row_begin, seven = no <= 2 && (rows + 6) / 7 * 7 < (rows + 7) / 8 * 8;
        block_fn run = blocks[no - 1][seven][d->taps_y <= 4 ? d->taps_y : 0];
        int rb = no <= 2 ? 8 - seven : 4;
        for (int t0 = row_begin; t0 < row_end; t0 += rb)
            for (int u0 = 0; u0 < d->columns; u0 += 16) run(d, o0, t0, row_end, u0);
    }
    return 1;
}
#else
int forger_direct_phase(const forger_direct_conv *d, int row_begin, int row_end) {
    (void)d; (void)row_begin; (void)row_end;
    return 0;
}
#endif

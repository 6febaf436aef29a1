// The direct kernel over the vector layer (simd.h), included once per instruction set by
// kernels_<isa>.c: a correlation to one to four output channels read straight from the unpadded
// input, blocks of output rows times LANES columns held in registers across the whole depth.
// Rows a block: DIRECT_ROWS_SMALL (or one fewer, where that wastes fewer rows) for one or two
// channels, DIRECT_ROWS_LARGE for three or four: 8/7 and 4 on every path (at most 16 registers
// hold sums: half of AVX-512's and NEON's 32; on AVX2 the weights then spill to the stack and
// feed the multiply-adds from memory, which measured faster than 6/5 and 3 rows).

/// Reads of rows outside the image (any LANES lanes from any of 16 taps read zeros here).
static const float zero_row[32] __attribute__((aligned(64)));

/// Output rows t0..<t0+rb (those below t1) and LANES columns from u0, for `no` output channels
/// from o0. Every accumulator stays in a register across the whole depth (the loops over rows,
/// kernel rows and channels unroll fully). For kernels of `fixed_ty` rows, each input row is
/// loaded once per kernel column and feeds every output row it reaches (10 loads in place of 24
/// for three kernel rows and eight output rows); otherwise (fixed_ty 0) once per output row.
/// Lanes whose input column lies outside the image are masked off (a masked load never touches
/// those addresses); rows outside it read `zero_row`.
TARGET FORGER_ALWAYS_INLINE void direct_block(const int no, const int rb, const int fixed_ty,
                                              const forger_direct_conv *d, int o0, int t0, int t1, int u0) {
    const int C = d->in_channels, H = d->height, W = d->width, ty = d->taps_y, tx = d->taps_x;
    const int lanes = d->columns - u0 < LANES ? d->columns - u0 : LANES;
    vm column_mask[16];
    for (int ex = 0; ex < tx; ex++) {
        int first = d->in_column + u0 + ex;   // the input column of lane 0
        vm m = m_lanes(lanes < W - first ? lanes : W - first);
        if (first < 0) m = m_andnot(m_lanes(-first), m);
        column_mask[ex] = m;
    }
    vf acc[4][8];
#pragma clang loop unroll(full)
    for (int o = 0; o < no; o++)
#pragma clang loop unroll(full)
        for (int r = 0; r < rb; r++) acc[o][r] = v_zero();
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
                const vm m = column_mask[ex];
                vf w[4][4];
#pragma clang loop unroll(full)
                for (int o = 0; o < no; o++)
#pragma clang loop unroll(full)
                    for (int ey = 0; ey < fixed_ty; ey++) w[o][ey] = v_set1(wc[o * wo + ey * tx + ex]);
#pragma clang loop unroll(full)
                for (int i = 0; i < rb + fixed_ty - 1; i++) {
                    vf v = v_loadz(m, row[i] + ex);
#pragma clang loop unroll(full)
                    for (int ey = 0; ey < fixed_ty; ey++) {
                        if (i - ey < 0 || i - ey >= rb) continue;
#pragma clang loop unroll(full)
                        for (int o = 0; o < no; o++) acc[o][i - ey] = v_fmadd(w[o][ey], v, acc[o][i - ey]);
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
                    const vm m = column_mask[ex];
                    vf w[4];
#pragma clang loop unroll(full)
                    for (int o = 0; o < no; o++) w[o] = v_set1(wc[o * wo + ex]);
#pragma clang loop unroll(full)
                    for (int r = 0; r < rb; r++) {
                        vf v = v_loadz(m, row[r] + ex);
#pragma clang loop unroll(full)
                        for (int o = 0; o < no; o++) acc[o][r] = v_fmadd(w[o], v, acc[o][r]);
                    }
                }
            }
        }
    }
    const vm store = m_lanes(lanes);
    const vi index = i_mul(i_ramp(), i_set1((int)d->y_column));
#pragma clang loop unroll(full)
    for (int o = 0; o < no; o++) {
        const vf bias = v_set1(d->bias[o0 + o]);
#pragma clang loop unroll(full)
        for (int r = 0; r < rb; r++) {
            if (t0 + r >= t1) continue;
            vf v = activate(v_add(acc[o][r], bias), d->activation, d->slope);
            float *dst = d->y + (o0 + o) * d->y_plane + (ptrdiff_t)(t0 + r) * d->y_row + (ptrdiff_t)u0 * d->y_column;
            if (d->y_column == 1) v_storem(dst, store, v);
            else v_scatter(dst, store, index, v);
        }
    }
}

typedef void (*direct_block_fn)(const forger_direct_conv *, int, int, int, int);

// One instance per channel count, block height and kernel height (1 to 4 rows, or any).
#define BLOCK(no, rb, ty) \
    TARGET static void block_##no##_##rb##_##ty(const forger_direct_conv *d, int o0, int t0, int t1, int u0) { \
        direct_block(no, rb, ty, d, o0, t0, t1, u0); \
    }
#define BLOCKS(no, rb) BLOCK(no, rb, 0) BLOCK(no, rb, 1) BLOCK(no, rb, 2) BLOCK(no, rb, 3) BLOCK(no, rb, 4)
#define ROW(no, rb) {block_##no##_##rb##_0, block_##no##_##rb##_1, block_##no##_##rb##_2, block_##no##_##rb##_3, \
                     block_##no##_##rb##_4}
#define ROWS(no, rb) ROWS_(no, rb)
#define ROWS_(no, rb) ROW(no, rb)
#define BLOCKS_(no, rb) BLOCKS(no, rb)
_Static_assert(DIRECT_ROWS_SMALL <= 8 && DIRECT_ROWS_LARGE <= 8, "direct: at most eight rows a block");
BLOCKS_(1, DIRECT_ROWS_SMALL)
BLOCKS_(1, DIRECT_ROWS_SEVEN)
BLOCKS_(2, DIRECT_ROWS_SMALL)
BLOCKS_(2, DIRECT_ROWS_SEVEN)
BLOCKS_(3, DIRECT_ROWS_LARGE)
BLOCKS_(4, DIRECT_ROWS_LARGE)

/// [channels - 1][one row fewer][kernel rows, 0 for any].
static const direct_block_fn direct_blocks[4][2][5] = {
    {ROWS(1, DIRECT_ROWS_SMALL), ROWS(1, DIRECT_ROWS_SEVEN)},
    {ROWS(2, DIRECT_ROWS_SMALL), ROWS(2, DIRECT_ROWS_SEVEN)},
    {ROWS(3, DIRECT_ROWS_LARGE), ROWS(3, DIRECT_ROWS_LARGE)},
    {ROWS(4, DIRECT_ROWS_LARGE), ROWS(4, DIRECT_ROWS_LARGE)},
};
#undef BLOCK

TARGET int ISA(forger_direct_phase)(const forger_direct_conv *d, int row_begin, int row_end) {
    if (d->taps_x > 16) return 0;
    enum { S = DIRECT_ROWS_SMALL, F = DIRECT_ROWS_SEVEN };
    for (int o0 = 0; o0 < d->out_channels; o0 += 4) {
        int no = d->out_channels - o0 < 4 ? d->out_channels - o0 : 4;
        // Blocks one row shorter where they compute fewer rows than full ones.
        int rows = row_end - row_begin, fewer = no <= 2 && (rows + F - 1) / F * F < (rows + S - 1) / S * S;
        direct_block_fn run = direct_blocks[no - 1][fewer][d->taps_y <= 4 ? d->taps_y : 0];
        int rb = no <= 2 ? (fewer ? F : S) : DIRECT_ROWS_LARGE;
        for (int t0 = row_begin; t0 < row_end; t0 += rb)
            for (int u0 = 0; u0 < d->columns; u0 += LANES) run(d, o0, t0, row_end, u0);
    }
    return 1;
}

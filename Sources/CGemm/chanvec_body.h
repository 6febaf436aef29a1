// The channel-vector kernel over the vector layer (simd.h), included once per instruction set
// by kernels_<isa>.c: sums for 16 * V output channels (V blocks of 16, 16 / LANES vectors each)
// at N consecutive output positions of one row stay in registers over a slice of the depth.
// Each step of the depth loads the packed weights (16 * V floats) and broadcasts N input values
// straight from the padded window, so there is no packed copy of the input at all. A slice of
// the weights (16 KB) stays in L1 while a chunk of tiles passes over it, their sums waiting on
// the stack between slices; at the end they are turned to the output's layout through a small
// block on the stack. N is at most CHANVEC_MOST_1/2/4 for V = 1, 2, 4: 24/13/6 on AVX-512
// (24 or 26 sums of 32 registers), 6/3/1 on AVX2 (12, 12 and 8 of 16; for V >= 2 the N inputs
// are broadcast first and each weight vector loaded once: CHANVEC_BROADCAST_FIRST), 6/2/1 on
// NEON (24, 16 and 16 of 32). The packed layout is the same on every instruction set.

/// Depth steps a slice: 16 KB of a block's weights, which stay in L1 while a chunk of up to
/// CHUNK tiles passes over them (their partial sums, at most 13 KB, wait between slices).
/// TILE_FLOATS: the most sums a tile holds (two blocks of 16 at 13 columns).
enum { SLICE_FLOATS = 4096, CHUNK = 8, TILE_FLOATS = 16 * 26, PER16 = 16 / LANES };

TARGET int ISA(forger_chanvec_most_columns)(int vectors) {
    return vectors == 1 ? CHANVEC_MOST_1 : vectors == 2 ? CHANVEC_MOST_2 : vectors == 4 ? CHANVEC_MOST_4 : 0;
}

/// Sums for channels o0 ..< o0 + 16V (those below out_channels) at columns u0 ..< u0 + N of the
/// row whose window starts at `x` and whose output starts at `y` (channel 0, column 0), over
/// depth steps p0 ..< p1 (w: the block's weights from p0). A tile that does not start the depth
/// starts from `partial`; one that does not end it stores its sums there and returns.
TARGET FORGER_ALWAYS_INLINE void chanvec_tile(const int V, const int N, const forger_chanvec_conv *d, const float *w,
                                              const float *x, float *y, int o0, int u0, int p0, int p1,
                                              float *partial) {
    enum { Q_MAX = 4 * PER16 };
    const int Q = V * PER16;   // vectors of channels
    vf acc[Q_MAX][24];
    const int first = p0 == 0, last = p1 == d->depth;
#pragma clang loop unroll(full)
    for (int q = 0; q < Q; q++)
#pragma clang loop unroll(full)
        for (int n = 0; n < N; n++)
            acc[q][n] = first ? v_zero() : v_load(partial + (n * Q + q) * LANES);
    const ptrdiff_t *offsets = d->offsets;
    const float *xs = x + u0;
    for (int p = p0; p < p1; p++, w += 16 * V) {
        const float *s = xs + offsets[p];
        if (CHANVEC_BROADCAST_FIRST && V > 1) {
            // The N inputs broadcast first, then each vector of weights loaded once and used
            // at every column (N + 1 registers beside the sums).
            vf b[24];
#pragma clang loop unroll(full)
            for (int n = 0; n < N; n++) b[n] = v_set1(s[n]);
#pragma clang loop unroll(full)
            for (int q = 0; q < Q; q++) {
                const vf wq = v_loadu(w + LANES * q);
#pragma clang loop unroll(full)
                for (int n = 0; n < N; n++) acc[q][n] = v_fmadd(wq, b[n], acc[q][n]);
            }
        } else {
            // The weights loaded first, then each input broadcast once (Q + 1 registers beside
            // the sums).
            vf wv[Q_MAX];
#pragma clang loop unroll(full)
            for (int q = 0; q < Q; q++) wv[q] = v_loadu(w + LANES * q);
#pragma clang loop unroll(full)
            for (int n = 0; n < N; n++) {
                const vf b = v_set1(s[n]);
#pragma clang loop unroll(full)
                for (int q = 0; q < Q; q++) acc[q][n] = v_fmadd(wv[q], b, acc[q][n]);
            }
        }
    }
    if (!last) {
#pragma clang loop unroll(full)
        for (int q = 0; q < Q; q++)
#pragma clang loop unroll(full)
            for (int n = 0; n < N; n++) v_store(partial + (n * Q + q) * LANES, acc[q][n]);
        return;
    }
    // Bias and activation per vector, then through the stack block to (channel, column).
    float block[TILE_FLOATS] __attribute__((aligned(64)));
#pragma clang loop unroll(full)
    for (int q = 0; q < Q; q++) {
        const vf bias = v_loadz(m_lanes(d->out_channels - o0 - LANES * q), d->bias + o0 + LANES * q);
#pragma clang loop unroll(full)
        for (int n = 0; n < N; n++)
            v_store(block + n * 16 * V + LANES * q, activate(v_add(acc[q][n], bias), d->activation, d->slope));
    }
    // Columns in runs of up to LANES (one gather from the block and one store per channel and run).
    const vi from = i_mul(i_ramp(), i_set1(16 * V));
    const vi to = i_mul(i_ramp(), i_set1((int)d->y_column));
    const int channels = d->out_channels - o0 < 16 * V ? d->out_channels - o0 : 16 * V;
#pragma clang loop unroll(full)
    for (int n0 = 0; n0 < N; n0 += LANES) {
        const vm lanes = m_lanes(N - n0);
        const float *src = block + n0 * 16 * V;
        float *out = y + (ptrdiff_t)o0 * d->y_plane + (ptrdiff_t)(u0 + n0) * d->y_column;
        for (int l = 0; l < channels; l++, out += d->y_plane) {
            vf r = v_gather(lanes, from, src + l);
            if (d->y_column == 1) v_storem(out, lanes, r);
            else v_scatter(out, lanes, to, r);
        }
    }
}

typedef void (*chanvec_tile_fn)(const forger_chanvec_conv *, const float *, const float *, float *, int, int, int, int,
                                float *);

#define TILE(V, N)                                                                                          \
    TARGET static void tile_##V##_##N(const forger_chanvec_conv *d, const float *w, const float *x, float *y, \
                                      int o0, int u0, int p0, int p1, float *partial) {                     \
        chanvec_tile(V, N, d, w, x, y, o0, u0, p0, p1, partial);                                            \
    }
#define TILES6(V) TILE(V, 1) TILE(V, 2) TILE(V, 3) TILE(V, 4) TILE(V, 5) TILE(V, 6)
#define TILES13(V) TILE(V, 7) TILE(V, 8) TILE(V, 9) TILE(V, 10) TILE(V, 11) TILE(V, 12) TILE(V, 13)
#define TILES24(V) TILE(V, 14) TILE(V, 15) TILE(V, 16) TILE(V, 17) TILE(V, 18) TILE(V, 19) TILE(V, 20) \
    TILE(V, 21) TILE(V, 22) TILE(V, 23) TILE(V, 24)
#define LIST6(V) tile_##V##_1, tile_##V##_2, tile_##V##_3, tile_##V##_4, tile_##V##_5, tile_##V##_6
#define LIST13(V) tile_##V##_7, tile_##V##_8, tile_##V##_9, tile_##V##_10, tile_##V##_11, tile_##V##_12, tile_##V##_13
#define LIST24(V) tile_##V##_14, tile_##V##_15, tile_##V##_16, tile_##V##_17, tile_##V##_18, tile_##V##_19, \
    tile_##V##_20, tile_##V##_21, tile_##V##_22, tile_##V##_23, tile_##V##_24
// Instances up to this instruction set's most columns (6, 13 or 24); the tables' other entries
// are never reached.
_Static_assert(CHANVEC_MOST_1 <= 24 && CHANVEC_MOST_2 <= 13 && CHANVEC_MOST_4 <= 6, "chanvec: the most columns");
TILES6(1)
TILES6(2)
TILES6(4)
#if CHANVEC_MOST_1 > 6
TILES13(1)
#endif
#if CHANVEC_MOST_1 > 13
TILES24(1)
#endif
#if CHANVEC_MOST_2 > 6
TILES13(2)
#endif
static const chanvec_tile_fn tiles1[24] = {LIST6(1),
#if CHANVEC_MOST_1 > 6
                                           LIST13(1),
#endif
#if CHANVEC_MOST_1 > 13
                                           LIST24(1)
#endif
};
static const chanvec_tile_fn tiles2[13] = {LIST6(2),
#if CHANVEC_MOST_2 > 6
                                           LIST13(2)
#endif
};
static const chanvec_tile_fn tiles4[6] = {LIST6(4)};
#undef TILE

TARGET int ISA(forger_chanvec_phase)(const forger_chanvec_conv *d, int row_begin, int row_end, int block_begin,
                                     int block_end) {
    const int V = d->vectors, most = ISA(forger_chanvec_most_columns)(V);
    if (most == 0 || d->columns <= 0) return 0;
    const chanvec_tile_fn *fns = V == 1 ? tiles1 : V == 2 ? tiles2 : tiles4;
    // Columns in near-equal tiles of at most `most`; tiles numbered image by image, row by row.
    const int count = (d->columns + most - 1) / most, rows = row_end - row_begin;
    const int tiles = d->images * rows * count, slice = SLICE_FLOATS / (16 * V);
    float partial[CHUNK * TILE_FLOATS] __attribute__((aligned(64)));
    for (int b = block_begin; b < block_end; b++) {
        const float *w = d->weight + (size_t)b * 16 * V * d->depth;
        for (int c0 = 0; c0 < tiles; c0 += CHUNK) {
            const int c1 = tiles - c0 < CHUNK ? tiles : c0 + CHUNK;
            int p0 = 0;
            do {
                const int p1 = d->depth - p0 < slice ? d->depth : p0 + slice;
                for (int c = c0; c < c1; c++) {
                    const int k = c % count, t = row_begin + c / count % rows, i = c / count / rows;
                    const int u0 = d->columns * k / count, u1 = d->columns * (k + 1) / count;
                    fns[u1 - u0 - 1](d, w + (size_t)p0 * 16 * V, d->x + (ptrdiff_t)i * d->x_image + (ptrdiff_t)t * d->x_row,
                                     d->y + (ptrdiff_t)i * d->y_image + (ptrdiff_t)t * d->y_row, b * 16 * V, u0, p0, p1,
                                     partial + (c - c0) * TILE_FLOATS);
                }
                p0 = p1;
            } while (p0 < d->depth);
        }
    }
    return 1;
}

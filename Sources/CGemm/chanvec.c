#include "forger_gemm.h"
#include "lanes.h"

// The channel-vector kernel: sums for 16 * V output channels (V vectors) at N consecutive output
// positions of one row stay in registers over a slice of the depth. Each step of the depth loads
// V vectors of packed weights and broadcasts N input values straight from the padded window, so
// there is no packed copy of the input at all. A slice of the weights (16 KB) stays in L1 while a
// chunk of tiles passes over it, their sums waiting on the stack between slices; at the end they
// are turned to the output's layout through a small block on the stack.

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
    return vectors == 1 ? 24 : vectors == 2 ? 13 : vectors == 4 ? 6 : 0;
}

#if defined(__x86_64__)
/// Depth steps a slice: 16 KB of a block's weights, which stay in L1 while a chunk of up to
/// CHUNK tiles passes over them (their partial sums, at most 13 KB, wait between slices).
/// TILE_FLOATS: the most sums a tile holds (two vectors at 13 columns).
enum { SLICE_FLOATS = 4096, CHUNK = 8, TILE_FLOATS = 16 * 26 };

/// Sums for channels o0 ..< o0 + 16V (those below out_channels) at columns u0 ..< u0 + N of the
/// row whose window starts at `x` and whose output starts at `y` (channel 0, column 0), over
/// depth steps p0 ..< p1 (w: the block's weights from p0). A tile that does not start the depth
/// starts from `partial`; one that does not end it stores its sums there and returns.
AVX512 __attribute__((always_inline)) static inline void tile(const int V, const int N, const forger_chanvec_conv *d,
                                                              const float *w, const float *x, float *y, int o0, int u0,
                                                              int p0, int p1, float *partial) {
    __m512 acc[4][24];
    const int first = p0 == 0, last = p1 == d->depth;
#pragma clang loop unroll(full)
    for (int v = 0; v < V; v++)
#pragma clang loop unroll(full)
        for (int n = 0; n < N; n++)
            acc[v][n] = first ? _mm512_setzero_ps() : _mm512_load_ps(partial + (n * V + v) * 16);
    const ptrdiff_t *offsets = d->offsets;
    const float *xs = x + u0;
    for (int p = p0; p < p1; p++, w += 16 * V) {
        const float *s = xs + offsets[p];
        __m512 wv[4];
#pragma clang loop unroll(full)
        for (int v = 0; v < V; v++) wv[v] = _mm512_loadu_ps(w + 16 * v);
#pragma clang loop unroll(full)
        for (int n = 0; n < N; n++) {
            const __m512 b = _mm512_set1_ps(s[n]);
#pragma clang loop unroll(full)
            for (int v = 0; v < V; v++) acc[v][n] = _mm512_fmadd_ps(wv[v], b, acc[v][n]);
        }
    }
    if (!last) {
#pragma clang loop unroll(full)
        for (int v = 0; v < V; v++)
#pragma clang loop unroll(full)
            for (int n = 0; n < N; n++) _mm512_store_ps(partial + (n * V + v) * 16, acc[v][n]);
        return;
    }
    // Bias and activation per vector, then through the stack block to (channel, column).
    float block[TILE_FLOATS] __attribute__((aligned(64)));
#pragma clang loop unroll(full)
    for (int v = 0; v < V; v++) {
        const __m512 bias = _mm512_maskz_loadu_ps(forger_lanes(d->out_channels - o0 - 16 * v), d->bias + o0 + 16 * v);
#pragma clang loop unroll(full)
        for (int n = 0; n < N; n++)
            _mm512_store_ps(block + n * 16 * V + 16 * v, activate(_mm512_add_ps(acc[v][n], bias), d->activation, d->slope));
    }
    // Columns in runs of up to 16 (one gather from the block and one store per channel and run).
    const __m512i ramp = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i from = _mm512_mullo_epi32(ramp, _mm512_set1_epi32(16 * V));
    const __m512i to = _mm512_mullo_epi32(ramp, _mm512_set1_epi32((int)d->y_column));
    const int channels = d->out_channels - o0 < 16 * V ? d->out_channels - o0 : 16 * V;
#pragma clang loop unroll(full)
    for (int n0 = 0; n0 < N; n0 += 16) {
        const __mmask16 lanes = forger_lanes(N - n0);
        const float *src = block + n0 * 16 * V;
        float *out = y + (ptrdiff_t)o0 * d->y_plane + (ptrdiff_t)(u0 + n0) * d->y_column;
        for (int l = 0; l < channels; l++, out += d->y_plane) {
            __m512 r = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), lanes, from, src + l, 4);
            if (d->y_column == 1) _mm512_mask_storeu_ps(out, lanes, r);
            else _mm512_mask_i32scatter_ps(out, lanes, to, r, 4);
        }
    }
}

typedef void (*tile_fn)(const forger_chanvec_conv *, const float *, const float *, float *, int, int, int, int,
                        float *);

#define TILE(V, N)                                                                                          \
    AVX512 static void tile_##V##_##N(const forger_chanvec_conv *d, const float *w, const float *x, float *y, \
                                      int o0, int u0, int p0, int p1, float *partial) {                     \
        tile(V, N, d, w, x, y, o0, u0, p0, p1, partial);                                                    \
    }
#define TILES6(V) TILE(V, 1) TILE(V, 2) TILE(V, 3) TILE(V, 4) TILE(V, 5) TILE(V, 6)
#define TILES13(V) TILES6(V) TILE(V, 7) TILE(V, 8) TILE(V, 9) TILE(V, 10) TILE(V, 11) TILE(V, 12) TILE(V, 13)
TILES13(1)
TILE(1, 14) TILE(1, 15) TILE(1, 16) TILE(1, 17) TILE(1, 18) TILE(1, 19) TILE(1, 20) TILE(1, 21) TILE(1, 22)
TILE(1, 23) TILE(1, 24)
TILES13(2)
TILES6(4)

#define LIST6(V) tile_##V##_1, tile_##V##_2, tile_##V##_3, tile_##V##_4, tile_##V##_5, tile_##V##_6
#define LIST13(V) LIST6(V), tile_##V##_7, tile_##V##_8, tile_##V##_9, tile_##V##_10, tile_##V##_11, tile_##V##_12, \
                  tile_##V##_13
static const tile_fn tiles1[24] = {LIST13(1), tile_1_14, tile_1_15, tile_1_16, tile_1_17, tile_1_18, tile_1_19,
                                   tile_1_20, tile_1_21, tile_1_22, tile_1_23, tile_1_24};
static const tile_fn tiles2[13] = {LIST13(2)};
static const tile_fn tiles4[6] = {LIST6(4)};

int forger_chanvec_phase(const forger_chanvec_conv *d, int row_begin, int row_end, int block_begin, int block_end) {
    const int V = d->vectors, most = forger_chanvec_most_columns(V);
    if (most == 0 || d->columns <= 0) return 0;
    const tile_fn *fns = V == 1 ? tiles1 : V == 2 ? tiles2 : tiles4;
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
#else
int forger_chanvec_phase(const forger_chanvec_conv *d, int row_begin, int row_end, int block_begin, int block_end) {
    (void)d; (void)row_begin; (void)row_end; (void)block_begin; (void)block_end;
    return 0;
}
#endif

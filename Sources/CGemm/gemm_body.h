// FastGemm's kernel over the vector layer (simd.h), included once per instruction set by
// kernels_<isa>.c. A is packed in panels of MR rows (forger_gemm_pack_a, shared by every
// instance); B is packed per slice into a KC x NR block; a tile holds GEMM_TILE_ROWS rows of a
// panel times up to GEMM_TILE_VECTORS vectors of the block's columns in registers over the slice:
// 8 x 3 vectors (8 x 48, 24 sums of 32 registers) on AVX-512, 2 x 6 (2 x 48, 12 of 16, B
// loaded once a vector and used by both rows: GEMM_BROADCAST_FIRST) on AVX2, 8 x 3 (8 x 12, 24
// of 32) on NEON. Every sum runs over the depth in order, one multiply-add per step, so a value does
// not depend on where its column falls in a tile (nor on the batch around it).

enum { MR = FORGER_GEMM_MR, NR = FORGER_GEMM_NR, KC = FORGER_GEMM_KC, BV = NR / LANES,
       TV = GEMM_TILE_VECTORS, TR = GEMM_TILE_ROWS };

/// NR floats: `cols` from src, zeros after.
TARGET static inline void copy_row(float *dst, const float *src, int cols) {
    for (int v = 0; v < BV; v++) v_store(dst + LANES * v, v_loadz(m_lanes(cols - LANES * v), src + LANES * v));
}

/// Columns j0 ..< j0+cols of B = base[offsets[p] + positions[j]]: each vector of columns is a
/// few runs of consecutive positions, loaded with one masked load per run (a gather when there
/// are more than four runs).
TARGET static void pack_positions(int k, int j0, int cols, const forger_gemm_b *b, float *dst) {
    enum { RUNS = 4 };
    vm masks[BV][RUNS];
    ptrdiff_t deltas[BV][RUNS];
    int runs[BV];
    vi index[BV];
    for (int v = 0; v < BV; v++) {
        int lanes = cols - LANES * v;
        lanes = lanes > LANES ? LANES : lanes < 0 ? 0 : lanes;
        const int32_t *pos = b->positions + j0 + LANES * v;
        vm all = m_lanes(lanes);
        index[v] = i_loadz(all, pos);
        runs[v] = 0;
        for (int r = 0; r < RUNS; r++) { masks[v][r] = m_none(); deltas[v][r] = 0; }
        for (int l = 0; l < lanes;) {
            int r = 1;
            while (l + r < lanes && pos[l + r] == pos[l] + r) r++;
            if (runs[v] == RUNS) { runs[v] = -1; break; }
            masks[v][runs[v]] = m_range(l, l + r);
            deltas[v][runs[v]] = (ptrdiff_t)pos[l] - l;
            runs[v]++;
            l += r;
        }
        if (runs[v] < 0) { masks[v][0] = all; }
    }
    // Vector by vector, so that the loop over the depth has a fixed shape; the runs load
    // independently (zero-masked) and merge by OR.
    for (int v = 0; v < BV && LANES * v < cols; v++) {   // a narrow tile reads only these
        float *d = dst + LANES * v;
        const ptrdiff_t *offsets = b->offsets;
        const float *base = b->base;
        const vm m0 = masks[v][0], m1 = masks[v][1], m2 = masks[v][2], m3 = masks[v][3];
        const ptrdiff_t d0 = deltas[v][0], d1 = deltas[v][1], d2 = deltas[v][2], d3 = deltas[v][3];
        switch (runs[v]) {
        case 0:
            for (int p = 0; p < k; p++) v_store(d + (size_t)p * NR, v_zero());
            break;
        case 1:
            for (int p = 0; p < k; p++) v_store(d + (size_t)p * NR, v_loadz(m0, base + offsets[p] + d0));
            break;
        case 2:
            for (int p = 0; p < k; p++) {
                const float *src = base + offsets[p];
                v_store(d + (size_t)p * NR, v_or(v_loadz(m0, src + d0), v_loadz(m1, src + d1)));
            }
            break;
        case 3:
        case 4:
            for (int p = 0; p < k; p++) {
                const float *src = base + offsets[p];
                vf x = v_or(v_loadz(m0, src + d0), v_loadz(m1, src + d1));
                vf y = v_or(v_loadz(m2, src + d2), v_loadz(m3, src + d3));
                v_store(d + (size_t)p * NR, v_or(x, y));
            }
            break;
        default:
            for (int p = 0; p < k; p++) v_store(d + (size_t)p * NR, v_gather(m0, index[v], base + offsets[p]));
        }
    }
}

/// Columns j0 ..< j0+cols of B = base[offsets[j] + positions[p]] (the transposed implicit
/// matrix of a weight gradient): one gather per vector of columns and depth row.
TARGET static void pack_transposed_positions(int k, int j0, int cols, const forger_gemm_b *b, float *dst) {
    vi index[BV];
    vm mask[BV];
    for (int v = 0; v < BV; v++) {
        int lanes = cols - LANES * v;
        lanes = lanes > LANES ? LANES : lanes < 0 ? 0 : lanes;
        mask[v] = m_lanes(lanes);
        int32_t at[LANES] = {0};
        for (int l = 0; l < lanes; l++) at[l] = (int32_t)b->offsets[j0 + LANES * v + l];
        index[v] = i_loadz(m_lanes(LANES), at);
    }
    for (int p = 0; p < k; p++) {
        const float *src = b->base + b->positions[p];
        for (int v = 0; v < BV && LANES * v < cols; v++)
            v_store(dst + (size_t)p * NR + LANES * v, v_gather(mask[v], index[v], src));
    }
}

/// Columns j0 ..< j0+cols of B as a k x NR block, zero past `cols`.
TARGET static void pack_b(int k, int j0, int cols, const forger_gemm_b *b, float *dst) {
    if (b->positions && b->transposed) { pack_transposed_positions(k, j0, cols, b, dst); return; }
    if (b->positions) { pack_positions(k, j0, cols, b, dst); return; }
    if (b->transposed) {
        if (cols < NR) memset(dst, 0, sizeof(float) * (size_t)k * NR);
        for (int j = 0; j < cols; j++) {
            const float *src = b->base + (ptrdiff_t)(j0 + j) * b->ld;
            for (int p = 0; p < k; p++) dst[(size_t)p * NR + j] = src[p];
        }
        return;
    }
    for (int p = 0; p < k; p++) {
        const float *src = b->base + (b->offsets ? b->offsets[p] : (ptrdiff_t)p * b->ld) + j0;
        copy_row(dst + (size_t)p * NR, src, cols);
    }
}

/// One TR x (LANES * nv) tile of C over k values of the depth: a (TR rows of an MR-row panel,
/// stride MR), b (a k x NR block from the tile's first column, its first nv vectors); C rows
/// i0 ..< i0+rows, columns j0 ..< j0+cols. A tile that is not the depth's first starts from
/// `partial` (stride NR); one that is not its last ends there. Instantiated for nv = 1 ... TV
/// (narrow tiles for short rows).
TARGET FORGER_ALWAYS_INLINE void tile_nv(const int nv, int k, const float *a, const float *b, const forger_gemm_c *c,
                                         int i0, int rows, int j0, int cols, float *partial, int first, int last) {
    vf acc[TR][TV];
#pragma clang loop unroll(full)
    for (int i = 0; i < TR; i++)
#pragma clang loop unroll(full)
        for (int v = 0; v < nv; v++) acc[i][v] = first ? v_zero() : v_load(partial + i * NR + LANES * v);
    for (int p = 0; p < k; p++) {
#if GEMM_BROADCAST_FIRST
        // The row values broadcast first, then each vector of B loaded once and used by every
        // row (TR + 1 registers beside the sums: for a 16-register file).
        vf ai[TR];
#pragma clang loop unroll(full)
        for (int i = 0; i < TR; i++) ai[i] = v_set1(a[i]);
#pragma clang loop unroll(full)
        for (int v = 0; v < nv; v++) {
            const vf bv = v_load(b + LANES * v);
#pragma clang loop unroll(full)
            for (int i = 0; i < TR; i++) acc[i][v] = v_fmadd(ai[i], bv, acc[i][v]);
        }
#else
        // The vectors of B loaded first, then each row value broadcast once (TV + 1 registers
        // beside the sums).
        vf bv[TV];
#pragma clang loop unroll(full)
        for (int v = 0; v < nv; v++) bv[v] = v_load(b + LANES * v);
#pragma clang loop unroll(full)
        for (int i = 0; i < TR; i++) {
            vf ai = v_set1(a[i]);
#pragma clang loop unroll(full)
            for (int v = 0; v < nv; v++) acc[i][v] = v_fmadd(ai, bv[v], acc[i][v]);
        }
#endif
        a += MR;
        b += NR;
    }
    if (!last) {
        for (int i = 0; i < TR; i++)
            for (int v = 0; v < nv; v++) v_store(partial + i * NR + LANES * v, acc[i][v]);
        return;
    }
    const vf alpha = v_set1(c->alpha), beta = v_set1(c->beta);
    vm mask[TV];
    vi index[TV];
    int contiguous[TV];
    for (int v = 0; v < nv; v++) {
        mask[v] = m_lanes(cols - LANES * v);
        contiguous[v] = 1;
        if (c->columns && m_any(mask[v])) {
            index[v] = i_loadz(mask[v], c->columns + j0 + LANES * v);
            mask[v] = m_and(mask[v], i_ge0(index[v]));
            contiguous[v] = m_all(mask[v]) && i_equal(index[v], i_add(i_set1(c->columns[j0 + LANES * v]), i_ramp()));
        }
    }
    for (int i = 0; i < rows; i++) {
        float *row = c->base + (ptrdiff_t)(i0 + i) * c->row_stride;
        const vf bias = v_set1(c->bias ? c->bias[i0 + i] : 0.0f);
        for (int v = 0; v < nv; v++) {
            if (!m_any(mask[v])) continue;
            vf r = v_fmadd(alpha, acc[i][v], bias);
            if (!c->columns) {
                float *dst = row + j0 + LANES * v;
                if (c->beta != 0.0f) r = v_fmadd(beta, v_loadz(mask[v], dst), r);
                v_storem(dst, mask[v], activate(r, c->activation, c->slope));
            } else if (contiguous[v]) {
                v_storeu(row + c->columns[j0 + LANES * v], activate(r, c->activation, c->slope));
            } else {
                v_scatter(row, mask[v], index[v], activate(r, c->activation, c->slope));
            }
        }
    }
}

typedef void (*gemm_tile_fn)(int, const float *, const float *, const forger_gemm_c *, int, int, int, int, float *,
                             int, int);
#define GEMM_TILE(nv)                                                                                           \
    TARGET static void tile##nv(int k, const float *a, const float *b, const forger_gemm_c *c, int i0, int rows, \
                                int j0, int cols, float *partial, int first, int last) {                        \
        tile_nv(nv, k, a, b, c, i0, rows, j0, cols, partial, first, last);                                      \
    }
GEMM_TILE(1)
GEMM_TILE(2)
GEMM_TILE(3)
#if GEMM_TILE_VECTORS > 3
GEMM_TILE(4)
GEMM_TILE(5)
GEMM_TILE(6)
static const gemm_tile_fn gemm_tiles[6] = {tile1, tile2, tile3, tile4, tile5, tile6};
#else
static const gemm_tile_fn gemm_tiles[3] = {tile1, tile2, tile3};
#endif
_Static_assert((TV == 3 || TV == 6) && MR % TR == 0 && NR % (TV * LANES) == 0, "gemm tile: whole panels and blocks");

TARGET void ISA(forger_gemm)(int m, int n, int k, const float *packed_a, const forger_gemm_b *b,
                             const forger_gemm_c *c, float *scratch) {
    // The depth runs in slices of KC so that a packed block of B (KC x NR) stays in L1 while
    // every panel of A passes over it; partial sums wait in an (m x NR) block between slices.
    float *block = (float *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    float *partial = block + (size_t)KC * NR;
    for (int j0 = 0; j0 < n; j0 += NR) {
        int cols = n - j0 < NR ? n - j0 : NR;
        int p0 = 0;
        do {
            int kc = k - p0 < KC ? k - p0 : KC;
            forger_gemm_b slice = *b;
            if (slice.positions && slice.transposed) slice.positions += p0;
            else if (slice.offsets) slice.offsets += p0;
            else slice.base += slice.transposed ? p0 : (ptrdiff_t)p0 * slice.ld;
            pack_b(kc, j0, cols, &slice, block);
            for (int i0 = 0; i0 < m; i0 += MR) {
                int rows = m - i0 < MR ? m - i0 : MR;
                const float *panel = packed_a + (size_t)i0 * k + (size_t)p0 * MR;
                for (int r0 = 0; r0 < rows; r0 += TR) {
                    for (int c0 = 0; c0 < cols; c0 += TV * LANES) {
                        const int w = cols - c0 < TV * LANES ? cols - c0 : TV * LANES;
                        gemm_tiles[(w + LANES - 1) / LANES - 1](
                            kc, panel + r0, block + c0, c, i0 + r0, rows - r0 < TR ? rows - r0 : TR, j0 + c0, w,
                            partial + (size_t)(i0 + r0) * NR + c0, p0 == 0, p0 + kc >= k);
                    }
                }
            }
            p0 += kc;
        } while (p0 < k);
    }
}

// The CGemm kernels on every vector path this CPU runs (AVX-512 and AVX2 on x86-64, NEON on
// aarch64), against plain loops: forger_gemm (each way B is read, each way C is written, every
// activation), the channel-vector and direct kernels (tails of columns and channels, strided
// stores, row ranges), the activation passes (bit for bit) and the row-times-matrix product, on
// random shapes; and batch independence: a column, image or row computed alone has the same bits
// as inside a larger call. Exits 1 on the first path with a mismatch.
//   Tools/kernel_check.sh (natively, then the NEON path under qemu-aarch64-static)
#include "forger_gemm.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned long long state = 1;
static float rnd(void) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((long long)(state >> 40) - (1LL << 23)) / (float)(1 << 23);
}
static int rndi(int lo, int hi) { return lo + (int)((rnd() + 1.0f) * 0.5f * (float)(hi - lo + 1)) % (hi - lo + 1); }
static float *floats(size_t n) {
    float *p = malloc(sizeof(float) * (n + 16));
    for (size_t i = 0; i < n + 16; i++) p[i] = rnd();
    return p;
}

static int failures;
static const char *path;

static float act(float v, int a, float slope) {
    switch (a) {
    case FORGER_ACT_RELU: return v <= 0 ? 0.0f : v;
    case FORGER_ACT_LEAKY: return v < 0 ? v * slope : v;
    case FORGER_ACT_TANH: return tanhf(v);
    case FORGER_ACT_SIGMOID: return 1.0f / (1.0f + expf(-v));
    default: return v;
    }
}

static void near(float got, double want, double tol, const char *what, int a, int b) {
    if (!(fabs(got - want) <= tol)) {
        if (failures++ < 10) fprintf(stderr, "%s: %s [%d, %d]: %g, want %g\n", path, what, a, b, got, want);
    }
}
static void same(const float *x, const float *y, size_t n, const char *what) {
    if (memcmp(x, y, sizeof(float) * n) != 0 && failures++ < 10) fprintf(stderr, "%s: %s: bits differ\n", path, what);
}

// ---- forger_gemm
enum { MATRIX, TRANSPOSED, ROWS, IMPLICIT, IMPLICIT_T, SOURCES };

static void check_gemm(int m, int n, int k, int source, int run, int mapped, int activation) {
    float *a = floats((size_t)m * k), *bias = floats(m), *scratch = malloc(sizeof(float) * forger_gemm_scratch_count(m));
    float *packed = malloc(sizeof(float) * forger_gemm_packed_a_count(m, k));
    forger_gemm_pack_a(m, k, a, k, 0, packed);
    const int plane = 3 * n + 64;
    float *base = floats((size_t)(k + 1) * plane + 8 * (size_t)n + 3 * (size_t)k);
    ptrdiff_t *offsets = malloc(sizeof(ptrdiff_t) * (size_t)(k > n ? k : n) + 8);
    int32_t *positions = malloc(sizeof(int32_t) * (size_t)(k > n ? k : n) + 8);
    forger_gemm_b b = {base, NULL, NULL, 0, 0};
    if (source == MATRIX) b.ld = n;
    if (source == TRANSPOSED) { b.ld = k; b.transposed = 1; }
    if (source == ROWS) { b.offsets = offsets; for (int p = 0; p < k; p++) offsets[p] = (ptrdiff_t)p * (n + 5); }
    if (source == IMPLICIT) {
        b.offsets = offsets; b.positions = positions;
        for (int p = 0; p < k; p++) offsets[p] = (ptrdiff_t)p * plane + p % 3;
        for (int j = 0; j < n; j++) positions[j] = (j / run) * (run + 2) + j % run;
    }
    if (source == IMPLICIT_T) {
        b.offsets = offsets; b.positions = positions; b.transposed = 1;
        for (int j = 0; j < n; j++) offsets[j] = (ptrdiff_t)j * 7;
        for (int p = 0; p < k; p++) positions[p] = p * 3;
    }
#define B(p, j) (source == MATRIX ? base[(ptrdiff_t)(p) * n + (j)] : source == TRANSPOSED ? base[(ptrdiff_t)(j) * k + (p)] \
    : source == ROWS ? base[offsets[p] + (j)] : source == IMPLICIT ? base[offsets[p] + positions[j]] \
    : base[offsets[j] + positions[p]])
    const int stride = mapped ? 2 * n + 5 : n;
    int32_t *columns = malloc(sizeof(int32_t) * (size_t)n + 4);
    for (int j = 0; j < n; j++) columns[j] = mapped == 1 ? (j % 5 == 3 ? -1 : 2 * j) : j + 3;
    float *c = floats((size_t)m * stride), *old = malloc(sizeof(float) * (size_t)m * stride);
    memcpy(old, c, sizeof(float) * (size_t)m * stride);
    forger_gemm_c dst = {c, stride, mapped ? columns : NULL, bias, activation, 0.2f, 1.5f, mapped ? 0.0f : 0.25f};
    forger_gemm(m, n, k, packed, &b, &dst, scratch);
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double s = 0;
            for (int p = 0; p < k; p++) s += (double)a[(size_t)i * k + p] * B(p, j);
            int at = mapped ? columns[j] : j;
            if (at < 0) continue;
            double v = 1.5 * s + bias[i] + (mapped ? 0.0 : 0.25 * old[(size_t)i * stride + j]);
            near(c[(size_t)i * stride + at], act((float)v, activation, 0.2f), 2e-5 * sqrt(k + 1.0) + 1e-5, "gemm", i, j);
        }
    // Batch independence: one column alone (a product of n = 1) has the bits it has among n.
    if (!mapped && source != TRANSPOSED && n > 1) {
        int j = n - 1;
        forger_gemm_b one = b;
        if (source == MATRIX || source == ROWS) one.base = base + j;
        else if (source == IMPLICIT) one.positions = positions + j;
        else one.offsets = offsets + j;
        if (source == MATRIX) one.ld = n;
        float *col = malloc(sizeof(float) * (size_t)m), *want = malloc(sizeof(float) * (size_t)m);
        for (int i = 0; i < m; i++) col[i] = old[(size_t)i * stride + j];
        forger_gemm_c alone = {col, 1, NULL, bias, activation, 0.2f, 1.5f, 0.25f};
        forger_gemm(m, 1, k, packed, &one, &alone, scratch);
        for (int i = 0; i < m; i++) want[i] = c[(size_t)i * stride + j];
        same(col, want, (size_t)m, "gemm: a column alone");
        free(col); free(want);
    }
    free(a); free(bias); free(scratch); free(packed); free(base); free(offsets); free(positions); free(columns);
    free(c); free(old);
}

// ---- forger_chanvec_phase
static void check_chanvec(int o, int channels, int ty, int tx, int hp, int wp, int vectors, int step, int images) {
    const int depth = channels * ty * tx, rows = hp - ty + 1, cols = wp - tx + 1;
    float *w = floats((size_t)o * depth), *bias = floats(o);
    float *packed = malloc(sizeof(float) * forger_chanvec_packed_count(o, depth, vectors) + 64);
    forger_chanvec_pack(o, depth, vectors, w, packed);
    ptrdiff_t *offsets = malloc(sizeof(ptrdiff_t) * depth);
    for (int c = 0, p = 0; c < channels; c++)
        for (int ey = 0; ey < ty; ey++)
            for (int ex = 0; ex < tx; ex++) offsets[p++] = ((ptrdiff_t)c * hp + ey) * wp + ex;
    const ptrdiff_t x_image = (ptrdiff_t)channels * hp * wp, y_plane = (ptrdiff_t)rows * cols * step;
    float *x = floats((size_t)images * x_image), *y = calloc((size_t)images * o * y_plane + 16, sizeof(float));
    const int activation = (o + ty) % 5, blocks = (o + 16 * vectors - 1) / (16 * vectors);
    forger_chanvec_conv d = {o, depth, vectors, packed, offsets, images, x, x_image, wp, cols, y,
                             o * y_plane, y_plane, (ptrdiff_t)cols * step, step, bias, activation, 0.2f};
    const int r0 = rows > 2 ? 1 : 0;
    forger_chanvec_phase(&d, r0, rows, 0, blocks);
    for (int i = 0; i < images; i++)
        for (int oc = 0; oc < o; oc++)
            for (int t = 0; t < rows; t++)
                for (int u = 0; u < cols; u++) {
                    double s = bias[oc];
                    for (int p = 0; p < depth; p++)
                        s += (double)w[(size_t)oc * depth + p] * x[i * x_image + (ptrdiff_t)t * wp + u + offsets[p]];
                    float got = y[i * o * y_plane + oc * y_plane + (ptrdiff_t)t * cols * step + (ptrdiff_t)u * step];
                    near(got, t < r0 ? 0.0 : act((float)s, activation, 0.2f), 2e-5 * sqrt(depth + 1.0) + 1e-5, "chanvec", oc, u);
                }
    // The last image alone has the bits it has in the batch.
    float *alone = calloc((size_t)o * y_plane + 16, sizeof(float));
    forger_chanvec_conv one = d;
    one.images = 1; one.x = x + (images - 1) * x_image; one.y = alone;
    forger_chanvec_phase(&one, r0, rows, 0, blocks);
    same(alone, y + (images - 1) * o * y_plane, (size_t)o * y_plane, "chanvec: an image alone");
    free(w); free(bias); free(packed); free(offsets); free(x); free(y); free(alone);
}

// ---- forger_direct_phase
static void check_direct(int o, int channels, int h, int wd, int ty, int tx, int pad, int step) {
    const int rows = h + 2 * pad - ty + 1, cols = wd + 2 * pad - tx + 1;
    if (rows <= 0 || cols <= 0) return;
    float *x = floats((size_t)channels * h * wd), *w = floats((size_t)o * channels * ty * tx), *bias = floats(o);
    const ptrdiff_t y_plane = (ptrdiff_t)rows * cols * step;
    float *y = calloc((size_t)o * y_plane + 16, sizeof(float)), *split = calloc((size_t)o * y_plane + 16, sizeof(float));
    const int activation = (channels + tx) % 5;
    forger_direct_conv d = {o, channels, h, wd, x, w, ty, tx, -pad, -pad, cols, y, y_plane, (ptrdiff_t)cols * step, step,
                            bias, activation, 0.2f};
    forger_direct_phase(&d, 0, rows);
    for (int oc = 0; oc < o; oc++)
        for (int t = 0; t < rows; t++)
            for (int u = 0; u < cols; u++) {
                double s = bias[oc];
                for (int c = 0; c < channels; c++)
                    for (int ey = 0; ey < ty; ey++)
                        for (int ex = 0; ex < tx; ex++) {
                            int iy = t + ey - pad, ix = u + ex - pad;
                            if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                            s += (double)w[((oc * channels + c) * ty + ey) * tx + ex] * x[((size_t)c * h + iy) * wd + ix];
                        }
                near(y[oc * y_plane + (ptrdiff_t)t * cols * step + (ptrdiff_t)u * step], act((float)s, activation, 0.2f),
                     2e-5 * sqrt(channels * ty * tx + 1.0) + 1e-5, "direct", oc, u);
            }
    // Rows in two calls have the bits they have in one.
    d.y = split;
    forger_direct_phase(&d, 0, rows / 2);
    forger_direct_phase(&d, rows / 2, rows);
    same(split, y, (size_t)o * y_plane, "direct: rows split");
    free(x); free(w); free(bias); free(y); free(split);
}

// ---- the activation passes and forger_gemv_rows
static void check_elementwise(int n) {
    float *x = floats(n), *dy = floats(n), *y = malloc(sizeof(float) * (n + 1)), *dx = malloc(sizeof(float) * (n + 1));
    x[0] = -0.0f;
    if (n > 2) x[2] = NAN;
    for (int kind = FORGER_ACT_RELU; kind <= FORGER_ACT_LEAKY; kind++) {
        y[n] = dx[n] = 7;
        forger_activation_forward(kind, 0.2f, x, y, n);
        forger_activation_backward(kind, 0.2f, y, dy, dx, n);
        for (int i = 0; i < n; i++) {
            float want = kind == FORGER_ACT_RELU ? (0 >= x[i] ? 0.0f : x[i]) : x[i] < 0 ? x[i] * 0.2f : x[i];
            float grad = y[i] > 0 ? dy[i] : kind == FORGER_ACT_RELU ? 0.0f : dy[i] * 0.2f;
            if ((memcmp(&want, &y[i], 4) || memcmp(&grad, &dx[i], 4)) && failures++ < 10)
                fprintf(stderr, "%s: activation %d, %d of %d: %g %g, want %g %g\n", path, kind, i, n, y[i], dx[i], want, grad);
        }
        if ((y[n] != 7 || dx[n] != 7) && failures++ < 10) fprintf(stderr, "%s: activation wrote past %d\n", path, n);
    }
    const int k = n % 37 + 1;
    float *m = floats((size_t)k * (n + 3)), *r = malloc(sizeof(float) * n);
    forger_gemv_rows(k, n, x + 3, m, n + 3, r);
    for (int j = 0; j < n; j++) {
        double s = 0;
        for (int p = 0; p < k; p++) s += (double)x[3 + p] * m[(size_t)p * (n + 3) + j];
        near(r[j], s, 2e-5 * sqrt(k + 1.0), "gemv", n, j);
    }
    free(x); free(dy); free(y); free(dx); free(m); free(r);
}

int main(void) {
    const int isas[] = {FORGER_ISA_AVX512, FORGER_ISA_AVX2, FORGER_ISA_NEON};
    int paths = 0;
    for (int s = 0; s < 3; s++) {
        if (!forger_isa_set(isas[s])) continue;
        path = forger_isa_name(isas[s]);
        paths++;
        failures = 0;
        state = 1;
        int cases = 0;
        const int shapes[][3] = {{8, 48, 16}, {1, 1, 1}, {13, 70, 129}, {17, 5, 300}, {3, 17, 257}, {24, 33, 128}, {9, 100, 7}};
        const int runs[] = {1, 2, 3, 5, 16, 48};
        for (int i = 0; i < 7; i++)
            for (int source = 0; source < SOURCES; source++)
                for (int mapped = 0; mapped < 3; mapped++, cases++)
                    check_gemm(shapes[i][0], shapes[i][1], shapes[i][2], source, runs[(i + mapped) % 6], mapped,
                               (i + source + mapped) % 5);
        for (int i = 0; i < 24; i++, cases++) {
            const int vectors = i % 3 == 0 ? 1 : i % 3 == 1 ? 2 : 4;
            check_chanvec(rndi(1, 70), rndi(1, 5), rndi(1, 3), rndi(1, 3), rndi(3, 12), rndi(3, 40), vectors, 1 + i % 2,
                          rndi(1, 3));
        }
        for (int i = 0; i < 40; i++, cases++)
            check_direct(1 + i % 4, rndi(1, 5), rndi(2, 20), rndi(2, 40), 1 + i % 5, rndi(1, 5), rndi(0, 2), 1 + i / 20);
        for (int n = 1; n <= 70; n++, cases++) check_elementwise(n);
        printf("%s: %d cases, %d mismatches\n", path, cases, failures);
        if (failures) return 1;
    }
    if (!paths) { fprintf(stderr, "no vector path on this CPU\n"); return 1; }
    return 0;
}

#pragma once
// A single-threaded matrix multiply for Forger's convolutions: A packed once (the weights, at
// load), B read straight from an image through a table of row offsets (no column matrix), and
// bias + activation + the write to the output layout fused into the store; and the direct and
// channel-vector convolution kernels. Each runs on one vector path (AVX-512, AVX2 + FMA or
// NEON: `forger_isa`); callers split work over threads themselves and keep OpenBLAS where no
// path is active. The packed layouts are the same on every path.
#include <stddef.h>
#include <stdint.h>

/// Rows of A per packed panel, and columns of B per packed block (three 16-float vectors).
/// The depth runs in slices of KC (a KC x NR block of B fills half of a 48 KiB L1).
enum { FORGER_GEMM_MR = 8, FORGER_GEMM_NR = 48, FORGER_GEMM_KC = 128 };

/// The activations the store applies: as Forger's ActivationKind.value computes them (identity,
/// relu and leaky relu exactly; tanh and sigmoid within a few units in the last place).
enum { FORGER_ACT_IDENTITY = 0, FORGER_ACT_RELU = 1, FORGER_ACT_LEAKY = 2, FORGER_ACT_TANH = 3,
       FORGER_ACT_SIGMOID = 4 };

/// Where B (k x n) comes from: B[p][j] = base[offsets[p] + positions[j]] when both are set (an
/// implicit column matrix: `offsets` picks channel and tap, `positions` the output position's
/// place in a padded image), or base[offsets[j] + positions[p]] when `transposed` too (the
/// column matrix of a weight gradient: `offsets` picks channel and tap, `positions` the image and
/// output position); base[offsets[p] + j] with `offsets` alone, else base[p*ld + j], or
/// base[j*ld + p] when `transposed`.
typedef struct {
    const float *base;
    const ptrdiff_t *offsets;
    const int32_t *positions;
    ptrdiff_t ld;
    int transposed;
} forger_gemm_b;

/// Where C (m x n) goes: row i, column j at base[i*row_stride + j], or at
/// base[i*row_stride + columns[j]] when `columns` is set (a negative entry drops the column).
/// value = act(alpha * (A*B)[i][j] + bias[i]) (+ beta * old value, only without `columns`).
typedef struct {
    float *base;
    ptrdiff_t row_stride;
    const int32_t *columns;
    const float *bias;
    int activation;
    float slope;
    float alpha, beta;
} forger_gemm_c;

/// The vector paths. FORGER_ISA_NONE: no kernels (callers use OpenBLAS).
enum { FORGER_ISA_NONE = 0, FORGER_ISA_AVX2 = 1, FORGER_ISA_AVX512 = 2, FORGER_ISA_NEON = 3 };

/// The active path: on first use the one the environment's FORGER_ISA names (avx512, avx2, neon
/// or none; the process exits with a message when this CPU cannot run it or the name is
/// unknown), else the best this CPU runs.
int forger_isa(void);

/// 1 when this CPU (and this build) can run path `isa` (always for FORGER_ISA_NONE), else 0.
int forger_isa_runnable(int isa);

/// Makes `isa` the active path and returns 1, or returns 0 (nothing changed) where it is not
/// runnable. Not while kernels run on other threads.
int forger_isa_set(int isa);

/// "none", "avx2", "avx512" or "neon".
const char *forger_isa_name(int isa);

/// 1 when a vector path is active (`forger_isa()` is not FORGER_ISA_NONE), else 0.
int forger_gemm_available(void);

/// Floats `forger_gemm_pack_a` writes for an m x k matrix.
size_t forger_gemm_packed_a_count(int m, int k);

/// Packs A (m x k; A[i][p] = a[i*lda + p], or a[p*lda + i] when `transposed`) into panels of
/// MR rows, k-major, zero-padded to a whole panel.
void forger_gemm_pack_a(int m, int k, const float *a, ptrdiff_t lda, int transposed, float *packed);

/// Floats of scratch `forger_gemm` needs for m rows.
size_t forger_gemm_scratch_count(int m);

/// C = A * B as `c` says, for a packed A (m x k) and B (k x n), with `forger_gemm_scratch_count(m)`
/// floats of scratch. Only call it when `forger_gemm_available()` returned 1.
void forger_gemm(int m, int n, int k, const float *packed_a, const forger_gemm_b *b,
                 const forger_gemm_c *c, float *scratch);

/// Training's relu and leaky relu passes (kind FORGER_ACT_RELU or FORGER_ACT_LEAKY): y = act(x),
/// and dx = dy where y > 0, else 0 (relu) or dy * slope (leaky). Return 0, doing nothing, for
/// other kinds; only call them when `forger_gemm_available()` returned 1.
int forger_activation_forward(int kind, float slope, const float *x, float *y, size_t n);
int forger_activation_backward(int kind, float slope, const float *y, const float *dy, float *dx, size_t n);

/// y[j] = sum over p < k of x[p] * w[p*ldw + j] for j < n (a row vector times a row-major
/// matrix, e.g. a dense layer on one image). Only call it when `forger_gemm_available()` returned 1.
void forger_gemv_rows(int k, int n, const float *x, const float *w, ptrdiff_t ldw, float *y);

/// Returns *counter and adds 1 to it, atomically: workers claiming the next item of a shared list.
ptrdiff_t forger_claim_next(ptrdiff_t *counter);

/// Adds 1 to *counter, atomically, after everything the caller wrote before (release): a worker
/// marking one item of a stage done.
void forger_count_done(ptrdiff_t *counter);

/// Spins until *counter reaches count, then sees everything written before each of those counts
/// (acquire): a worker waiting for a stage's last items, which other workers are running.
void forger_wait_count(const ptrdiff_t *counter, ptrdiff_t count);

/// One phase of a correlation with few output channels, on one image, read straight from the
/// unpadded input (rows and columns outside it read as zeros): for output rows t of
/// row_begin..<row_end and columns u < columns, and each output channel o,
///   y[o*y_plane + t*y_row + u*y_column] = act(bias[o] + sum over c, ey < taps_y, ex < taps_x of
///       weight[((o*in_channels + c)*taps_y + ey)*taps_x + ex] * x[c][in_row + t + ey][in_column + u + ex])
/// with x laid out (in_channels, height, width). Blocks of output rows and a vector of columns stay in
/// registers across the whole depth (a conv to one to four channels, where a matrix product's
/// panels would be mostly empty).
typedef struct {
    int out_channels, in_channels, height, width;
    const float *x;
    const float *weight;
    int taps_y, taps_x;
    int in_row, in_column;
    int columns;
    float *y;
    ptrdiff_t y_plane, y_row, y_column;
    const float *bias;
    int activation;
    float slope;
} forger_direct_conv;

/// Runs `forger_direct_conv` for rows row_begin..<row_end. Returns 0, doing nothing, when taps_x
/// is above 16; only call it when `forger_gemm_available()` returned 1.
int forger_direct_phase(const forger_direct_conv *d, int row_begin, int row_end);

/// One phase of a correlation on zero-padded windows, with sums for 16 * vectors output channels
/// at up to `forger_chanvec_most_columns(vectors)` consecutive output columns in registers: for
/// images i < images, output rows t of row_begin..<row_end, columns u < columns, and channels o of
/// the blocks block_begin..<block_end (16 * vectors channels each, those below out_channels),
///   y[i*y_image + o*y_plane + t*y_row + u*y_column] = act(bias[o] + sum over p < depth of
///       W[o][p] * x[i*x_image + t*x_row + u + offsets[p]])
/// with W packed by `forger_chanvec_pack`. Nothing of the input is copied: the weights are the
/// vector operand, the input values broadcast.
typedef struct {
    int out_channels, depth, vectors;
    const float *weight;
    const ptrdiff_t *offsets;
    int images;
    const float *x;
    ptrdiff_t x_image, x_row;
    int columns;
    float *y;
    ptrdiff_t y_image, y_plane, y_row, y_column;
    const float *bias;
    int activation;
    float slope;
} forger_chanvec_conv;

/// Floats `forger_chanvec_pack` writes: whole blocks of 16 * vectors channels.
size_t forger_chanvec_packed_count(int out_channels, int depth, int vectors);

/// Packs weight (out_channels x depth, row-major) in blocks of 16 * vectors channels, depth-major
/// inside a block, zero past out_channels.
void forger_chanvec_pack(int out_channels, int depth, int vectors, const float *weight, float *packed);

/// Most output columns a tile of `vectors` blocks of 16 channels keeps in registers on the active
/// path (0: no such tile, or no vector path).
int forger_chanvec_most_columns(int vectors);

/// Runs `forger_chanvec_conv`. Returns 0, doing nothing, for vectors other than 1, 2 or 4;
/// only call it when `forger_gemm_available()` returned 1.
int forger_chanvec_phase(const forger_chanvec_conv *d, int row_begin, int row_end, int block_begin, int block_end);

// Activation passes of the training loop and the row-times-matrix product, over the vector layer
// (simd.h), included once per instruction set by kernels_<isa>.c (Swift code is built for
// baseline x86-64, whose loops run four floats at a time). Each pass computes exactly what the
// Swift loop beside its caller does, value by value.

TARGET int ISA(forger_activation_forward)(int kind, float slope, const float *x, float *y, size_t n) {
    if (kind != FORGER_ACT_RELU && kind != FORGER_ACT_LEAKY) return 0;
    for (size_t i = 0; i < n; i += LANES) {
        vm m = m_lanes((long)(n - i));
        v_storem(y + i, m, activate(v_loadz(m, x + i), kind, slope));
    }
    return 1;
}

TARGET int ISA(forger_activation_backward)(int kind, float slope, const float *y, const float *dy, float *dx,
                                           size_t n) {
    if (kind != FORGER_ACT_RELU && kind != FORGER_ACT_LEAKY) return 0;
    const vf zero = v_zero(), s = v_set1(slope);
    for (size_t i = 0; i < n; i += LANES) {
        vm m = m_lanes((long)(n - i));
        vf g = v_loadz(m, dy + i);
        vm positive = v_gt(v_loadz(m, y + i), zero);
        vf r = v_select(positive, g, kind == FORGER_ACT_RELU ? zero : v_mul(g, s));
        v_storem(dx + i, m, r);
    }
    return 1;
}

/// y[j] = sum over p of x[p] * w[p*ldw + j], j < n: a row vector times a matrix, 8 vectors of
/// columns at a time in registers (one load and one FMA per weight; the weights are read once,
/// in order).
TARGET void ISA(forger_gemv_rows)(int k, int n, const float *x, const float *w, ptrdiff_t ldw, float *y) {
    enum { G = 8 * LANES };
    for (int j0 = 0; j0 < n; j0 += G) {
        vf acc[8];
        vm mask[8];
        for (int v = 0; v < 8; v++) {
            mask[v] = m_lanes(n - j0 - LANES * v);
            acc[v] = v_zero();
        }
        if (n - j0 >= G) {
            for (int p = 0; p < k; p++) {
                const vf xp = v_set1(x[p]);
                const float *row = w + (ptrdiff_t)p * ldw + j0;
                for (int v = 0; v < 8; v++) acc[v] = v_fmadd(xp, v_loadu(row + LANES * v), acc[v]);
            }
        } else {
            for (int p = 0; p < k; p++) {
                const vf xp = v_set1(x[p]);
                const float *row = w + (ptrdiff_t)p * ldw + j0;
                for (int v = 0; v < 8; v++) acc[v] = v_fmadd(xp, v_loadz(mask[v], row + LANES * v), acc[v]);
            }
        }
        // + 0 as forger_gemm's store adds its (zero) bias: the same values, signed zeros included.
        for (int v = 0; v < 8; v++) v_storem(y + j0 + LANES * v, mask[v], v_add(acc[v], v_zero()));
    }
}

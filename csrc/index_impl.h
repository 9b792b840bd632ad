/* index_impl.h: scatter-add, type-generic body (see common.h), included by
 * index.c once per type.
 */
/* SPDX-License-Identifier: MIT */

/* index_add: for i in [0, n): dx[idx[i], :] += src[i, :]
 *   dx (R, D), src (n, D), idx (n,), all contiguous. It is the backward of a
 *   row gather y[i, :] = x[idx[i], :], so it has no backward of its own.
 * Every idx[i] is checked to lie in [0, R) before any write (CG_EINDEX
 * otherwise). Repeated indices accumulate in order of i; threads split the
 * D columns, so each element still sees its additions in that order. */
int CG_NAME(cg_index_add)(T *dx, const int64_t *idx, const T *src, int64_t R, int64_t D, int64_t n)
{
    if (R < 0 || D < 0 || n < 0) return CG_EINVAL;
    for (int64_t i = 0; i < n; i++)
        if (idx[i] < 0 || idx[i] >= R) return CG_EINDEX;
    if (D == 0 || n == 0) return CG_OK;
    const int64_t nchunk = cg_ceil_div(D, CG_INDEX_COLS);
    CG_PARALLEL_FOR(n * D, t, nchunk,
        const int64_t c0 = t * CG_INDEX_COLS, cn = cg_min64(CG_INDEX_COLS, D - c0);
        for (int64_t i = 0; i < n; i++) {
            T *restrict d = dx + idx[i] * D + c0;
            const T *restrict s = src + i * D + c0;
            for (int64_t j = 0; j < cn; j++) d[j] += s[j];
        }
    );
    return CG_OK;
}

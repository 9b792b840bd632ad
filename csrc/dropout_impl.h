/* dropout_impl.h: dropout, type-generic body (see common.h), included by
 * dropout.c once per type.
 */
/* SPDX-License-Identifier: MIT */

/* dropout: keep = u >= p, s = 1 / (1 - p)
 *   y = x * (keep ? s : 0)        (x * 0 keeps NaN from inf or NaN, as x * mask)
 *   dx += dy * (keep ? s : 0)
 * 0 <= p < 1 (checked by the caller). */
void CG_NAME(cg_dropout_forward)(T *restrict y, const T *restrict x, const T *restrict u, int64_t n, T p)
{
    const T s = (T)1 / ((T)1 - p);
    CG_PARALLEL_FOR(n, i, n, y[i] = x[i] * (u[i] >= p ? s : (T)0); );
}
void CG_NAME(cg_dropout_backward)(T *restrict dx, const T *restrict dy, const T *restrict u, int64_t n, T p)
{
    const T s = (T)1 / ((T)1 - p);
    CG_PARALLEL_FOR(n, i, n, dx[i] += dy[i] * (u[i] >= p ? s : (T)0); );
}

/* reduce_impl.h: sum / mean / amax over axes, type-generic body (see
 * common.h and reduce.c for the plan and the two loop shapes). Included by
 * reduce.c once per type.
 */
/* SPDX-License-Identifier: MIT */

/* Sum of a contiguous run in 8 interleaved ACC lanes (vectorisable without
 * reassociation), combined pairwise in a fixed order. */
static ACC CG_NAME(run_sum)(const T *restrict x, int64_t n)
{
    ACC s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) s[j] += (ACC)x[i + j];
    ACC t = 0;
    for (; i < n; i++) t += (ACC)x[i];
    return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7])) + t;
}

/* NaN-propagating max of a contiguous run, n >= 1, starting from x[0]. */
static T CG_NAME(run_max)(const T *restrict x, int64_t n)
{
    T m = x[0];
    for (int64_t i = 1; i < n; i++) m = CG_NANMAX(m, x[i]);
    return m;
}

/* Forward, all three ops. out has p->nout elements. */
static int CG_NAME(reduce_forward)(T *restrict out, const T *restrict x, const red_plan *p, int op)
{
    const int64_t nout = p->nout, nred = p->nred;
    if (nout == 0) return CG_OK;
    if (nred == 0) { /* empty groups: sum 0, mean 0/0 = NaN, max undefined */
        if (op == CG_OP_MAX) return CG_EINVAL;
        const T v = op == CG_OP_SUM ? (T)0 : (T)NAN;
        for (int64_t o = 0; o < nout; o++) out[o] = v;
        return CG_OK;
    }
    const int64_t work = nout * nred;
    if (p->last_reduced && nout == 1) {
        /* full reduction of one contiguous run: fixed chunking, combined in order */
        const int64_t nparts = cg_max64(1, cg_min64(CG_RED_MAX_PARTS, nred / CG_RED_SPLIT));
        const int64_t len = cg_ceil_div(nred, nparts);
        ACC part[CG_RED_MAX_PARTS];
        CG_PARALLEL_FOR(work, k, nparts,
            const int64_t lo = k * len, hi = cg_min64(nred, lo + len);
            part[k] = op == CG_OP_MAX ? (ACC)CG_NAME(run_max)(x + lo, hi - lo)
                                      : CG_NAME(run_sum)(x + lo, hi - lo);
        );
        ACC r = part[0];
        for (int64_t k = 1; k < nparts; k++) r = op == CG_OP_MAX ? CG_NANMAX(r, part[k]) : r + part[k];
        out[0] = op == CG_OP_MEAN ? (T)(r / (ACC)nred) : (T)r;
        return CG_OK;
    }
    if (p->last_reduced) {
        /* case A: out[o] = reduce over nred / inner contiguous rows */
        const int64_t inner = p->inner, nrows = nred / inner;
        CG_PARALLEL_FOR(work, o, nout,
            const T *xo = x + flat_offset(o, p->nk, p->kshape, p->kstride);
            if (op == CG_OP_MAX) {
                T m = xo[0];
                for (int64_t r = 0; r < nrows; r++) {
                    const T v = CG_NAME(run_max)(xo + flat_offset(r, p->nr - 1, p->rshape, p->rstride), inner);
                    m = CG_NANMAX(m, v);
                }
                out[o] = m;
            } else {
                ACC s = 0;
                for (int64_t r = 0; r < nrows; r++)
                    s += CG_NAME(run_sum)(xo + flat_offset(r, p->nr - 1, p->rshape, p->rstride), inner);
                out[o] = op == CG_OP_MEAN ? (T)(s / (ACC)nred) : (T)s;
            }
        );
        return CG_OK;
    }
    /* case B: out row (length L) accumulates nred rows, one column chunk per task */
    const int64_t L = p->inner, nrow_out = nout / L;
    const int64_t nchunk = cg_ceil_div(L, CG_RED_CHUNK), ntask = nrow_out * nchunk;
    CG_PARALLEL_FOR(work, t, ntask,
        const int64_t ro = t / nchunk, c0 = (t % nchunk) * CG_RED_CHUNK;
        const int64_t cn = cg_min64(CG_RED_CHUNK, L - c0);
        const T *xo = x + flat_offset(ro, p->nk - 1, p->kshape, p->kstride) + c0;
        T *restrict oo = out + ro * L + c0;
        if (op == CG_OP_MAX) {
            const T *row = xo + flat_offset(0, p->nr, p->rshape, p->rstride);
            for (int64_t l = 0; l < cn; l++) oo[l] = row[l];
            for (int64_t r = 1; r < nred; r++) {
                row = xo + flat_offset(r, p->nr, p->rshape, p->rstride);
                for (int64_t l = 0; l < cn; l++) oo[l] = CG_NANMAX(oo[l], row[l]);
            }
        } else {
            ACC acc[CG_RED_CHUNK];
            for (int64_t l = 0; l < cn; l++) acc[l] = 0;
            for (int64_t r = 0; r < nred; r++) {
                const T *row = xo + flat_offset(r, p->nr, p->rshape, p->rstride);
                for (int64_t l = 0; l < cn; l++) acc[l] += (ACC)row[l];
            }
            if (op == CG_OP_MEAN)
                for (int64_t l = 0; l < cn; l++) oo[l] = (T)(acc[l] / (ACC)nred);
            else
                for (int64_t l = 0; l < cn; l++) oo[l] = (T)acc[l];
        }
    );
    return CG_OK;
}

/* Backward of sum (scale = 0) and mean (scale = 1): dx += dout broadcast,
 * divided by nred for mean (dout / count, in T, as torch). */
static int CG_NAME(reduce_backward_bcast)(T *restrict dx, const T *restrict dout, const red_plan *p, int mean)
{
    const int64_t nout = p->nout, nred = p->nred, work = nout * nred;
    if (work == 0) return CG_OK;
    const T cnt = (T)nred;
    if (p->last_reduced) {
        /* case A: every element of group o gets g = dout[o] (/ count) */
        const int64_t inner = p->inner, nrows = nred / inner;
        if (nout == 1) {
            const T g = mean ? dout[0] / cnt : dout[0];
            CG_PARALLEL_FOR(work, i, nred, dx[i] += g; );
            return CG_OK;
        }
        CG_PARALLEL_FOR(work, o, nout,
            const T g = mean ? dout[o] / cnt : dout[o];
            T *dxo = dx + flat_offset(o, p->nk, p->kshape, p->kstride);
            for (int64_t r = 0; r < nrows; r++) {
                T *restrict row = dxo + flat_offset(r, p->nr - 1, p->rshape, p->rstride);
                for (int64_t i = 0; i < inner; i++) row[i] += g;
            }
        );
        return CG_OK;
    }
    /* case B: each row of dx gets the dout row (/ count) */
    const int64_t L = p->inner, nrow_out = nout / L;
    const int64_t nchunk = cg_ceil_div(L, CG_RED_CHUNK), ntask = nrow_out * nchunk;
    CG_PARALLEL_FOR(work, t, ntask,
        const int64_t ro = t / nchunk, c0 = (t % nchunk) * CG_RED_CHUNK;
        const int64_t cn = cg_min64(CG_RED_CHUNK, L - c0);
        T *dxo = dx + flat_offset(ro, p->nk - 1, p->kshape, p->kstride) + c0;
        T g[CG_RED_CHUNK];
        for (int64_t l = 0; l < cn; l++) g[l] = mean ? dout[ro * L + c0 + l] / cnt : dout[ro * L + c0 + l];
        for (int64_t r = 0; r < nred; r++) {
            T *restrict row = dxo + flat_offset(r, p->nr, p->rshape, p->rstride);
            for (int64_t l = 0; l < cn; l++) row[l] += g[l];
        }
    );
    return CG_OK;
}

/* sum:  out = sum_{axes} x;            dx += dout (broadcast over axes) */
int CG_NAME(cg_sum_forward)(T *out, const T *x, int64_t ndim, const int64_t *shape,
                            const int64_t *axes, int64_t naxes)
{
    red_plan p;
    const int st = red_plan_make(&p, ndim, shape, axes, naxes);
    return st != CG_OK ? st : CG_NAME(reduce_forward)(out, x, &p, CG_OP_SUM);
}
int CG_NAME(cg_sum_backward)(T *dx, const T *dout, int64_t ndim, const int64_t *shape,
                             const int64_t *axes, int64_t naxes)
{
    red_plan p;
    const int st = red_plan_make(&p, ndim, shape, axes, naxes);
    return st != CG_OK ? st : CG_NAME(reduce_backward_bcast)(dx, dout, &p, 0);
}

/* mean: out = sum / count (empty group: NaN);  dx += dout / count */
int CG_NAME(cg_mean_forward)(T *out, const T *x, int64_t ndim, const int64_t *shape,
                             const int64_t *axes, int64_t naxes)
{
    red_plan p;
    const int st = red_plan_make(&p, ndim, shape, axes, naxes);
    return st != CG_OK ? st : CG_NAME(reduce_forward)(out, x, &p, CG_OP_MEAN);
}
int CG_NAME(cg_mean_backward)(T *dx, const T *dout, int64_t ndim, const int64_t *shape,
                              const int64_t *axes, int64_t naxes)
{
    red_plan p;
    const int st = red_plan_make(&p, ndim, shape, axes, naxes);
    return st != CG_OK ? st : CG_NAME(reduce_backward_bcast)(dx, dout, &p, 1);
}

/* amax: out = max over axes (NaN in a group gives NaN; empty group: error)
 *       dx += dout / k where x == max of its group, k = number of maxima
 *       (torch's evenly-distributed rule; a NaN group gets nothing, see
 *       CG_ISMAX). Two passes per group: count, then distribute. */
int CG_NAME(cg_amax_forward)(T *out, const T *x, int64_t ndim, const int64_t *shape,
                             const int64_t *axes, int64_t naxes)
{
    red_plan p;
    const int st = red_plan_make(&p, ndim, shape, axes, naxes);
    return st != CG_OK ? st : CG_NAME(reduce_forward)(out, x, &p, CG_OP_MAX);
}
int CG_NAME(cg_amax_backward)(T *dx, const T *dout, const T *x, const T *out, int64_t ndim,
                              const int64_t *shape, const int64_t *axes, int64_t naxes)
{
    red_plan pl;
    const int st = red_plan_make(&pl, ndim, shape, axes, naxes);
    if (st != CG_OK) return st;
    const red_plan *p = &pl;
    const int64_t nout = p->nout, nred = p->nred, work = nout * nred;
    if (work == 0) return CG_OK;
    if (p->last_reduced) {
        const int64_t inner = p->inner, nrows = nred / inner;
        CG_PARALLEL_FOR(work, o, nout,
            const int64_t base = flat_offset(o, p->nk, p->kshape, p->kstride);
            const T m = out[o];
            int64_t k = 0;
            for (int64_t r = 0; r < nrows; r++) {
                const T *row = x + base + flat_offset(r, p->nr - 1, p->rshape, p->rstride);
                for (int64_t i = 0; i < inner; i++) k += CG_ISMAX(row[i], m);
            }
            if (k == 0) continue;
            const T g = dout[o] / (T)k;
            for (int64_t r = 0; r < nrows; r++) {
                const int64_t off = base + flat_offset(r, p->nr - 1, p->rshape, p->rstride);
                for (int64_t i = 0; i < inner; i++)
                    if (CG_ISMAX(x[off + i], m)) dx[off + i] += g;
            }
        );
        return CG_OK;
    }
    const int64_t L = p->inner, nrow_out = nout / L;
    const int64_t nchunk = cg_ceil_div(L, CG_RED_CHUNK), ntask = nrow_out * nchunk;
    CG_PARALLEL_FOR(work, t, ntask,
        const int64_t ro = t / nchunk, c0 = (t % nchunk) * CG_RED_CHUNK;
        const int64_t cn = cg_min64(CG_RED_CHUNK, L - c0);
        const int64_t base = flat_offset(ro, p->nk - 1, p->kshape, p->kstride) + c0;
        const T *m = out + ro * L + c0;
        int64_t k[CG_RED_CHUNK];
        T g[CG_RED_CHUNK];
        for (int64_t l = 0; l < cn; l++) k[l] = 0;
        for (int64_t r = 0; r < nred; r++) {
            const T *row = x + base + flat_offset(r, p->nr, p->rshape, p->rstride);
            for (int64_t l = 0; l < cn; l++) k[l] += CG_ISMAX(row[l], m[l]);
        }
        for (int64_t l = 0; l < cn; l++) g[l] = k[l] ? dout[ro * L + c0 + l] / (T)k[l] : (T)0;
        for (int64_t r = 0; r < nred; r++) {
            const int64_t off = base + flat_offset(r, p->nr, p->rshape, p->rstride);
            for (int64_t l = 0; l < cn; l++)
                if (CG_ISMAX(x[off + l], m[l])) dx[off + l] += g[l];
        }
    );
    return CG_OK;
}

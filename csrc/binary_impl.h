/* binary_impl.h: elementwise binary kernels with NumPy broadcasting,
 * type-generic body (see common.h), included by binary.c once per type.
 *
 * out, dout, da, db are contiguous with shape S; a and b are views of shape
 * S with arbitrary element strides (0 where broadcast) and are never copied.
 * bin_run walks the coalesced shape (see bin_plan_make in binary.c) in
 * fixed blocks of the flat output index; each block calls a row function on
 * runs of the innermost dimension. Threads own whole blocks of the output:
 * no two write the same element, so results do not depend on the count.
 */
/* SPDX-License-Identifier: MIT */

typedef void (*CG_NAME(row_fn))(void *ctx, int64_t off, const T *a, int64_t sa,
                                const T *b, int64_t sb, int64_t n);

/* Backward context: the contiguous buffers, indexed by flat offset. */
typedef struct {
    T *da;
    T *db;
    const T *dout;
    const T *out;
} CG_NAME(bwd_ctx);

static void CG_NAME(bin_run)(const bin_plan *p, const T *a, const T *b,
                             CG_NAME(row_fn) fn, void *ctx)
{
    const int nd = p->nd;
    const int64_t inner = p->shape[nd - 1];
    const int64_t n = p->n;
    const int64_t nblk = cg_ceil_div(n, CG_BIN_BLOCK);
    CG_PARALLEL_FOR(n, blk, nblk,
        int64_t pos = blk * CG_BIN_BLOCK;
        const int64_t end = cg_min64(n, pos + CG_BIN_BLOCK);
        int64_t idx[CG_MAX_NDIM];
        int64_t ao = 0, bo = 0, r = pos;
        for (int d = nd - 1; d >= 0; d--) {
            idx[d] = r % p->shape[d];
            r /= p->shape[d];
            ao += idx[d] * p->sa[d];
            bo += idx[d] * p->sb[d];
        }
        while (pos < end) {
            const int64_t len = cg_min64(inner - idx[nd - 1], end - pos);
            fn(ctx, pos, a + ao, p->sa[nd - 1], b + bo, p->sb[nd - 1], len);
            pos += len;
            idx[nd - 1] += len;
            ao += len * p->sa[nd - 1];
            bo += len * p->sb[nd - 1];
            for (int d = nd - 1; d > 0 && idx[d] == p->shape[d]; d--) { /* carry */
                ao += p->sa[d - 1] - p->shape[d] * p->sa[d];
                bo += p->sb[d - 1] - p->shape[d] * p->sb[d];
                idx[d] = 0;
                idx[d - 1]++;
            }
        }
    );
}

/* A run of n elements; STMT uses i, av = a[i*sa], bv = b[i*sb]. The common
 * stride patterns (both contiguous, one a scalar) get their own loops so the
 * compiler can vectorise them. */
#define CG_BIN_ROWS(STMT)                                                         \
    do {                                                                          \
        if (sa == 1 && sb == 1) {                                                 \
            for (int64_t i = 0; i < n; i++) { const T av = a[i], bv = b[i]; (void)av; (void)bv; STMT; } \
        } else if (sa == 1 && sb == 0) {                                          \
            const T bv = b[0]; (void)bv;                                          \
            for (int64_t i = 0; i < n; i++) { const T av = a[i]; (void)av; STMT; } \
        } else if (sa == 0 && sb == 1) {                                          \
            const T av = a[0]; (void)av;                                          \
            for (int64_t i = 0; i < n; i++) { const T bv = b[i]; (void)bv; STMT; } \
        } else {                                                                  \
            for (int64_t i = 0; i < n; i++) {                                     \
                const T av = a[i * sa], bv = b[i * sb]; (void)av; (void)bv; STMT; \
            }                                                                     \
        }                                                                         \
    } while (0)

/* Forward: out = EXPR(av, bv). */
#define CG_BIN_FORWARD(op, EXPR)                                                  \
    static void CG_NAME(op##_fwd_row)(void *ctx, int64_t off, const T *a, int64_t sa, \
                                      const T *b, int64_t sb, int64_t n)          \
    {                                                                             \
        T *restrict dst = (T *)ctx + off;                                         \
        CG_BIN_ROWS(dst[i] = (EXPR));                                               \
    }                                                                             \
    int CG_NAME(cg_##op##_forward)(T *restrict out, const T *a, const T *b,       \
                                   int64_t ndim, const int64_t *shape,            \
                                   const int64_t *astrides, const int64_t *bstrides) \
    {                                                                             \
        bin_plan p;                                                               \
        const int st = bin_plan_make(&p, ndim, shape, astrides, bstrides);        \
        if (st != CG_OK || p.n == 0) return st;                                   \
        CG_NAME(bin_run)(&p, a, b, CG_NAME(op##_fwd_row), out);                   \
        return CG_OK;                                                             \
    }

/* Backward: da += DA, db += DB, expressions in G = dout[i], OUT = out[i], av, bv. */
#define CG_BIN_BACKWARD(op, DA, DB)                                               \
    static void CG_NAME(op##_bwd_row)(void *vctx, int64_t off, const T *a, int64_t sa, \
                                      const T *b, int64_t sb, int64_t n)          \
    {                                                                             \
        const CG_NAME(bwd_ctx) *c = (const CG_NAME(bwd_ctx) *)vctx;               \
        const T *restrict gp = c->dout + off;                                     \
        const T *restrict op_ = c->out ? c->out + off : NULL;                     \
        (void)op_;                                                                \
        if (c->da) { T *restrict d = c->da + off; CG_BIN_ROWS(d[i] += (DA)); }    \
        if (c->db) { T *restrict d = c->db + off; CG_BIN_ROWS(d[i] += (DB)); }    \
    }                                                                             \
    int CG_NAME(cg_##op##_backward)(T *da, T *db, const T *dout, const T *a,      \
                                    const T *b, const T *out, int64_t ndim,       \
                                    const int64_t *shape, const int64_t *astrides, \
                                    const int64_t *bstrides)                      \
    {                                                                             \
        bin_plan p;                                                               \
        const int st = bin_plan_make(&p, ndim, shape, astrides, bstrides);        \
        if (st != CG_OK || p.n == 0 || (!da && !db)) return st;                   \
        CG_NAME(bwd_ctx) c = {da, db, dout, out};                                 \
        CG_NAME(bin_run)(&p, a, b, CG_NAME(op##_bwd_row), &c);                    \
        return CG_OK;                                                             \
    }

#define G (gp[i])
#define OUT (op_[i])

/* add: out = a + b;  da += dout, db += dout (below: no strided reads). */
CG_BIN_FORWARD(add, av + bv)
/* sub: out = a - b;  da += dout, db -= dout. */
CG_BIN_FORWARD(sub, av - bv)

/* mul: out = a * b;  da += dout * b, db += dout * a. */
CG_BIN_FORWARD(mul, av * bv)
CG_BIN_BACKWARD(mul, G * bv, G * av)

/* div: out = a / b;  da += dout / b,  db -= dout * a / b^2, written as
 * dout * out / b (reads b and out, not a). */
CG_BIN_FORWARD(div, av / bv)
CG_BIN_BACKWARD(div, G / bv, -(G * OUT / bv))

/* pow: out = a^b
 *   da += dout * (b * a^(b-1)), and 0 where b == 0 (torch: no 0 * inf at a == 0);
 *   b * a^(b-1) first, as torch, so a huge b with a^(b-1) == 0 gives 0, not inf * 0
 *   db += dout * out * ln a, and 0 where a == 0 and b >= 0 (torch) */
CG_BIN_FORWARD(pow, CG_M(pow)(av, bv))
CG_BIN_BACKWARD(pow, bv == 0 ? (T)0 : G * (bv * CG_M(pow)(av, bv - (T)1)),
                (av == 0 && bv >= 0) ? (T)0 : G * OUT * CG_M(log)(av))

#undef G
#undef OUT
#undef CG_BIN_FORWARD
#undef CG_BIN_BACKWARD
#undef CG_BIN_ROWS

/* accumulate: dst += src (both contiguous, n elements). */
void CG_NAME(cg_accumulate)(T *restrict dst, const T *restrict src, int64_t n)
{
    CG_PARALLEL_FOR(n, i, n, dst[i] += src[i]; );
}

/* add and sub backward only touch contiguous buffers: dout broadcast is the
 * caller's business (it sums da/db back with sum_forward). */
int CG_NAME(cg_add_backward)(T *da, T *db, const T *dout, const T *a, const T *b,
                             const T *out, int64_t ndim, const int64_t *shape,
                             const int64_t *astrides, const int64_t *bstrides)
{
    bin_plan p;
    const int st = bin_plan_make(&p, ndim, shape, astrides, bstrides);
    (void)a; (void)b; (void)out;
    if (st != CG_OK) return st;
    if (da) CG_NAME(cg_accumulate)(da, dout, p.n);
    if (db) CG_NAME(cg_accumulate)(db, dout, p.n);
    return CG_OK;
}

int CG_NAME(cg_sub_backward)(T *da, T *db, const T *dout, const T *a, const T *b,
                             const T *out, int64_t ndim, const int64_t *shape,
                             const int64_t *astrides, const int64_t *bstrides)
{
    bin_plan p;
    const int st = bin_plan_make(&p, ndim, shape, astrides, bstrides);
    (void)a; (void)b; (void)out;
    if (st != CG_OK) return st;
    const int64_t n = p.n;
    if (da) CG_NAME(cg_accumulate)(da, dout, n);
    if (db) {
        CG_PARALLEL_FOR(n, i, n, db[i] -= dout[i]; );
    }
    return CG_OK;
}

/* gemm_impl.h: matrix multiply, type-generic body (see common.h), included
 * by gemm.c once per type. BLIS recipe (flame/blis docs/KernelsHowTo.md):
 *
 *   for jc in N step NC:                  B panel  kc x nc   -> L3
 *     for pc in K step KC:                pack B (row micro-panels, NR wide)
 *       for ic in M step MC:              A block  mc x kc   -> L2
 *         pack A (column micro-panels, MR tall)
 *         for each (jr, ir) tile:         micro-kernel MR x NR, B micro-panel -> L1
 *
 * Transposed operands are handled in the packing routines (no copies).
 * An operand small enough to stay in cache (and, for A, whose rows are not a
 * multiple of 4 KB apart) is not packed: the micro-kernel reads it in place
 * through strides, and only a ragged last panel is packed. Edges are
 * zero-padded in the packed panels; the last rows of C go through kernels
 * for 1/3 or 2/3 of MR rows, and tiles that still do not fit through a
 * temporary. OpenMP gives each thread one block of a grid of whole tiles of
 * C, which it packs for and computes alone: each tile is computed with the
 * same sequence of operations whatever the thread count, so results are
 * deterministic.
 */
/* SPDX-License-Identifier: MIT */

/* Element (i, p) of op(A) (M x K) and (p, j) of op(B) (K x N). */
#define A_AT(i, p) (ta ? a[(p) * M + (i)] : a[(i) * K + (p)])
#define B_AT(p, j) (tb ? b[(j) * K + (p)] : b[(p) * N + (j)])

/* Naive reference: c[i,j] = (accumulate ? c[i,j] : 0) + sum_p A(i,p) B(p,j).
 * The fast path gives the same result except for rounding: it sums each
 * KC-long slice of p separately (and with FMA on SIMD paths). */
void CG_NAME(cg_gemm_naive)(T *c, const T *a, const T *b, int64_t M, int64_t N, int64_t K,
                            int ta, int tb, int accumulate)
{
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            T s = 0;
            for (int64_t p = 0; p < K; p++) s += A_AT(i, p) * B_AT(p, j);
            c[i * N + j] = accumulate ? c[i * N + j] + s : s;
        }
}

/* Small problems: no packing, no allocation. Rows of C are independent.
 * The SIMD row kernels (small_x86.c) take op(A) in place and B by rows:
 * a B^T of at most CG_SMALL_BT elements is transposed on the stack first.
 * Otherwise the portable loops below. */
static void CG_NAME(gemm_small)(T *restrict c, const T *restrict a, const T *restrict b,
                                int64_t M, int64_t N, int64_t K, int ta, int tb, int accumulate)
{
#ifdef CG_HAVE_X86_UKERNELS
    const int isa = cg_get_isa();
    if (isa >= CG_ISA_AVX2 && (!tb || K * N <= CG_SMALL_BT)) {
        T bt[CG_SMALL_BT];
        if (tb) {
            for (int64_t p = 0; p < K; p++)
                for (int64_t j = 0; j < N; j++) bt[p * N + j] = b[j * K + p];
            b = bt;
        }
        const int64_t rsa = ta ? 1 : K, csa = ta ? M : 1;
        if (isa >= CG_ISA_AVX512) CG_SK_AVX512(a, rsa, csa, b, c, M, N, K, accumulate);
        else CG_SK_AVX2(a, rsa, csa, b, c, M, N, K, accumulate);
        return;
    }
#endif
    for (int64_t i = 0; i < M; i++) {
        T *restrict ci = c + i * N;
        if (!tb) { /* c_i += A(i,p) * b_p, rows of B contiguous */
            if (!accumulate)
                for (int64_t j = 0; j < N; j++) ci[j] = 0;
            for (int64_t p = 0; p < K; p++) {
                const T aip = A_AT(i, p);
                const T *restrict bp = b + p * N;
                for (int64_t j = 0; j < N; j++) ci[j] += aip * bp[j];
            }
        } else { /* c_ij += dot(A(i,:), b_j), b_j contiguous */
            for (int64_t j = 0; j < N; j++) {
                const T *restrict bj = b + j * K;
                T s = 0;
                for (int64_t p = 0; p < K; p++) s += A_AT(i, p) * bj[p];
                ci[j] = accumulate ? ci[j] + s : s;
            }
        }
    }
}

/* Portable micro-kernel (contract in ukernel.h), CG_GEN_MR x CG_GEN_NR.
 * The i/j loops have constant trip counts; the compiler unrolls them. */
static void CG_NAME(ukernel_generic)(int64_t kc, const T *restrict a, int64_t rsa, int64_t csa,
                                     const T *restrict b, int64_t ldb, T *restrict c,
                                     int64_t ldc, int accumulate)
{
    T ab[CG_GEN_MR * CG_GEN_NR];
    for (int k = 0; k < CG_GEN_MR * CG_GEN_NR; k++) ab[k] = 0;
    for (int64_t p = 0; p < kc; p++) {
        for (int i = 0; i < CG_GEN_MR; i++) {
            const T ai = a[p * csa + i * rsa];
            for (int j = 0; j < CG_GEN_NR; j++) ab[i * CG_GEN_NR + j] += ai * b[p * ldb + j];
        }
    }
    for (int i = 0; i < CG_GEN_MR; i++)
        for (int j = 0; j < CG_GEN_NR; j++)
            c[i * ldc + j] = accumulate ? c[i * ldc + j] + ab[i * CG_GEN_NR + j] : ab[i * CG_GEN_NR + j];
}

typedef void (*CG_NAME(ukr_fn))(int64_t, const T *, int64_t, int64_t, const T *, int64_t, T *,
                                int64_t, int);

/* Transposing pack: dst[p*R + r] = src[r*lds + p] for r < nv, p < kc, and
 * 0 for nv <= r < R. On x86-64 (SSE2 is part of the base ISA, no target
 * attribute needed) whole 4x4 (float) or 2x2 (double) blocks go through
 * registers; the rest is scalar. Pure data movement: no rounding. */
static void CG_NAME(pack_tr)(T *restrict dst, const T *restrict src, int64_t lds, int64_t nv,
                             int64_t kc, int R)
{
    int64_t r0 = 0;
#if defined(__SSE2__)
    if (sizeof(T) == sizeof(float)) {
        const float *s = (const float *)src;
        float *d = (float *)dst;
        for (; r0 + 4 <= nv; r0 += 4) {
            const float *s0 = s + r0 * lds, *s1 = s0 + lds, *s2 = s1 + lds, *s3 = s2 + lds;
            int64_t p = 0;
            for (; p + 4 <= kc; p += 4) {
                __m128 x0 = _mm_loadu_ps(s0 + p), x1 = _mm_loadu_ps(s1 + p);
                __m128 x2 = _mm_loadu_ps(s2 + p), x3 = _mm_loadu_ps(s3 + p);
                _MM_TRANSPOSE4_PS(x0, x1, x2, x3);
                _mm_storeu_ps(d + (p + 0) * R + r0, x0);
                _mm_storeu_ps(d + (p + 1) * R + r0, x1);
                _mm_storeu_ps(d + (p + 2) * R + r0, x2);
                _mm_storeu_ps(d + (p + 3) * R + r0, x3);
            }
            for (; p < kc; p++) {
                d[p * R + r0 + 0] = s0[p];
                d[p * R + r0 + 1] = s1[p];
                d[p * R + r0 + 2] = s2[p];
                d[p * R + r0 + 3] = s3[p];
            }
        }
    } else {
        const double *s = (const double *)src;
        double *d = (double *)dst;
        for (; r0 + 2 <= nv; r0 += 2) {
            const double *s0 = s + r0 * lds, *s1 = s0 + lds;
            int64_t p = 0;
            for (; p + 2 <= kc; p += 2) {
                const __m128d x0 = _mm_loadu_pd(s0 + p), x1 = _mm_loadu_pd(s1 + p);
                _mm_storeu_pd(d + (p + 0) * R + r0, _mm_unpacklo_pd(x0, x1));
                _mm_storeu_pd(d + (p + 1) * R + r0, _mm_unpackhi_pd(x0, x1));
            }
            for (; p < kc; p++) {
                d[p * R + r0 + 0] = s0[p];
                d[p * R + r0 + 1] = s1[p];
            }
        }
    }
#endif
    for (int64_t r = r0; r < nv; r++) {
        const T *sr = src + r * lds;
        for (int64_t p = 0; p < kc; p++) dst[p * R + r] = sr[p];
    }
    for (int64_t p = 0; p < kc; p++)
        for (int64_t r = nv; r < R; r++) dst[p * R + r] = 0;
}

/* Rows [p0, p0+kc) of the npan whole NRC-wide panels starting at column j0
 * of a row-major matrix (row stride lds): dst[jp*kc*nrc + p*nrc + j]. Row
 * by row, so the source is read sequentially (one pass per row, not one
 * per panel: with rows a page or more apart, a panel at a time costs a TLB
 * miss per row and panel). */
static inline void CG_NAME(pack_rows_panels)(T *restrict dst, const T *restrict src, int64_t lds,
                                             int64_t kc, int64_t npan, int nrc)
{
    for (int64_t p = 0; p < kc; p++) {
        const T *restrict s = src + p * lds;
        T *restrict d = dst + p * nrc;
        for (int64_t jp = 0; jp < npan; jp++)
            for (int j = 0; j < nrc; j++) d[jp * kc * nrc + j] = s[jp * nrc + j];
    }
}

/* Pack the kc x nc block of a row-major matrix at src (row stride lds) into
 * NR-wide micro-panels, zero-padding the last one (used for op(B) = B and
 * for op(A)^T = A^T, whose micro-panels are MR wide). */
static void CG_NAME(pack_panels)(T *restrict dst, const T *restrict src, int64_t lds, int64_t kc,
                                 int64_t nc, int nr)
{
    const int64_t nfull = nc / nr;
    switch (nr) { /* constant widths: each copy becomes a few vector moves */
    case 32: CG_NAME(pack_rows_panels)(dst, src, lds, kc, nfull, 32); break;
    case 16: CG_NAME(pack_rows_panels)(dst, src, lds, kc, nfull, 16); break;
    case 12: CG_NAME(pack_rows_panels)(dst, src, lds, kc, nfull, 12); break;
    case 8: CG_NAME(pack_rows_panels)(dst, src, lds, kc, nfull, 8); break;
    case 6: CG_NAME(pack_rows_panels)(dst, src, lds, kc, nfull, 6); break;
    case 4: CG_NAME(pack_rows_panels)(dst, src, lds, kc, nfull, 4); break;
    default: CG_NAME(pack_rows_panels)(dst, src, lds, kc, nfull, nr); break;
    }
    const int64_t nv = nc - nfull * nr;
    if (nv > 0) {
        T *restrict d = dst + nfull * kc * nr;
        for (int64_t p = 0; p < kc; p++) {
            const T *restrict s = src + p * lds + nfull * nr;
            for (int64_t j = 0; j < nv; j++) d[p * nr + j] = s[j];
            for (int64_t j = nv; j < nr; j++) d[p * nr + j] = 0;
        }
    }
}

/* Pack rows [i0, i0+mv) x cols [p0, p0+kc) of op(A) into one MR-tall
 * micro-panel dst[p*mr + i], zero rows mv..mr-1. */
static void CG_NAME(pack_a)(T *restrict dst, const T *restrict a, int64_t M, int64_t K, int ta,
                            int64_t i0, int64_t mv, int64_t p0, int64_t kc, int mr)
{
    if (ta) CG_NAME(pack_panels)(dst, a + p0 * M + i0, M, kc, mv, mr); /* rows of A^T */
    else CG_NAME(pack_tr)(dst, a + i0 * K + p0, K, mv, kc, mr);
}

/* Pack rows [p0, p0+kc) x cols [j0, j0+nv) of op(B) into one NR-wide
 * micro-panel dst[p*nr + j], zero cols nv..nr-1. */
static void CG_NAME(pack_b)(T *restrict dst, const T *restrict b, int64_t N, int64_t K, int tb,
                            int64_t p0, int64_t kc, int64_t j0, int64_t nv, int nr)
{
    if (tb) CG_NAME(pack_tr)(dst, b + j0 * K + p0, K, nv, kc, nr);
    else CG_NAME(pack_panels)(dst, b + p0 * N + j0, N, kc, nv, nr);
}

/* One product, planned once per call (cg_gemm). pack_a / pack_b say whether
 * op(A) / op(B) are packed into micro-panels or read in place by the
 * micro-kernel (then only an edge panel shorter than MR / NR is packed,
 * zero-padded). The choice depends only on the shape, never on the thread
 * count, and the kernel sums every element the same way either way. */
typedef struct {
    T *c;
    const T *a, *b;
    int64_t M, N, K;
    int ta, tb, accumulate;
    int mr, nr;
    int mstep;            /* kern_m[q] computes (q+1)*mstep rows; kern_m[mr/mstep-1] = kern */
    int pack_a, pack_b;
    int64_t kc_blk, mc_blk, nc_blk;
    CG_NAME(ukr_fn) kern;
    CG_NAME(ukr_fn) kern_m[3];
    int64_t tm, tn;       /* thread grid: tm row ranges x tn column ranges */
    int64_t a_stride, b_stride; /* per-thread buffer sizes (elements) */
    T *buf;               /* one (a_stride + b_stride) block per thread, 64-byte aligned */
} CG_NAME(gemm_job);

/* The BLIS loops over the block rows [m0, m1) x cols [n0, n1) of C, with
 * private packing buffers: no communication with other threads. */
static void CG_NAME(gemm_range)(const CG_NAME(gemm_job) *g, T *bufA, T *bufB,
                                int64_t m0, int64_t m1, int64_t n0, int64_t n1)
{
    const int64_t M = g->M, N = g->N, K = g->K;
    const int mr = g->mr, nr = g->nr;
    const int ta = g->ta;
    for (int64_t jc = n0; jc < n1; jc += g->nc_blk) {
        const int64_t nc = cg_min64(g->nc_blk, n1 - jc);
        const int64_t npan = cg_ceil_div(nc, nr);
        for (int64_t pc = 0; pc < K; pc += g->kc_blk) {
            const int64_t kc = cg_min64(g->kc_blk, K - pc);
            const int beta = pc > 0 || g->accumulate; /* first K slice overwrites */
            if (g->pack_b && !g->tb) {
                CG_NAME(pack_panels)(bufB, g->b + pc * N + jc, N, kc, nc, nr);
            } else if (g->pack_b) {
                for (int64_t jp = 0; jp < npan; jp++)
                    CG_NAME(pack_b)(bufB + jp * kc * nr, g->b, N, K, g->tb, pc, kc, jc + jp * nr,
                                    cg_min64(nr, nc - jp * nr), nr);
            } else if (nc % nr) { /* only the ragged last panel */
                CG_NAME(pack_b)(bufB, g->b, N, K, g->tb, pc, kc, jc + (npan - 1) * nr, nc % nr, nr);
            }
            for (int64_t ic = m0; ic < m1; ic += g->mc_blk) {
                const int64_t mc = cg_min64(g->mc_blk, m1 - ic);
                const int64_t mpan = cg_ceil_div(mc, mr);
                if (g->pack_a && ta) {
                    CG_NAME(pack_panels)(bufA, g->a + pc * M + ic, M, kc, mc, mr);
                } else if (g->pack_a) {
                    for (int64_t ip = 0; ip < mpan; ip++)
                        CG_NAME(pack_a)(bufA + ip * kc * mr, g->a, M, K, ta, ic + ip * mr,
                                        cg_min64(mr, mc - ip * mr), pc, kc, mr);
                } else if (mc % mr) {
                    CG_NAME(pack_a)(bufA, g->a, M, K, ta, ic + (mpan - 1) * mr, mc % mr, pc, kc, mr);
                }
                for (int64_t jp = 0; jp < npan; jp++) {  /* B micro-panel stays in L1 */
                    const int64_t nv = cg_min64(nr, nc - jp * nr);
                    const T *bp;
                    int64_t ldb;
                    if (g->pack_b) { bp = bufB + jp * kc * nr; ldb = nr; }
                    else if (nv < nr) { bp = bufB; ldb = nr; }
                    else { bp = g->b + pc * N + jc + jp * nr; ldb = N; }
                    for (int64_t ip = 0; ip < mpan; ip++) {
                        const int64_t mv = cg_min64(mr, mc - ip * mr);
                        const int64_t i = ic + ip * mr;
                        const T *ap;
                        int64_t rsa, csa;
                        if (g->pack_a) { ap = bufA + ip * kc * mr; rsa = 1; csa = mr; }
                        else if (mv < mr) { ap = bufA; rsa = 1; csa = mr; }
                        else if (!ta) { ap = g->a + i * K + pc; rsa = K; csa = 1; }
                        else { ap = g->a + pc * M + i; rsa = 1; csa = M; }
                        T *cp = g->c + i * N + jc + jp * nr;
                        if (mv == mr && nv == nr) {
                            g->kern(kc, ap, rsa, csa, bp, ldb, cp, N, beta);
                            continue;
                        }
                        /* last rows: the kernel for the fewest rows >= mv (a multiple
                         * of mstep), writing C in place when it fits exactly */
                        const int64_t q = cg_ceil_div(mv, g->mstep) - 1;
                        if ((q + 1) * g->mstep == mv && nv == nr) {
                            g->kern_m[q](kc, ap, rsa, csa, bp, ldb, cp, N, beta);
                        } else { /* partial tile: into tmp, copy the valid part */
                            T tmp[CG_MAX_MR * CG_MAX_NR];
                            g->kern_m[q](kc, ap, rsa, csa, bp, ldb, tmp, nr, 0);
                            for (int64_t r = 0; r < mv; r++)
                                for (int64_t j = 0; j < nv; j++)
                                    cp[r * N + j] = beta ? cp[r * N + j] + tmp[r * nr + j] : tmp[r * nr + j];
                        }
                    }
                }
            }
        }
    }
}

/* Part `part` of the tm x tn thread grid: whole micro-panels of rows and
 * columns, split as evenly as possible. */
static void CG_NAME(gemm_part)(const CG_NAME(gemm_job) *g, int64_t part, int slot)
{
    const int64_t mp = cg_ceil_div(g->M, g->mr), np = cg_ceil_div(g->N, g->nr);
    const int64_t ti = part / g->tn, tj = part % g->tn;
    const int64_t m0 = cg_min64(g->M, ti * mp / g->tm * g->mr);
    const int64_t m1 = cg_min64(g->M, (ti + 1) * mp / g->tm * g->mr);
    const int64_t n0 = cg_min64(g->N, tj * np / g->tn * g->nr);
    const int64_t n1 = cg_min64(g->N, (tj + 1) * np / g->tn * g->nr);
    if (m0 >= m1 || n0 >= n1) return;
    T *bufA = g->buf + (int64_t)slot * (g->a_stride + g->b_stride);
    CG_NAME(gemm_range)(g, bufA, bufA + g->a_stride, m0, m1, n0, n1);
}

/* Fast GEMM: same contract and result as cg_gemm_naive, except rounding
 * (see there). Returns CG_ENOMEM if the packing workspace (one block per
 * call and thread, freed before return) cannot be allocated.
 *
 * Threads: C is cut into a tm x tn grid of blocks of whole micro-tiles (one
 * per thread, or a few per thread when nothing is packed), handed out
 * dynamically; a thread packs what its block needs itself, so there is no
 * barrier but the one at the end. The grid minimises a simple cost model
 * (multiply-adds plus packing); it only decides who computes a tile, never
 * how, so the result is the same for any thread count. */
int CG_NAME(cg_gemm)(T *c, const T *a, const T *b, int64_t M, int64_t N, int64_t K,
                     int ta, int tb, int accumulate)
{
    if (M < 0 || N < 0 || K < 0) return CG_EINVAL;
    if (M == 0 || N == 0) return CG_OK;
    if (K == 0) { /* empty sum: C = 0, or unchanged when accumulating */
        if (!accumulate)
            for (int64_t i = 0; i < M * N; i++) c[i] = 0;
        return CG_OK;
    }
    if (CG_GEMM_IS_SMALL(M, N, K)) {
        CG_NAME(gemm_small)(c, a, b, M, N, K, ta, tb, accumulate);
        return CG_OK;
    }

    CG_NAME(gemm_job) g;
    g.c = c; g.a = a; g.b = b; g.M = M; g.N = N; g.K = K;
    g.ta = ta; g.tb = tb; g.accumulate = accumulate;
    g.mr = CG_GEN_MR; g.nr = CG_GEN_NR; g.kern = CG_NAME(ukernel_generic);
    g.mstep = CG_GEN_MR; g.kern_m[0] = g.kern_m[1] = g.kern_m[2] = g.kern;
    double fma_rate = 4; /* multiply-adds per cycle, for the cost model */
#ifdef CG_HAVE_X86_UKERNELS
    const int isa = cg_get_isa(); /* micro-kernel for this CPU (cpu.c) */
    if (isa >= CG_ISA_AVX512) {
        g.mr = CG_AVX512_MR; g.nr = CG_UK_AVX512_NR; g.kern = CG_UK_AVX512;
        g.mstep = CG_AVX512_MSTEP;
        g.kern_m[0] = CG_UK_AVX512_M1; g.kern_m[1] = CG_UK_AVX512_M2; g.kern_m[2] = g.kern;
    } else if (isa == CG_ISA_AVX2) {
        g.mr = CG_AVX2_MR; g.nr = CG_UK_AVX2_NR; g.kern = CG_UK_AVX2;
        g.mstep = CG_AVX2_MSTEP;
        g.kern_m[0] = CG_UK_AVX2_M1; g.kern_m[1] = CG_UK_AVX2_M2; g.kern_m[2] = g.kern;
    }
    if (isa >= CG_ISA_AVX2) fma_rate = g.nr; /* two NR/2-wide FMAs per cycle */
#endif
    const int64_t esz = (int64_t)sizeof(T);
    g.kc_blk = CG_KC_T;
    /* Operands small enough to stay in cache are read in place. */
    g.pack_b = tb || K * N * esz > CG_DIRECT_B_BYTES;
    /* ... except rows of A a multiple of 4 KB apart: MR of them map to one
     * set of the L1 cache */
    g.pack_a = M * K * esz > CG_DIRECT_A_BYTES || (!ta && (K * esz) % 4096 == 0);
    /* MC blocks of equal size (a multiple of MR, at most CG_MC rounded down) */
    const int64_t mc_cap = cg_max64(g.mr, (CG_MC / g.mr) * g.mr);
    const int64_t n_ic0 = cg_ceil_div(M, mc_cap);
    g.mc_blk = cg_ceil_div(cg_ceil_div(M, n_ic0), g.mr) * g.mr;
    g.nc_blk = cg_max64(g.nr, (CG_NC / g.nr) * g.nr);

    /* Thread grid */
    const int64_t mp = cg_ceil_div(M, g.mr), np = cg_ceil_div(N, g.nr);
    int64_t nt = M * N * K > CG_PAR_GEMM ? cg_get_num_threads() : 1;
    /* Parts of the grid: one per thread when they pack (more would pack more),
     * else a few per thread, handed out dynamically (a thread held up on a
     * busy machine then does less). */
    int64_t nparts = cg_min64(nt * (g.pack_a || g.pack_b ? 1 : CG_PARTS_PER_THREAD), mp * np);
    g.tm = 1; g.tn = 1;
    if (nt > 1 && nparts > 1) {
        double best = -1;
        for (int64_t tm = 1; tm <= nparts; tm++) {
            if (nparts % tm) continue;
            const int64_t tn = nparts / tm;
            if (tm > mp || tn > np) continue;
            const double rows = (double)cg_ceil_div(mp, tm) * g.mr;
            const double cols = (double)cg_ceil_div(np, tn) * g.nr;
            double cost = rows * cols * (double)K / fma_rate;
            /* packing: about a cycle per element (measured: it streams from
             * memory, transposing or not); A is packed once per NC block */
            if (g.pack_a) cost += rows * (double)K * cg_ceil_div((int64_t)cols, g.nc_blk);
            if (g.pack_b) cost += cols * (double)K;
            if (best < 0 || cost < best) { best = cost; g.tm = tm; g.tn = tn; }
        }
        if (best < 0) { g.tm = cg_min64(nparts, mp); g.tn = 1; } /* no fitting grid: fewer parts */
    }
    nparts = g.tm * g.tn;
    nt = cg_min64(nt, nparts);

    const int64_t kc_max = cg_min64(g.kc_blk, K);
    const int64_t cols_max = cg_ceil_div(np, g.tn) * g.nr;
    const int64_t nc_max = cg_min64(g.nc_blk, cols_max);
    g.a_stride = cg_ceil_div((g.pack_a ? g.mc_blk : g.mr) * kc_max, 16) * 16;
    g.b_stride = cg_ceil_div((g.pack_b ? nc_max : g.nr) * kc_max, 16) * 16;
    void *raw = malloc((size_t)(nt * (g.a_stride + g.b_stride)) * sizeof(T) + 64);
    if (!raw) return CG_ENOMEM;
    g.buf = (T *)(((uintptr_t)raw + 63) & ~(uintptr_t)63);

    if (nt > 1) {
        CG_PRAGMA(omp parallel num_threads(nt))
        {
            const int slot = cg_thread_num(); /* team size <= nt */
            CG_PRAGMA(omp for schedule(dynamic, 1) nowait)
            for (int64_t part = 0; part < nparts; part++)
                CG_NAME(gemm_part)(&g, part, slot);
        }
    } else {
        for (int64_t part = 0; part < nparts; part++) CG_NAME(gemm_part)(&g, part, 0);
    }
    free(raw);
    return CG_OK;
}

/* Batched matmul (contract in cgrad.h): out[i % Bo] (+)= A[i % Ba] @ B[i % Bb].
 * Product i overwrites its out slot only if it is the slot's first writer
 * (i < Bo) and accumulate == 0. Batches of small matrices with one out slot
 * each run in parallel over the batch; otherwise the batch runs in order
 * and each product is parallel inside. */
int CG_NAME(cg_matmul)(T *out, const T *a, const T *b, int64_t Bo, int64_t Ba, int64_t Bb,
                       int64_t M, int64_t N, int64_t K, int ta, int tb, int accumulate)
{
    if (Bo < 0 || Ba < 0 || Bb < 0 || M < 0 || N < 0 || K < 0) return CG_EINVAL;
    const int64_t B = cg_max64(Bo, cg_max64(Ba, Bb));
    if (B == 0 || Bo == 0 || Ba == 0 || Bb == 0) return CG_OK;
    const int64_t sa = M * K, sb = K * N, so = M * N;
    if (Bo == B && B > 1 && K > 0 && CG_GEMM_IS_SMALL(M, N, K)) {
        CG_PARALLEL_FOR(B * M * N * K, i, B,
            CG_NAME(gemm_small)(out + i * so, a + (i % Ba) * sa, b + (i % Bb) * sb, M, N, K, ta, tb,
                                accumulate);
        );
        return CG_OK;
    }
    for (int64_t i = 0; i < B; i++) {
        const int st = CG_NAME(cg_gemm)(out + (i % Bo) * so, a + (i % Ba) * sa, b + (i % Bb) * sb,
                                        M, N, K, ta, tb, accumulate || i >= Bo);
        if (st != CG_OK) return st;
    }
    return CG_OK;
}

#undef A_AT
#undef B_AT

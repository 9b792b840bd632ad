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
 * Edges are zero-padded in the packed panels; partial tiles go through a
 * temporary. OpenMP splits the packing and the tiles of C: each tile is
 * computed by one thread with the same sequence of operations whatever the
 * thread count, so results are deterministic.
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

/* Small problems: no packing, no allocation. Rows of C are independent. */
static void CG_NAME(gemm_small)(T *restrict c, const T *restrict a, const T *restrict b,
                                int64_t M, int64_t N, int64_t K, int ta, int tb, int accumulate)
{
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
static void CG_NAME(ukernel_generic)(int64_t kc, const T *restrict a, const T *restrict b,
                                     T *restrict c, int64_t ldc, int accumulate)
{
    T ab[CG_GEN_MR * CG_GEN_NR];
    for (int k = 0; k < CG_GEN_MR * CG_GEN_NR; k++) ab[k] = 0;
    for (int64_t p = 0; p < kc; p++) {
        for (int i = 0; i < CG_GEN_MR; i++) {
            const T ai = a[p * CG_GEN_MR + i];
            for (int j = 0; j < CG_GEN_NR; j++) ab[i * CG_GEN_NR + j] += ai * b[p * CG_GEN_NR + j];
        }
    }
    for (int i = 0; i < CG_GEN_MR; i++)
        for (int j = 0; j < CG_GEN_NR; j++)
            c[i * ldc + j] = accumulate ? c[i * ldc + j] + ab[i * CG_GEN_NR + j] : ab[i * CG_GEN_NR + j];
}

typedef void (*CG_NAME(ukr_fn))(int64_t, const T *, const T *, T *, int64_t, int);

/* Pack rows [i0, i0+mv) x cols [p0, p0+kc) of op(A) into one MR-tall
 * micro-panel dst[p*mr + i], zero rows mv..mr-1. */
static void CG_NAME(pack_a)(T *restrict dst, const T *restrict a, int64_t M, int64_t K, int ta,
                            int64_t i0, int64_t mv, int64_t p0, int64_t kc, int mr)
{
    if (!ta) {
        for (int64_t i = 0; i < mv; i++) {
            const T *src = a + (i0 + i) * K + p0;
            for (int64_t p = 0; p < kc; p++) dst[p * mr + i] = src[p];
        }
    } else {
        for (int64_t p = 0; p < kc; p++) {
            const T *src = a + (p0 + p) * M + i0;
            for (int64_t i = 0; i < mv; i++) dst[p * mr + i] = src[i];
        }
    }
    for (int64_t p = 0; p < kc; p++)
        for (int64_t i = mv; i < mr; i++) dst[p * mr + i] = 0;
}

/* Pack rows [p0, p0+kc) x cols [j0, j0+nv) of op(B) into one NR-wide
 * micro-panel dst[p*nr + j], zero cols nv..nr-1. */
static void CG_NAME(pack_b)(T *restrict dst, const T *restrict b, int64_t N, int64_t K, int tb,
                            int64_t p0, int64_t kc, int64_t j0, int64_t nv, int nr)
{
    if (!tb) {
        for (int64_t p = 0; p < kc; p++) {
            const T *src = b + (p0 + p) * N + j0;
            for (int64_t j = 0; j < nv; j++) dst[p * nr + j] = src[j];
        }
    } else {
        for (int64_t j = 0; j < nv; j++) {
            const T *src = b + (j0 + j) * K + p0;
            for (int64_t p = 0; p < kc; p++) dst[p * nr + j] = src[p];
        }
    }
    for (int64_t p = 0; p < kc; p++)
        for (int64_t j = nv; j < nr; j++) dst[p * nr + j] = 0;
}

/* The blocked loops over one product, run by every thread of a team (or
 * by one thread alone). Per (jc, pc) panel there are two barriers, the
 * implicit ones of the two orphaned `omp for` loops: after the team has
 * packed B, and after all tiles are done (before B is packed again).
 * The work items are (MC block of rows, range of NR panels), handed out
 * dynamically in row-block order (a preempted thread on a busy machine then
 * does not hold up the team); a thread packs each A block it needs into its
 * own buffer. Every tile of C is computed by exactly one thread with the
 * same operations, whatever the team size or the schedule. */
typedef struct {
    T *c;
    const T *a, *b;
    int64_t M, N, K;
    int ta, tb, accumulate;
    int mr, nr, nt;
    int64_t mc_blk, nc_blk, n_ic;
    CG_NAME(ukr_fn) kern;
    T *bufA, *bufB;   /* bufA: nt private blocks of a_stride elements */
    int64_t a_stride;
} CG_NAME(gemm_job);

static void CG_NAME(gemm_blocked)(const CG_NAME(gemm_job) *g)
{
    const int64_t M = g->M, N = g->N, K = g->K;
    const int mr = g->mr, nr = g->nr;
    const int tid = g->nt > 1 ? cg_thread_num() : 0; /* team size <= nt */
    T *bufA = g->bufA + (int64_t)tid * g->a_stride;
    for (int64_t jc = 0; jc < N; jc += g->nc_blk) {
        const int64_t nc = cg_min64(g->nc_blk, N - jc);
        const int64_t npan = cg_ceil_div(nc, nr);
        /* split the NR panels so there are ~8 items per thread */
        const int64_t n_js = cg_min64(npan, cg_max64(1, cg_ceil_div(8 * (int64_t)g->nt, g->n_ic)));
        for (int64_t pc = 0; pc < K; pc += CG_KC) {
            const int64_t kc = cg_min64(CG_KC, K - pc);
            const int beta = pc > 0 || g->accumulate; /* first K slice overwrites */
            CG_PRAGMA(omp for schedule(static))
            for (int64_t jp = 0; jp < npan; jp++)
                CG_NAME(pack_b)(g->bufB + jp * kc * nr, g->b, N, K, g->tb, pc, kc, jc + jp * nr,
                                cg_min64(nr, nc - jp * nr), nr);
            int64_t packed_ib = -1; /* A block currently in this thread's bufA */
            CG_PRAGMA(omp for schedule(dynamic, 1))
            for (int64_t item = 0; item < g->n_ic * n_js; item++) {
                const int64_t ib = item / n_js, js = item % n_js;
                const int64_t ic = ib * g->mc_blk, mc = cg_min64(g->mc_blk, M - ic);
                const int64_t mpan = cg_ceil_div(mc, mr);
                if (ib != packed_ib) {
                    for (int64_t ip = 0; ip < mpan; ip++)
                        CG_NAME(pack_a)(bufA + ip * kc * mr, g->a, M, K, g->ta, ic + ip * mr,
                                        cg_min64(mr, mc - ip * mr), pc, kc, mr);
                    packed_ib = ib;
                }
                const int64_t jp0 = js * npan / n_js, jp1 = (js + 1) * npan / n_js;
                for (int64_t jp = jp0; jp < jp1; jp++) {  /* B micro-panel stays in L1 */
                    const int64_t nv = cg_min64(nr, nc - jp * nr);
                    const T *bp = g->bufB + jp * kc * nr;
                    for (int64_t ip = 0; ip < mpan; ip++) {
                        const int64_t mv = cg_min64(mr, mc - ip * mr);
                        const T *ap = bufA + ip * kc * mr;
                        T *cp = g->c + (ic + ip * mr) * N + jc + jp * nr;
                        if (mv == mr && nv == nr) {
                            g->kern(kc, ap, bp, cp, N, beta);
                        } else { /* partial tile: full tile into tmp, copy the valid part */
                            T tmp[CG_MAX_MR * CG_MAX_NR];
                            g->kern(kc, ap, bp, tmp, nr, 0);
                            for (int64_t i = 0; i < mv; i++)
                                for (int64_t j = 0; j < nv; j++)
                                    cp[i * N + j] = beta ? cp[i * N + j] + tmp[i * nr + j] : tmp[i * nr + j];
                        }
                    }
                }
            }
        }
    }
}

/* Fast GEMM: same contract and result as cg_gemm_naive, except rounding
 * (see there). Returns CG_ENOMEM if the packing workspace (one block per
 * call, shared by the threads, freed before return) cannot be allocated. */
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

    const int nt = M * N * K > CG_PAR_GEMM ? cg_get_num_threads() : 1;
    CG_NAME(gemm_job) g = {c, a, b, M, N, K, ta, tb, accumulate,
                           CG_GEN_MR, CG_GEN_NR, nt, 0, 0, 0,
                           CG_NAME(ukernel_generic), NULL, NULL, 0};
#ifdef CG_HAVE_X86_UKERNELS
    const int isa = cg_get_isa(); /* micro-kernel for this CPU (cpu.c) */
    if (isa >= CG_ISA_AVX512) { g.mr = CG_AVX512_MR; g.nr = CG_UK_AVX512_NR; g.kern = CG_UK_AVX512; }
    else if (isa == CG_ISA_AVX2) { g.mr = CG_AVX2_MR; g.nr = CG_UK_AVX2_NR; g.kern = CG_UK_AVX2; }
#endif
    /* MC blocks of equal size (a multiple of MR, at most CG_MC rounded down) */
    const int64_t mc_cap = cg_max64(g.mr, (CG_MC / g.mr) * g.mr);
    const int64_t n_ic0 = cg_ceil_div(M, mc_cap);
    g.mc_blk = cg_ceil_div(cg_ceil_div(M, n_ic0), g.mr) * g.mr;
    g.n_ic = cg_ceil_div(M, g.mc_blk);
    g.nc_blk = cg_max64(g.nr, (CG_NC / g.nr) * g.nr);
    const int64_t kc_max = cg_min64(CG_KC, K);
    const int64_t nc_max = cg_min64(g.nc_blk, cg_ceil_div(N, g.nr) * g.nr);
    g.a_stride = cg_ceil_div(g.mc_blk * kc_max, 16) * 16;
    const int64_t b_elems = cg_ceil_div(kc_max * nc_max, 16) * 16;
    void *raw = malloc((size_t)(b_elems + nt * g.a_stride) * sizeof(T) + 64);
    if (!raw) return CG_ENOMEM;
    g.bufB = (T *)(((uintptr_t)raw + 63) & ~(uintptr_t)63);
    g.bufA = g.bufB + b_elems;

    if (nt > 1) {
        CG_PRAGMA(omp parallel num_threads(nt))
        CG_NAME(gemm_blocked)(&g);
    } else {
        CG_NAME(gemm_blocked)(&g);
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

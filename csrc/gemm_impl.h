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

    /* micro-kernel for this CPU (cpu.c) */
    int mr = CG_GEN_MR, nr = CG_GEN_NR;
    CG_NAME(ukr_fn) kern = CG_NAME(ukernel_generic);
#ifdef CG_HAVE_X86_UKERNELS
    const int isa = cg_get_isa();
    if (isa >= CG_ISA_AVX512) { mr = CG_AVX512_MR; nr = CG_UK_AVX512_NR; kern = CG_UK_AVX512; }
    else if (isa == CG_ISA_AVX2) { mr = CG_AVX2_MR; nr = CG_UK_AVX2_NR; kern = CG_UK_AVX2; }
#endif
    const int64_t mc_blk = cg_max64(mr, (CG_MC / mr) * mr);
    const int64_t nc_blk = cg_max64(nr, (CG_NC / nr) * nr);
    const int64_t kc_max = cg_min64(CG_KC, K);
    const int64_t mc_max = cg_min64(mc_blk, cg_ceil_div(M, mr) * mr);
    const int64_t nc_max = cg_min64(nc_blk, cg_ceil_div(N, nr) * nr);
    const int64_t a_elems = cg_ceil_div(mc_max * kc_max, 16) * 16;
    void *raw = malloc((size_t)(a_elems + kc_max * nc_max) * sizeof(T) + 64);
    if (!raw) return CG_ENOMEM;
    T *bufA = (T *)(((uintptr_t)raw + 63) & ~(uintptr_t)63);
    T *bufB = bufA + a_elems;

    const int64_t work = M * N * K;
    CG_PRAGMA(omp parallel if(work > CG_PAR_GEMM) num_threads(cg_get_num_threads()))
    {
        for (int64_t jc = 0; jc < N; jc += nc_blk) {
            const int64_t nc = cg_min64(nc_blk, N - jc);
            const int64_t npan = cg_ceil_div(nc, nr);
            for (int64_t pc = 0; pc < K; pc += CG_KC) {
                const int64_t kc = cg_min64(CG_KC, K - pc);
                const int beta = pc > 0 || accumulate; /* first K slice overwrites */
                CG_PRAGMA(omp for schedule(static))
                for (int64_t jp = 0; jp < npan; jp++)
                    CG_NAME(pack_b)(bufB + jp * kc * nr, b, N, K, tb, pc, kc, jc + jp * nr,
                                    cg_min64(nr, nc - jp * nr), nr);
                for (int64_t ic = 0; ic < M; ic += mc_blk) {
                    const int64_t mc = cg_min64(mc_blk, M - ic);
                    const int64_t mpan = cg_ceil_div(mc, mr);
                    CG_PRAGMA(omp for schedule(static))
                    for (int64_t ip = 0; ip < mpan; ip++)
                        CG_NAME(pack_a)(bufA + ip * kc * mr, a, M, K, ta, ic + ip * mr,
                                        cg_min64(mr, mc - ip * mr), pc, kc, mr);
                    /* tiles, jr-major so a thread's run reuses its B micro-panel */
                    CG_PRAGMA(omp for schedule(static))
                    for (int64_t t = 0; t < npan * mpan; t++) {
                        const int64_t jp = t / mpan, ip = t % mpan;
                        const int64_t mv = cg_min64(mr, mc - ip * mr), nv = cg_min64(nr, nc - jp * nr);
                        const T *ap = bufA + ip * kc * mr, *bp = bufB + jp * kc * nr;
                        T *cp = c + (ic + ip * mr) * N + jc + jp * nr;
                        if (mv == mr && nv == nr) {
                            kern(kc, ap, bp, cp, N, beta);
                        } else { /* partial tile: full tile into tmp, copy the valid part */
                            T tmp[CG_MAX_MR * CG_MAX_NR];
                            kern(kc, ap, bp, tmp, nr, 0);
                            for (int64_t i = 0; i < mv; i++)
                                for (int64_t j = 0; j < nv; j++)
                                    cp[i * N + j] = beta ? cp[i * N + j] + tmp[i * nr + j] : tmp[i * nr + j];
                        }
                    }
                }
            }
        }
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
        CG_PRAGMA(omp parallel for schedule(static) if(B * M * N * K > CG_PAR_MIN) num_threads(cg_get_num_threads()))
        for (int64_t i = 0; i < B; i++)
            CG_NAME(gemm_small)(out + i * so, a + (i % Ba) * sa, b + (i % Bb) * sb, M, N, K, ta, tb,
                                accumulate);
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

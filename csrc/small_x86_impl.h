/* small_x86_impl.h: the small-product row kernel (contract in ukernel.h),
 * written once over vector macros and instantiated by small_x86.c for
 * {AVX2, AVX-512} x {float, double}:
 *   SK_T, SK_VT, SK_W (lanes), SK_MASK_T, SK_MASK(n) (first n lanes),
 *   SK_NAME, SK_TARGET, VZERO, VLOADM, VSTOREM (masked), VSET1, VFMA, VADD.
 * C(i, j0:j0+W) = [C +] sum_p A(i,p) * B(p, j0:j0+W), four rows at a time
 * sharing each load of B; the last columns are masked, so no tail loop and
 * no access past an operand (masked-off lanes are never read or written).
 * Each element is summed over p in order from zero with FMA, then added to
 * C, as the micro-kernels do.
 */
/* SPDX-License-Identifier: MIT */

SK_TARGET void SK_NAME(const SK_T *restrict a, int64_t rsa, int64_t csa, const SK_T *restrict b,
                       SK_T *restrict c, int64_t M, int64_t N, int64_t K, int accumulate)
{
    for (int64_t j = 0; j < N; j += SK_W) {
        const SK_MASK_T m = SK_MASK(N - j < SK_W ? N - j : SK_W);
        const SK_T *restrict bj = b + j;
        SK_T *restrict cj = c + j;
        int64_t i = 0;
        for (; i + 4 <= M; i += 4) {
            const SK_T *restrict ai = a + i * rsa;
            SK_VT s0 = VZERO(), s1 = VZERO(), s2 = VZERO(), s3 = VZERO();
            for (int64_t p = 0; p < K; p++) {
                const SK_VT bp = VLOADM(bj + p * N, m);
                const SK_T *restrict ap = ai + p * csa;
                s0 = VFMA(VSET1(ap[0]), bp, s0);
                s1 = VFMA(VSET1(ap[rsa]), bp, s1);
                s2 = VFMA(VSET1(ap[2 * rsa]), bp, s2);
                s3 = VFMA(VSET1(ap[3 * rsa]), bp, s3);
            }
            SK_T *restrict ci = cj + i * N;
            if (accumulate) {
                s0 = VADD(VLOADM(ci, m), s0);
                s1 = VADD(VLOADM(ci + N, m), s1);
                s2 = VADD(VLOADM(ci + 2 * N, m), s2);
                s3 = VADD(VLOADM(ci + 3 * N, m), s3);
            }
            VSTOREM(ci, m, s0);
            VSTOREM(ci + N, m, s1);
            VSTOREM(ci + 2 * N, m, s2);
            VSTOREM(ci + 3 * N, m, s3);
        }
        for (; i < M; i++) {
            const SK_T *restrict ai = a + i * rsa;
            SK_VT s0 = VZERO();
            for (int64_t p = 0; p < K; p++) s0 = VFMA(VSET1(ai[p * csa]), VLOADM(bj + p * N, m), s0);
            SK_T *restrict ci = cj + i * N;
            if (accumulate) s0 = VADD(VLOADM(ci, m), s0);
            VSTOREM(ci, m, s0);
        }
    }
}
/* every parameter but SK_TARGET: the next instantiation defines its own */
#undef SK_NAME
#undef SK_T
#undef SK_VT
#undef SK_W
#undef SK_MASK_T
#undef SK_MASK
#undef VZERO
#undef VLOADM
#undef VSTOREM
#undef VSET1
#undef VFMA
#undef VADD

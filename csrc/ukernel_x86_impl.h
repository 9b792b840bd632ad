/* ukernel_x86_impl.h: one register-blocked micro-kernel (contract in
 * ukernel.h), written once over a few vector macros and instantiated by
 * ukernel_x86.c for {AVX2, AVX-512} x {float, double}:
 *   UK_T, UK_VT, UK_W (lanes), UK_MR, UK_ROWS(X) (X(0) .. X(UK_MR-1)),
 *   UK_NAME, UK_TARGET, VZERO, VLOAD, VSTORE, VSET1, VFMA, VADD.
 * NR = 2 * UK_W. Each of the MR rows keeps two accumulator vectors; every
 * step broadcasts one A value per row and does two FMAs with the B row.
 * Row r of A is read at a + r*rsa (+ p*csa); the rows are addressed from
 * one base per group of three (a + 3g*rsa) plus rsa or 2*rsa, so that the
 * packed case (rsa = 1) and the direct case (rsa = row stride of A) run the
 * same loop without one pointer register per row.
 */
/* SPDX-License-Identifier: MIT */

UK_TARGET void UK_NAME(int64_t kc, const UK_T *restrict a, int64_t rsa, int64_t csa,
                       const UK_T *restrict b, int64_t ldb, UK_T *restrict c, int64_t ldc,
                       int accumulate)
{
#define UK_DECL(r) UK_VT c##r##a = VZERO(), c##r##b = VZERO();
#define UK_STEP(r)                                                  \
    {                                                               \
        const UK_VT ar = VSET1(ag[(r) / 3][((r) % 3) * rsa + p * csa]); \
        c##r##a = VFMA(ar, b0, c##r##a);                            \
        c##r##b = VFMA(ar, b1, c##r##b);                            \
    }
#define UK_ADD(r)                                                   \
    VSTORE(c + (r) * ldc, VADD(VLOAD(c + (r) * ldc), c##r##a));     \
    VSTORE(c + (r) * ldc + UK_W, VADD(VLOAD(c + (r) * ldc + UK_W), c##r##b));
#define UK_SET(r)                                                   \
    VSTORE(c + (r) * ldc, c##r##a);                                 \
    VSTORE(c + (r) * ldc + UK_W, c##r##b);
/* the C tile's lines arrive during the k loop instead of stalling the
 * stores after it (measured: +2-4% at 1024^3 in float64) */
#define UK_PF(r)                                                    \
    _mm_prefetch((const char *)(c + (r) * ldc), _MM_HINT_T0);       \
    _mm_prefetch((const char *)(c + (r) * ldc + UK_W), _MM_HINT_T0);

    UK_ROWS(UK_PF)
    const UK_T *ag[(UK_MR + 2) / 3];
    for (int g = 0; g < (UK_MR + 2) / 3; g++) ag[g] = a + 3 * g * rsa;
    UK_ROWS(UK_DECL)
    for (int64_t p = 0; p < kc; p++) { /* indexed, not bumped: no pointer past the operands */
        const UK_VT b0 = VLOAD(b + p * ldb), b1 = VLOAD(b + p * ldb + UK_W);
        UK_ROWS(UK_STEP)
    }
    if (accumulate) {
        UK_ROWS(UK_ADD)
    } else {
        UK_ROWS(UK_SET)
    }
#undef UK_DECL
#undef UK_PF
#undef UK_STEP
#undef UK_ADD
#undef UK_SET
}
/* the per-instantiation parameters; the type's vector macros stay for the next one */
#undef UK_MR
#undef UK_ROWS
#undef UK_NAME

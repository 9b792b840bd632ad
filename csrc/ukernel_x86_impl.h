/* ukernel_x86_impl.h: one register-blocked micro-kernel (contract in
 * ukernel.h), written once over a few vector macros and instantiated by
 * ukernel_x86.c for {AVX2, AVX-512} x {float, double}:
 *   UK_T, UK_VT, UK_W (lanes), UK_MR, UK_ROWS(X) (X(0) .. X(UK_MR-1)),
 *   UK_NAME, UK_TARGET, VZERO, VLOAD, VSTORE, VSET1, VFMA, VADD.
 * NR = 2 * UK_W. Each of the MR rows keeps two accumulator vectors; every
 * step broadcasts one A value per row and does two FMAs with the B row.
 */
/* SPDX-License-Identifier: MIT */

UK_TARGET void UK_NAME(int64_t kc, const UK_T *restrict a, const UK_T *restrict b,
                       UK_T *restrict c, int64_t ldc, int accumulate)
{
#define UK_DECL(r) UK_VT c##r##a = VZERO(), c##r##b = VZERO();
#define UK_STEP(r)                                                  \
    {                                                               \
        const UK_VT ar = VSET1(a[r]);                               \
        c##r##a = VFMA(ar, b0, c##r##a);                            \
        c##r##b = VFMA(ar, b1, c##r##b);                            \
    }
#define UK_ADD(r)                                                   \
    VSTORE(c + (r) * ldc, VADD(VLOAD(c + (r) * ldc), c##r##a));     \
    VSTORE(c + (r) * ldc + UK_W, VADD(VLOAD(c + (r) * ldc + UK_W), c##r##b));
#define UK_SET(r)                                                   \
    VSTORE(c + (r) * ldc, c##r##a);                                 \
    VSTORE(c + (r) * ldc + UK_W, c##r##b);

    UK_ROWS(UK_DECL)
    for (int64_t p = 0; p < kc; p++) {
        const UK_VT b0 = VLOAD(b), b1 = VLOAD(b + UK_W);
        UK_ROWS(UK_STEP)
        a += UK_MR;
        b += 2 * UK_W;
    }
    if (accumulate) {
        UK_ROWS(UK_ADD)
    } else {
        UK_ROWS(UK_SET)
    }
#undef UK_DECL
#undef UK_STEP
#undef UK_ADD
#undef UK_SET
}

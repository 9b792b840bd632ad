/* optim_impl.h: SGD and Adam steps, type-generic body (see common.h),
 * included by optim.c once per type. Scalars derived from the double
 * hyperparameters are formed in double (as torch does in Python), then
 * rounded to T; the per-element arithmetic is in T, in torch's order.
 */
/* SPDX-License-Identifier: MIT */

/* sgd (torch.optim.SGD, one step):
 *   d = g + wd p                                   (skipped when wd == 0)
 *   if momentum != 0:
 *       buf = d                                    if first
 *       buf = momentum buf + (1 - dampening) d     otherwise
 *       d = d + momentum buf                       if nesterov, else d = buf
 *   p -= lr d */
int CG_NAME(cg_sgd_step)(T *restrict p, const T *restrict g, T *restrict buf, int64_t n,
                         double lr, double momentum, double dampening, double weight_decay,
                         int nesterov, int first)
{
    if (n < 0 || (momentum != 0 && !buf)) return CG_EINVAL;
    const int use_wd = weight_decay != 0, use_mom = momentum != 0;
    const T wd = (T)weight_decay, mom = (T)momentum, damp1 = (T)(1 - dampening), lr_t = (T)lr;
    CG_PARALLEL_FOR(n, i, n,
        T d = g[i];
        if (use_wd) d = d + wd * p[i];
        if (use_mom) {
            const T b = first ? d : mom * buf[i] + damp1 * d;
            buf[i] = b;
            d = nesterov ? d + mom * b : b;
        }
        p[i] -= lr_t * d;
    );
    return CG_OK;
}

/* adam (torch.optim.Adam / AdamW, one step; step >= 1 after this update):
 *   decoupled:  p *= 1 - lr wd            else  g' = g + wd p    (skipped when wd == 0)
 *   m = beta1 m + (1 - beta1) g'
 *   v = beta2 v + (1 - beta2) g'^2
 *   p -= (lr / (1 - beta1^step)) m / (sqrt(v) / sqrt(1 - beta2^step) + eps) */
int CG_NAME(cg_adam_step)(T *restrict p, const T *restrict g, T *restrict m, T *restrict v,
                          int64_t n, double lr, double beta1, double beta2, double eps,
                          double weight_decay, int64_t step, int decoupled)
{
    if (n < 0 || step < 1) return CG_EINVAL;
    const int use_wd = weight_decay != 0;
    const T wd = (T)weight_decay, decay = (T)(1 - lr * weight_decay);
    const T b1 = (T)beta1, b2 = (T)beta2, c1 = (T)(1 - beta1), c2 = (T)(1 - beta2), e = (T)eps;
    const T step_size = (T)(lr / (1 - pow(beta1, (double)step)));
    const T bc2_sqrt = (T)sqrt(1 - pow(beta2, (double)step));
    CG_PARALLEL_FOR(n, i, n,
        T gi = g[i];
        if (use_wd) {
            if (decoupled) p[i] *= decay;
            else gi = gi + wd * p[i];
        }
        const T mi = b1 * m[i] + c1 * gi;
        const T vi = b2 * v[i] + c2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] -= step_size * mi / (CG_M(sqrt)(vi) / bc2_sqrt + e);
    );
    return CG_OK;
}

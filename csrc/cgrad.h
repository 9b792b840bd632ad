/* cgrad.h: the whole C API of cgrad's kernels, grouped by family.
 *
 * Plain C99: pointers, int64_t sizes and strides (in elements), no structs
 * cross the ABI, no Python. Every kernel exists for float (_f32) and double
 * (_f64); both are instantiated from one body in csrc/<family>_impl.h.
 *
 * THE RULE: forward kernels ASSIGN their outputs; backward kernels
 * ACCUMULATE (+=) into their gradient outputs and never assign. The caller
 * zeroes or allocates gradient buffers first. A gradient output passed as
 * NULL is skipped. Kernels do no validation: the Cython layer checks every
 * size, dtype and contiguity before calling. Functions returning int return
 * a cg_status (0 = ok); the others cannot fail.
 */
/* SPDX-License-Identifier: MIT */
#ifndef CGRAD_H
#define CGRAD_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes. */
#define CG_OK 0
#define CG_ENOMEM 1   /* GEMM packing workspace could not be allocated */
#define CG_EINVAL 2   /* ndim above CG_MAX_NDIM or a negative size */
#define CG_EINDEX 3   /* an index out of range (index_add, losses); nothing written */

/* Activation fused into linear (act argument). */
#define CG_ACT_NONE 0
#define CG_ACT_RELU 1
#define CG_ACT_GELU 2        /* exact, erf form */
#define CG_ACT_GELU_TANH 3   /* tanh approximation */

/* Reduction of the elementwise losses (reduction argument). */
#define CG_REDUCTION_NONE 0
#define CG_REDUCTION_MEAN 1
#define CG_REDUCTION_SUM 2

/* Largest ndim the strided kernels (binary, reductions) accept. */
#define CG_MAX_NDIM 32

/* SIMD paths for the GEMM micro-kernel (cpu.c). */
#define CG_ISA_GENERIC 0
#define CG_ISA_AVX2 1     /* AVX2 + FMA */
#define CG_ISA_AVX512 2   /* AVX-512F */

/* ---- threads and CPU features (parallel.c, cpu.c) ----------------------- */

/* Threads used by the kernels; default CGRAD_NUM_THREADS, else #CPUs.
 * Without OpenMP the value is stored and reported, but kernels run serially. */
int cg_get_num_threads(void);
void cg_set_num_threads(int n);
int cg_have_openmp(void);

/* ISA in use: the best the CPU supports, capped by env CGRAD_ISA
 * (generic|avx2|avx512). cg_set_isa caps it again at run time and returns
 * the ISA actually selected. */
int cg_get_isa(void);
int cg_set_isa(int isa);
const char *cg_isa_name(int isa);

/* ---- matmul (gemm.c) --------------------------------------------------- */

/* C (M,N) (+)= op(A) (M,K) @ op(B) (K,N), all row-major contiguous.
 * A is stored (M,K), or (K,M) when trans_a; B is (K,N), or (N,K) when
 * trans_b. accumulate=0 overwrites C (NaN in C never leaks). */
void cg_gemm_naive_f32(float *c, const float *a, const float *b,
                       int64_t M, int64_t N, int64_t K,
                       int trans_a, int trans_b, int accumulate);
void cg_gemm_naive_f64(double *c, const double *a, const double *b,
                       int64_t M, int64_t N, int64_t K,
                       int trans_a, int trans_b, int accumulate);
int cg_gemm_f32(float *c, const float *a, const float *b,
                int64_t M, int64_t N, int64_t K,
                int trans_a, int trans_b, int accumulate);
int cg_gemm_f64(double *c, const double *a, const double *b,
                int64_t M, int64_t N, int64_t K,
                int trans_a, int trans_b, int accumulate);

/* Batched: for i in [0,B), B = max(Ba,Bb,Bo), each 1 or B:
 *   out[i % Bo] (+)= A[i % Ba] @ B[i % Bb]
 * accumulate=0: each out slot is overwritten by its first product, and
 * later products add (Bo == 1 < B sums over the batch). */
int cg_matmul_f32(float *out, const float *a, const float *b,
                  int64_t Bo, int64_t Ba, int64_t Bb,
                  int64_t M, int64_t N, int64_t K,
                  int trans_a, int trans_b, int accumulate);
int cg_matmul_f64(double *out, const double *a, const double *b,
                  int64_t Bo, int64_t Ba, int64_t Bb,
                  int64_t M, int64_t N, int64_t K,
                  int trans_a, int trans_b, int accumulate);

/* ---- elementwise unary (unary.c) ---------------------------------------
 * Every unary op has one signature, and is reached through the table
 * cg_unary_ops() returns (one entry per op, in unary_impl.h's order):
 *   forward(y, x, n, p):          y[i] = f(x[i])
 *   backward(dx, dy, x, y, n, p): dx[i] += dy[i] * f'(x[i])
 * All buffers contiguous, n elements. p holds the op's nparams parameters
 * as doubles (NULL when it has none). Backward reads x, y or neither, as
 * `reads` says; the other pointers may be NULL. */
#define CG_READS_X 1
#define CG_READS_Y 2
typedef struct {
    const char *name;     /* the op's name: "tanh", "leaky_relu", ... */
    int reads;            /* CG_READS_X | CG_READS_Y: what backward reads */
    int nparams;          /* how many doubles p holds */
    void (*forward_f32)(float *y, const float *x, int64_t n, const double *p);
    void (*forward_f64)(double *y, const double *x, int64_t n, const double *p);
    void (*backward_f32)(float *dx, const float *dy, const float *x, const float *y,
                         int64_t n, const double *p);
    void (*backward_f64)(double *dx, const double *dy, const double *x, const double *y,
                         int64_t n, const double *p);
} cg_unary_op;
const cg_unary_op *cg_unary_ops(int *count);

/* ---- elementwise binary with broadcasting (binary.c) -------------------
 * out, dout, da, db: contiguous, shape[ndim]. a, b: shape[ndim] with any
 * element strides astrides/bstrides (0 = broadcast). ndim <= CG_MAX_NDIM.
 * forward(out, a, b, ...):               out = a (op) b
 * backward(da, db, dout, a, b, out, ...): da += dout * d(out)/da, db likewise;
 * da or db may be NULL; a, b, out may be NULL when the op does not read them. */
int cg_add_forward_f32(float *out, const float *a, const float *b, int64_t ndim, const int64_t *shape, const int64_t *astrides, const int64_t *bstrides);
int cg_add_backward_f32(float *da, float *db, const float *dout, const float *a, const float *b, const float *out, int64_t ndim, const int64_t *shape, const int64_t *astrides, const int64_t *bstrides);
int cg_add_forward_f64(double *out, const double *a, const double *b, int64_t ndim, const int64_t *shape, const int64_t *astrides, const int64_t *bstrides);
int cg_add_backward_f64(double *da, double *db, const double *dout, const double *a, const double *b, const double *out, int64_t ndim, const int64_t *shape, const int64_t *astrides, const int64_t *bstrides);
int cg_sub_forward_f32(float *out, const float *a, const float *b, int64_t ndim, const int64_t *shape, const int64_t *astrides, const int64_t *bstrides);
int cg_sub_backward_f32(float *da, float *db, const float *dout, const float *a, const float *b, const float *out, int64_t ndim, const int64_t *shape, const int64_t *astrides, const int64_t *bstrides);
int cg_sub_forward_f64(double *out, const double *a, const double *b, int64_t ndim, const int64_t *shape, const int64_t *astrides, const int64_t *bstrides);
int cg_sub_backward_f64(double *da, double *db, const double *dout, const double *a, const double *b, const double *out, int64_t ndim, const int64_t *shape, const int64_t *astrides, const int64_t *bstrides);
int cg_mul_forward_f32(float *out, const float *a, const float *b, int64_t ndim, const int64_t *shape, const int64_t *astrides, const int64_t *bstrides);
int cg_mul_backward_f32(float *da, float *db, const float *dout, const float *a, const float *b, const float *out, int64_t ndim, const int64_t *shape, const int64_t *astrides, const int64_t *bstrides);
int cg_mul_forward_f64(double *out, const double *a, const double *b, int64_t ndim, const int64_t *shape, const int64_t *astrides, const int64_t *bstrides);
int cg_mul_backward_f64(double *da, double *db, const double *dout, const double *a, const double *b, const double *out, int64_t ndim, const int64_t *shape, const int64_t *astrides, const int64_t *bstrides);
int cg_div_forward_f32(float *out, const float *a, const float *b, int64_t ndim, const int64_t *shape, const int64_t *astrides, const int64_t *bstrides);
int cg_div_backward_f32(float *da, float *db, const float *dout, const float *a, const float *b, const float *out, int64_t ndim, const int64_t *shape, const int64_t *astrides, const int64_t *bstrides);
int cg_div_forward_f64(double *out, const double *a, const double *b, int64_t ndim, const int64_t *shape, const int64_t *astrides, const int64_t *bstrides);
int cg_div_backward_f64(double *da, double *db, const double *dout, const double *a, const double *b, const double *out, int64_t ndim, const int64_t *shape, const int64_t *astrides, const int64_t *bstrides);
int cg_pow_forward_f32(float *out, const float *a, const float *b, int64_t ndim, const int64_t *shape, const int64_t *astrides, const int64_t *bstrides);
int cg_pow_backward_f32(float *da, float *db, const float *dout, const float *a, const float *b, const float *out, int64_t ndim, const int64_t *shape, const int64_t *astrides, const int64_t *bstrides);
int cg_pow_forward_f64(double *out, const double *a, const double *b, int64_t ndim, const int64_t *shape, const int64_t *astrides, const int64_t *bstrides);
int cg_pow_backward_f64(double *da, double *db, const double *dout, const double *a, const double *b, const double *out, int64_t ndim, const int64_t *shape, const int64_t *astrides, const int64_t *bstrides);

/* dst[i] += src[i], n elements, both contiguous (fan-out gradient sums). */
void cg_accumulate_f32(float *dst, const float *src, int64_t n);
void cg_accumulate_f64(double *dst, const double *src, int64_t n);

/* ---- reductions (reduce.c) ---------------------------------------------
 * x, dx contiguous with shape[ndim]; axes: naxes sorted distinct indices in
 * [0,ndim). out, dout contiguous over the kept dims, in order. */
int cg_sum_forward_f32(float *out, const float *x, int64_t ndim, const int64_t *shape, const int64_t *axes, int64_t naxes);
int cg_sum_backward_f32(float *dx, const float *dout, int64_t ndim, const int64_t *shape, const int64_t *axes, int64_t naxes);
int cg_sum_forward_f64(double *out, const double *x, int64_t ndim, const int64_t *shape, const int64_t *axes, int64_t naxes);
int cg_sum_backward_f64(double *dx, const double *dout, int64_t ndim, const int64_t *shape, const int64_t *axes, int64_t naxes);
int cg_mean_forward_f32(float *out, const float *x, int64_t ndim, const int64_t *shape, const int64_t *axes, int64_t naxes);
int cg_mean_backward_f32(float *dx, const float *dout, int64_t ndim, const int64_t *shape, const int64_t *axes, int64_t naxes);
int cg_mean_forward_f64(double *out, const double *x, int64_t ndim, const int64_t *shape, const int64_t *axes, int64_t naxes);
int cg_mean_backward_f64(double *dx, const double *dout, int64_t ndim, const int64_t *shape, const int64_t *axes, int64_t naxes);
int cg_amax_forward_f32(float *out, const float *x, int64_t ndim, const int64_t *shape, const int64_t *axes, int64_t naxes);
int cg_amax_backward_f32(float *dx, const float *dout, const float *x, const float *out, int64_t ndim, const int64_t *shape, const int64_t *axes, int64_t naxes);
int cg_amax_forward_f64(double *out, const double *x, int64_t ndim, const int64_t *shape, const int64_t *axes, int64_t naxes);
int cg_amax_backward_f64(double *dx, const double *dout, const double *x, const double *out, int64_t ndim, const int64_t *shape, const int64_t *axes, int64_t naxes);

/* ---- softmax along one axis (softmax.c) --------------------------------
 * All buffers contiguous, viewed as (outer, n, inner); the axis has length n. */
void cg_softmax_forward_f32(float *y, const float *x, int64_t outer, int64_t n, int64_t inner);
void cg_softmax_backward_f32(float *dx, const float *dy, const float *y, int64_t outer, int64_t n, int64_t inner);
void cg_softmax_forward_f64(double *y, const double *x, int64_t outer, int64_t n, int64_t inner);
void cg_softmax_backward_f64(double *dx, const double *dy, const double *y, int64_t outer, int64_t n, int64_t inner);
void cg_log_softmax_forward_f32(float *y, const float *x, int64_t outer, int64_t n, int64_t inner);
void cg_log_softmax_backward_f32(float *dx, const float *dy, const float *y, int64_t outer, int64_t n, int64_t inner);
void cg_log_softmax_forward_f64(double *y, const double *x, int64_t outer, int64_t n, int64_t inner);
void cg_log_softmax_backward_f64(double *dx, const double *dy, const double *y, int64_t outer, int64_t n, int64_t inner);

/* ---- scatter-add (index.c) ----------------------------------------------
 * for i in [0,n): dx[idx[i], :] += src[i, :];  dx (R,D), src (n,D), idx (n,)
 * contiguous. Every idx[i] in [0,R) is checked first: CG_EINDEX, no write. */
int cg_index_add_f32(float *dx, const int64_t *idx, const float *src, int64_t R, int64_t D, int64_t n);
int cg_index_add_f64(double *dx, const int64_t *idx, const double *src, int64_t R, int64_t D, int64_t n);

/* ---- linear with a fused activation (linear.c) --------------------------
 * x (N,IN), w (OUT,IN) (torch's layout), b (OUT,) or NULL, y z dy dz (N,OUT),
 * all contiguous; act is a CG_ACT_* code.
 * forward:  z = x w^T + b, y = act(z); z is stored when z != NULL (needed
 *           by the gelu backward), and y, z must not overlap x, w, b.
 * backward: dz = dy * act'(z) into scratch (unused for CG_ACT_NONE, where
 *           dz is dy); dx += dz w, dw += dz^T x, db += sum over rows of dz,
 *           or, with accumulate == 0, dx = dz w, dw = dz^T x, db = the sum
 *           (the outputs are written, never read: garbage or NaN in them
 *           cannot leak). relu reads y (z > 0 exactly where y > 0), gelu z.
 * Both return CG_ENOMEM if GEMM cannot get its workspace, CG_EINVAL for a
 * bad act, a negative size or a missing buffer the act needs. */
int cg_linear_forward_f32(float *y, float *z, const float *x, const float *w, const float *b,
                          int64_t N, int64_t IN, int64_t OUT, int act);
int cg_linear_backward_f32(float *dx, float *dw, float *db, const float *dy,
                           const float *x, const float *w, const float *z, const float *y,
                           float *scratch, int64_t N, int64_t IN, int64_t OUT, int act,
                           int accumulate);
int cg_linear_forward_f64(double *y, double *z, const double *x, const double *w, const double *b,
                          int64_t N, int64_t IN, int64_t OUT, int act);
int cg_linear_backward_f64(double *dx, double *dw, double *db, const double *dy,
                           const double *x, const double *w, const double *z, const double *y,
                           double *scratch, int64_t N, int64_t IN, int64_t OUT, int act,
                           int accumulate);

/* ---- losses (loss.c) -----------------------------------------------------
 * Classification: logits / x / p / dlogits (N,C), loss / dloss (N,) per row,
 * target int64 (N,) with entries in [0,C) or == ignore_index (rows with
 * ignore_index get loss 0 and no gradient). Targets are checked before any
 * write: CG_EINDEX for one out of range.
 * cross_entropy: loss_i = logsumexp(logits_i) - logits_i[t_i], p = softmax;
 *                dlogits_i += (p_i - onehot(t_i)) * dloss_i
 * cross_entropy_prob (target (N,C) probabilities):
 *                loss_i = -sum_c t_ic log_softmax(logits_i)_c;
 *                dlogits_i += (p_i sum_c t_ic - t_i) * dloss_i
 * nll:           loss_i = -x[i,t_i];  dx[i,t_i] -= dloss_i */
int cg_cross_entropy_forward_f32(float *loss, float *p, const float *logits, const int64_t *target,
                                 int64_t N, int64_t C, int64_t ignore_index);
int cg_cross_entropy_backward_f32(float *dlogits, const float *dloss, const float *p,
                                  const int64_t *target, int64_t N, int64_t C, int64_t ignore_index);
int cg_cross_entropy_forward_f64(double *loss, double *p, const double *logits, const int64_t *target,
                                 int64_t N, int64_t C, int64_t ignore_index);
int cg_cross_entropy_backward_f64(double *dlogits, const double *dloss, const double *p,
                                  const int64_t *target, int64_t N, int64_t C, int64_t ignore_index);
int cg_cross_entropy_prob_forward_f32(float *loss, float *p, const float *logits, const float *target,
                                      int64_t N, int64_t C);
int cg_cross_entropy_prob_backward_f32(float *dlogits, const float *dloss, const float *p,
                                       const float *target, int64_t N, int64_t C);
int cg_cross_entropy_prob_forward_f64(double *loss, double *p, const double *logits, const double *target,
                                      int64_t N, int64_t C);
int cg_cross_entropy_prob_backward_f64(double *dlogits, const double *dloss, const double *p,
                                       const double *target, int64_t N, int64_t C);
int cg_nll_forward_f32(float *loss, const float *x, const int64_t *target,
                       int64_t N, int64_t C, int64_t ignore_index);
int cg_nll_backward_f32(float *dx, const float *dloss, const int64_t *target,
                        int64_t N, int64_t C, int64_t ignore_index);
int cg_nll_forward_f64(double *loss, const double *x, const int64_t *target,
                       int64_t N, int64_t C, int64_t ignore_index);
int cg_nll_backward_f64(double *dx, const double *dloss, const int64_t *target,
                        int64_t N, int64_t C, int64_t ignore_index);

/* Elementwise losses over n elements of x and t, reduction a CG_REDUCTION_*
 * code: out / dout hold n values for NONE, one value for MEAN and SUM.
 * forward(out, x, t, n, reduction);  backward(dx, dt, dout, x, t, n, reduction):
 * dx += dl * dl/dx, dt += dl * dl/dt, dl = dout[i], dout[0] / n (MEAN) or
 * dout[0] (SUM); dx or dt may be NULL. Reductions sum in double over fixed
 * chunks combined in order (deterministic); MEAN of n = 0 is NaN.
 *   mse:        (x - t)^2                      l1: |x - t|
 *   bce:        -(t max(log x, -100) + (1 - t) max(log(1 - x), -100))
 *   bce_logits: max(x, 0) - x t + log1p(exp(-|x|)) */
int cg_mse_forward_f32(float *out, const float *x, const float *t, int64_t n, int reduction);
int cg_mse_backward_f32(float *dx, float *dt, const float *dout, const float *x, const float *t, int64_t n, int reduction);
int cg_mse_forward_f64(double *out, const double *x, const double *t, int64_t n, int reduction);
int cg_mse_backward_f64(double *dx, double *dt, const double *dout, const double *x, const double *t, int64_t n, int reduction);
int cg_l1_forward_f32(float *out, const float *x, const float *t, int64_t n, int reduction);
int cg_l1_backward_f32(float *dx, float *dt, const float *dout, const float *x, const float *t, int64_t n, int reduction);
int cg_l1_forward_f64(double *out, const double *x, const double *t, int64_t n, int reduction);
int cg_l1_backward_f64(double *dx, double *dt, const double *dout, const double *x, const double *t, int64_t n, int reduction);
int cg_bce_forward_f32(float *out, const float *x, const float *t, int64_t n, int reduction);
int cg_bce_backward_f32(float *dx, float *dt, const float *dout, const float *x, const float *t, int64_t n, int reduction);
int cg_bce_forward_f64(double *out, const double *x, const double *t, int64_t n, int reduction);
int cg_bce_backward_f64(double *dx, double *dt, const double *dout, const double *x, const double *t, int64_t n, int reduction);
int cg_bce_logits_forward_f32(float *out, const float *x, const float *t, int64_t n, int reduction);
int cg_bce_logits_backward_f32(float *dx, float *dt, const float *dout, const float *x, const float *t, int64_t n, int reduction);
int cg_bce_logits_forward_f64(double *out, const double *x, const double *t, int64_t n, int reduction);
int cg_bce_logits_backward_f64(double *dx, double *dt, const double *dout, const double *x, const double *t, int64_t n, int reduction);

/* ---- dropout (dropout.c) -------------------------------------------------
 * u: uniform samples in [0,1) drawn by the caller; 0 <= p < 1; n elements.
 * forward:  y = x * (u >= p) / (1 - p);   backward: dx += dy * (u >= p) / (1 - p) */
void cg_dropout_forward_f32(float *y, const float *x, const float *u, int64_t n, float p);
void cg_dropout_backward_f32(float *dx, const float *dy, const float *u, int64_t n, float p);
void cg_dropout_forward_f64(double *y, const double *x, const double *u, int64_t n, double p);
void cg_dropout_backward_f64(double *dx, const double *dy, const double *u, int64_t n, double p);

/* ---- optimizer steps (optim.c) -------------------------------------------
 * One in-place pass over n elements of parameter p with gradient g, in
 * torch's order. Hyperparameters are double: scalars derived from them
 * (1 - dampening, bias corrections) are formed in double, then rounded to T.
 * sgd:  d = g + wd p; with momentum: buf = d if first else momentum buf +
 *       (1 - dampening) d, d = d + momentum buf if nesterov else buf;
 *       p -= lr d. buf may be NULL when momentum == 0 (else CG_EINVAL).
 * adam: decoupled (AdamW): p *= 1 - lr wd, else g' = g + wd p;
 *       m = beta1 m + (1 - beta1) g';  v = beta2 v + (1 - beta2) g'^2;
 *       p -= (lr / (1 - beta1^step)) m / (sqrt(v) / sqrt(1 - beta2^step) + eps)
 *       step >= 1 is the count after this update (else CG_EINVAL). */
int cg_sgd_step_f32(float *p, const float *g, float *buf, int64_t n, double lr, double momentum,
                    double dampening, double weight_decay, int nesterov, int first);
int cg_sgd_step_f64(double *p, const double *g, double *buf, int64_t n, double lr, double momentum,
                    double dampening, double weight_decay, int nesterov, int first);
int cg_adam_step_f32(float *p, const float *g, float *m, float *v, int64_t n, double lr,
                     double beta1, double beta2, double eps, double weight_decay, int64_t step,
                     int decoupled);
int cg_adam_step_f64(double *p, const double *g, double *m, double *v, int64_t n, double lr,
                     double beta1, double beta2, double eps, double weight_decay, int64_t step,
                     int decoupled);

/* ---- measured FMA peak (peak.c), for the benchmark suite -----------------
 * GFLOP/s of n_threads threads each running register-resident FMA chains for
 * `seconds` of wall time on the ISA cpu.c selected (an FMA = 2 flops per
 * lane); the sum of the threads' rates. Without OpenMP one thread runs. */
double cg_peak_gflops_f32(int n_threads, double seconds);
double cg_peak_gflops_f64(int n_threads, double seconds);

#ifdef __cplusplus
}
#endif
#endif /* CGRAD_H */

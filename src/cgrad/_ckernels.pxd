# _ckernels.pxd: Cython mirror of csrc/cgrad.h (every kernel noexcept nogil).
# Forward kernels assign; backward kernels accumulate (+=) into gradients.
# Sizes and strides are int64_t, strides in elements. See cgrad.h for shapes.
# SPDX-License-Identifier: MIT
from libc.stdint cimport int64_t

cdef extern from "cgrad.h" nogil:
    enum:
        CG_OK
        CG_ENOMEM
        CG_EINVAL
        CG_EINDEX
        CG_MAX_NDIM
        CG_ISA_GENERIC
        CG_ISA_AVX2
        CG_ISA_AVX512
        CG_ACT_NONE
        CG_ACT_RELU
        CG_ACT_GELU
        CG_ACT_GELU_TANH
        CG_REDUCTION_NONE
        CG_REDUCTION_MEAN
        CG_REDUCTION_SUM

    # ---- threads and CPU features ------------------------------------
    int cg_get_num_threads() noexcept nogil
    void cg_set_num_threads(int n) noexcept nogil
    int cg_have_openmp() noexcept nogil
    int cg_get_isa() noexcept nogil
    int cg_set_isa(int isa) noexcept nogil
    const char* cg_isa_name(int isa) noexcept nogil

    # ---- matmul (gemm.c) ---------------------------------------------
    void cg_gemm_naive_f32(float *c, const float *a, const float *b, int64_t M, int64_t N,
                           int64_t K, int trans_a, int trans_b, int accumulate) noexcept nogil
    void cg_gemm_naive_f64(double *c, const double *a, const double *b, int64_t M, int64_t N,
                           int64_t K, int trans_a, int trans_b, int accumulate) noexcept nogil
    int cg_gemm_f32(float *c, const float *a, const float *b, int64_t M, int64_t N, int64_t K,
                    int trans_a, int trans_b, int accumulate) noexcept nogil
    int cg_gemm_f64(double *c, const double *a, const double *b, int64_t M, int64_t N, int64_t K,
                    int trans_a, int trans_b, int accumulate) noexcept nogil
    int cg_matmul_f32(float *out, const float *a, const float *b, int64_t Bo, int64_t Ba,
                      int64_t Bb, int64_t M, int64_t N, int64_t K, int trans_a, int trans_b,
                      int accumulate) noexcept nogil
    int cg_matmul_f64(double *out, const double *a, const double *b, int64_t Bo, int64_t Ba,
                      int64_t Bb, int64_t M, int64_t N, int64_t K, int trans_a, int trans_b,
                      int accumulate) noexcept nogil

    # ---- elementwise unary (unary.c): one signature, reached by a table
    enum:
        CG_READS_X
        CG_READS_Y
    ctypedef struct cg_unary_op:
        const char *name
        int reads
        int nparams
        void (*forward_f32)(float *y, const float *x, int64_t n, const double *p) noexcept nogil
        void (*forward_f64)(double *y, const double *x, int64_t n, const double *p) noexcept nogil
        void (*backward_f32)(float *dx, const float *dy, const float *x, const float *y, int64_t n,
                             const double *p) noexcept nogil
        void (*backward_f64)(double *dx, const double *dy, const double *x, const double *y,
                             int64_t n, const double *p) noexcept nogil
    const cg_unary_op *cg_unary_ops(int *count) noexcept nogil

    # ---- elementwise binary (binary.c) -------------------------------
    int cg_add_forward_f32(float *out, const float *a, const float *b, int64_t ndim,
                           const int64_t *shape, const int64_t *astrides,
                           const int64_t *bstrides) noexcept nogil
    int cg_add_backward_f32(float *da, float *db, const float *dout, const float *a, const float *b,
                            const float *out, int64_t ndim, const int64_t *shape,
                            const int64_t *astrides, const int64_t *bstrides) noexcept nogil
    int cg_add_forward_f64(double *out, const double *a, const double *b, int64_t ndim,
                           const int64_t *shape, const int64_t *astrides,
                           const int64_t *bstrides) noexcept nogil
    int cg_add_backward_f64(double *da, double *db, const double *dout, const double *a,
                            const double *b, const double *out, int64_t ndim, const int64_t *shape,
                            const int64_t *astrides, const int64_t *bstrides) noexcept nogil
    int cg_sub_forward_f32(float *out, const float *a, const float *b, int64_t ndim,
                           const int64_t *shape, const int64_t *astrides,
                           const int64_t *bstrides) noexcept nogil
    int cg_sub_backward_f32(float *da, float *db, const float *dout, const float *a, const float *b,
                            const float *out, int64_t ndim, const int64_t *shape,
                            const int64_t *astrides, const int64_t *bstrides) noexcept nogil
    int cg_sub_forward_f64(double *out, const double *a, const double *b, int64_t ndim,
                           const int64_t *shape, const int64_t *astrides,
                           const int64_t *bstrides) noexcept nogil
    int cg_sub_backward_f64(double *da, double *db, const double *dout, const double *a,
                            const double *b, const double *out, int64_t ndim, const int64_t *shape,
                            const int64_t *astrides, const int64_t *bstrides) noexcept nogil
    int cg_mul_forward_f32(float *out, const float *a, const float *b, int64_t ndim,
                           const int64_t *shape, const int64_t *astrides,
                           const int64_t *bstrides) noexcept nogil
    int cg_mul_backward_f32(float *da, float *db, const float *dout, const float *a, const float *b,
                            const float *out, int64_t ndim, const int64_t *shape,
                            const int64_t *astrides, const int64_t *bstrides) noexcept nogil
    int cg_mul_forward_f64(double *out, const double *a, const double *b, int64_t ndim,
                           const int64_t *shape, const int64_t *astrides,
                           const int64_t *bstrides) noexcept nogil
    int cg_mul_backward_f64(double *da, double *db, const double *dout, const double *a,
                            const double *b, const double *out, int64_t ndim, const int64_t *shape,
                            const int64_t *astrides, const int64_t *bstrides) noexcept nogil
    int cg_div_forward_f32(float *out, const float *a, const float *b, int64_t ndim,
                           const int64_t *shape, const int64_t *astrides,
                           const int64_t *bstrides) noexcept nogil
    int cg_div_backward_f32(float *da, float *db, const float *dout, const float *a, const float *b,
                            const float *out, int64_t ndim, const int64_t *shape,
                            const int64_t *astrides, const int64_t *bstrides) noexcept nogil
    int cg_div_forward_f64(double *out, const double *a, const double *b, int64_t ndim,
                           const int64_t *shape, const int64_t *astrides,
                           const int64_t *bstrides) noexcept nogil
    int cg_div_backward_f64(double *da, double *db, const double *dout, const double *a,
                            const double *b, const double *out, int64_t ndim, const int64_t *shape,
                            const int64_t *astrides, const int64_t *bstrides) noexcept nogil
    int cg_pow_forward_f32(float *out, const float *a, const float *b, int64_t ndim,
                           const int64_t *shape, const int64_t *astrides,
                           const int64_t *bstrides) noexcept nogil
    int cg_pow_backward_f32(float *da, float *db, const float *dout, const float *a, const float *b,
                            const float *out, int64_t ndim, const int64_t *shape,
                            const int64_t *astrides, const int64_t *bstrides) noexcept nogil
    int cg_pow_forward_f64(double *out, const double *a, const double *b, int64_t ndim,
                           const int64_t *shape, const int64_t *astrides,
                           const int64_t *bstrides) noexcept nogil
    int cg_pow_backward_f64(double *da, double *db, const double *dout, const double *a,
                            const double *b, const double *out, int64_t ndim, const int64_t *shape,
                            const int64_t *astrides, const int64_t *bstrides) noexcept nogil
    void cg_accumulate_f32(float *dst, const float *src, int64_t n) noexcept nogil
    void cg_accumulate_f64(double *dst, const double *src, int64_t n) noexcept nogil

    # ---- reductions (reduce.c) ---------------------------------------
    int cg_sum_forward_f32(float *out, const float *x, int64_t ndim, const int64_t *shape,
                           const int64_t *axes, int64_t naxes) noexcept nogil
    int cg_sum_backward_f32(float *dx, const float *dout, int64_t ndim, const int64_t *shape,
                            const int64_t *axes, int64_t naxes) noexcept nogil
    int cg_sum_forward_f64(double *out, const double *x, int64_t ndim, const int64_t *shape,
                           const int64_t *axes, int64_t naxes) noexcept nogil
    int cg_sum_backward_f64(double *dx, const double *dout, int64_t ndim, const int64_t *shape,
                            const int64_t *axes, int64_t naxes) noexcept nogil
    int cg_mean_forward_f32(float *out, const float *x, int64_t ndim, const int64_t *shape,
                            const int64_t *axes, int64_t naxes) noexcept nogil
    int cg_mean_backward_f32(float *dx, const float *dout, int64_t ndim, const int64_t *shape,
                             const int64_t *axes, int64_t naxes) noexcept nogil
    int cg_mean_forward_f64(double *out, const double *x, int64_t ndim, const int64_t *shape,
                            const int64_t *axes, int64_t naxes) noexcept nogil
    int cg_mean_backward_f64(double *dx, const double *dout, int64_t ndim, const int64_t *shape,
                             const int64_t *axes, int64_t naxes) noexcept nogil
    int cg_amax_forward_f32(float *out, const float *x, int64_t ndim, const int64_t *shape,
                            const int64_t *axes, int64_t naxes) noexcept nogil
    int cg_amax_backward_f32(float *dx, const float *dout, const float *x, const float *out,
                             int64_t ndim, const int64_t *shape, const int64_t *axes,
                             int64_t naxes) noexcept nogil
    int cg_amax_forward_f64(double *out, const double *x, int64_t ndim, const int64_t *shape,
                            const int64_t *axes, int64_t naxes) noexcept nogil
    int cg_amax_backward_f64(double *dx, const double *dout, const double *x, const double *out,
                             int64_t ndim, const int64_t *shape, const int64_t *axes,
                             int64_t naxes) noexcept nogil

    # ---- softmax (softmax.c) -----------------------------------------
    void cg_softmax_forward_f32(float *y, const float *x, int64_t outer, int64_t n,
                                int64_t inner) noexcept nogil
    void cg_softmax_backward_f32(float *dx, const float *dy, const float *y, int64_t outer,
                                 int64_t n, int64_t inner) noexcept nogil
    void cg_softmax_forward_f64(double *y, const double *x, int64_t outer, int64_t n,
                                int64_t inner) noexcept nogil
    void cg_softmax_backward_f64(double *dx, const double *dy, const double *y, int64_t outer,
                                 int64_t n, int64_t inner) noexcept nogil
    void cg_log_softmax_forward_f32(float *y, const float *x, int64_t outer, int64_t n,
                                    int64_t inner) noexcept nogil
    void cg_log_softmax_backward_f32(float *dx, const float *dy, const float *y, int64_t outer,
                                     int64_t n, int64_t inner) noexcept nogil
    void cg_log_softmax_forward_f64(double *y, const double *x, int64_t outer, int64_t n,
                                    int64_t inner) noexcept nogil
    void cg_log_softmax_backward_f64(double *dx, const double *dy, const double *y, int64_t outer,
                                     int64_t n, int64_t inner) noexcept nogil

    # ---- scatter-add (index.c) -------------------------------------------
    int cg_index_add_f32(float *dx, const int64_t *idx, const float *src, int64_t R, int64_t D,
                         int64_t n) noexcept nogil
    int cg_index_add_f64(double *dx, const int64_t *idx, const double *src, int64_t R, int64_t D,
                         int64_t n) noexcept nogil

    # ---- linear (linear.c) -------------------------------------------
    int cg_linear_forward_f32(float *y, float *z, const float *x, const float *w, const float *b,
                              int64_t N, int64_t IN, int64_t OUT, int act) noexcept nogil
    int cg_linear_backward_f32(float *dx, float *dw, float *db, const float *dy, const float *x,
                               const float *w, const float *z, const float *y, float *scratch,
                               int64_t N, int64_t IN, int64_t OUT, int act,
                               int accumulate) noexcept nogil
    int cg_linear_forward_f64(double *y, double *z, const double *x, const double *w,
                              const double *b, int64_t N, int64_t IN,
                              int64_t OUT, int act) noexcept nogil
    int cg_linear_backward_f64(double *dx, double *dw, double *db, const double *dy,
                               const double *x, const double *w, const double *z, const double *y,
                               double *scratch, int64_t N, int64_t IN, int64_t OUT, int act,
                               int accumulate) noexcept nogil

    # ---- losses (loss.c) ---------------------------------------------
    int cg_cross_entropy_forward_f32(float *loss, float *p, const float *logits,
                                     const int64_t *target, int64_t N, int64_t C,
                                     int64_t ignore_index) noexcept nogil
    int cg_cross_entropy_backward_f32(float *dlogits, const float *dloss, const float *p,
                                      const int64_t *target, int64_t N, int64_t C,
                                      int64_t ignore_index) noexcept nogil
    int cg_cross_entropy_forward_f64(double *loss, double *p, const double *logits,
                                     const int64_t *target, int64_t N, int64_t C,
                                     int64_t ignore_index) noexcept nogil
    int cg_cross_entropy_backward_f64(double *dlogits, const double *dloss, const double *p,
                                      const int64_t *target, int64_t N, int64_t C,
                                      int64_t ignore_index) noexcept nogil
    int cg_cross_entropy_prob_forward_f32(float *loss, float *p, const float *logits,
                                          const float *target, int64_t N, int64_t C) noexcept nogil
    int cg_cross_entropy_prob_backward_f32(float *dlogits, const float *dloss, const float *p,
                                           const float *target, int64_t N, int64_t C) noexcept nogil
    int cg_cross_entropy_prob_forward_f64(double *loss, double *p, const double *logits,
                                          const double *target, int64_t N, int64_t C) noexcept nogil
    int cg_cross_entropy_prob_backward_f64(double *dlogits, const double *dloss, const double *p,
                                           const double *target, int64_t N,
                                           int64_t C) noexcept nogil
    int cg_nll_forward_f32(float *loss, const float *x, const int64_t *target, int64_t N, int64_t C,
                           int64_t ignore_index) noexcept nogil
    int cg_nll_backward_f32(float *dx, const float *dloss, const int64_t *target, int64_t N,
                            int64_t C, int64_t ignore_index) noexcept nogil
    int cg_nll_forward_f64(double *loss, const double *x, const int64_t *target, int64_t N,
                           int64_t C, int64_t ignore_index) noexcept nogil
    int cg_nll_backward_f64(double *dx, const double *dloss, const int64_t *target, int64_t N,
                            int64_t C, int64_t ignore_index) noexcept nogil
    int cg_mse_forward_f32(float *out, const float *x, const float *t, int64_t n,
                           int reduction) noexcept nogil
    int cg_mse_backward_f32(float *dx, float *dt, const float *dout, const float *x, const float *t,
                            int64_t n, int reduction) noexcept nogil
    int cg_mse_forward_f64(double *out, const double *x, const double *t, int64_t n,
                           int reduction) noexcept nogil
    int cg_mse_backward_f64(double *dx, double *dt, const double *dout, const double *x,
                            const double *t, int64_t n, int reduction) noexcept nogil
    int cg_l1_forward_f32(float *out, const float *x, const float *t, int64_t n,
                          int reduction) noexcept nogil
    int cg_l1_backward_f32(float *dx, float *dt, const float *dout, const float *x, const float *t,
                           int64_t n, int reduction) noexcept nogil
    int cg_l1_forward_f64(double *out, const double *x, const double *t, int64_t n,
                          int reduction) noexcept nogil
    int cg_l1_backward_f64(double *dx, double *dt, const double *dout, const double *x,
                           const double *t, int64_t n, int reduction) noexcept nogil
    int cg_bce_forward_f32(float *out, const float *x, const float *t, int64_t n,
                           int reduction) noexcept nogil
    int cg_bce_backward_f32(float *dx, float *dt, const float *dout, const float *x, const float *t,
                            int64_t n, int reduction) noexcept nogil
    int cg_bce_forward_f64(double *out, const double *x, const double *t, int64_t n,
                           int reduction) noexcept nogil
    int cg_bce_backward_f64(double *dx, double *dt, const double *dout, const double *x,
                            const double *t, int64_t n, int reduction) noexcept nogil
    int cg_bce_logits_forward_f32(float *out, const float *x, const float *t, int64_t n,
                                  int reduction) noexcept nogil
    int cg_bce_logits_backward_f32(float *dx, float *dt, const float *dout, const float *x,
                                   const float *t, int64_t n, int reduction) noexcept nogil
    int cg_bce_logits_forward_f64(double *out, const double *x, const double *t, int64_t n,
                                  int reduction) noexcept nogil
    int cg_bce_logits_backward_f64(double *dx, double *dt, const double *dout, const double *x,
                                   const double *t, int64_t n, int reduction) noexcept nogil

    # ---- dropout (dropout.c) -----------------------------------------
    void cg_dropout_forward_f32(float *y, const float *x, const float *u,
                                int64_t n, float p) noexcept nogil
    void cg_dropout_backward_f32(float *dx, const float *dy, const float *u,
                                 int64_t n, float p) noexcept nogil
    void cg_dropout_forward_f64(double *y, const double *x, const double *u, int64_t n,
                                double p) noexcept nogil
    void cg_dropout_backward_f64(double *dx, const double *dy, const double *u, int64_t n,
                                 double p) noexcept nogil

    # ---- optimizer steps (optim.c) -----------------------------------
    int cg_sgd_step_f32(float *p, const float *g, float *buf, int64_t n, double lr, double momentum,
                        double dampening, double weight_decay, int nesterov,
                        int first) noexcept nogil
    int cg_sgd_step_f64(double *p, const double *g, double *buf, int64_t n, double lr,
                        double momentum, double dampening, double weight_decay, int nesterov,
                        int first) noexcept nogil
    int cg_adam_step_f32(float *p, const float *g, float *m, float *v, int64_t n, double lr,
                         double beta1, double beta2, double eps, double weight_decay, int64_t step,
                         int decoupled) noexcept nogil
    int cg_adam_step_f64(double *p, const double *g, double *m, double *v, int64_t n, double lr,
                         double beta1, double beta2, double eps, double weight_decay, int64_t step,
                         int decoupled) noexcept nogil

    # ---- measured FMA peak (peak.c), for the benchmark suite ---------
    double cg_peak_gflops_f32(int n_threads, double seconds) noexcept nogil
    double cg_peak_gflops_f64(int n_threads, double seconds) noexcept nogil

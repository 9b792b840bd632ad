"""Gradient checks for every differentiable op in API.md, on both backends.

Three independent oracles:

1. ``cg.gradcheck`` (float64 central differences, as the contract specifies);
2. this file's own float64 central-difference helper, which evaluates the
   function with cgrad but does the perturbation, the weighting of the output
   and the differencing in plain NumPy, so a broken ``cg.gradcheck`` (or a
   broken ``sum``/``mul`` used to scalarise outputs) cannot hide a bug;
3. PyTorch (float64), when importable, for values and gradients.

Each op is written once as ``fn(L, *xs)``, where ``L`` is either the ``cgrad``
module or a thin shim over ``torch``, so the very same expression runs in both
libraries. Hand-derived values cover the tie-splitting and kink conventions.
"""

import math
import re

import numpy as np
import pytest

import cgrad as cg

F32, F64 = np.float32, np.float64


def arr(t):
    return np.array(t.detach().numpy(), dtype=F64)


# ----------------------------------------------------------------------
# Input domains
# ----------------------------------------------------------------------


def make_input(kind, shape, rng):
    if isinstance(kind, np.ndarray):
        return kind.astype(F64).copy()
    if kind == "any":
        return rng.standard_normal(shape)
    if kind == "pos":
        return rng.uniform(0.5, 2.0, size=shape)
    if kind == "away0":  # |x| >= 0.2, away from the kink at 0
        mag = rng.uniform(0.2, 1.5, size=shape)
        sign = np.where(rng.random(shape) < 0.5, -1.0, 1.0)
        return mag * sign
    if kind == "clampsafe":  # away from -0.5, 0, 0.2, 0.5
        v = np.array([-1.3, -0.8, -0.3, -0.1, 0.1, 0.35, 0.7, 1.2, -0.65, 0.05, 0.9, -2.0])
        return rng.permutation(v)[: int(np.prod(shape))].reshape(shape)
    raise ValueError(kind)


# ----------------------------------------------------------------------
# The op table: (id, fn(L, *xs), shapes, domains)
# ----------------------------------------------------------------------

A = "any"
P = "pos"
Z = "away0"
SOFTPLUS_PTS = np.array(
    [-3.0, -1.2, -0.4, 0.1, 0.3, 0.7, 1.1, 2.5]
)  # beta=2, threshold=1 -> switch at 0.5

OPS = [
    # --- binary, broadcasting ---
    ("add_same", lambda L, a, b: a + b, [(3, 4), (3, 4)], [A, A]),
    ("add_3x1_1x4", lambda L, a, b: a + b, [(3, 1), (1, 4)], [A, A]),
    ("add_234_4", lambda L, a, b: a + b, [(2, 3, 4), (4,)], [A, A]),
    ("add_0d_23", lambda L, a, b: a + b, [(), (2, 3)], [A, A]),
    ("sub_3x1_1x4", lambda L, a, b: a - b, [(3, 1), (1, 4)], [A, A]),
    ("sub_234_4", lambda L, a, b: a - b, [(2, 3, 4), (4,)], [A, A]),
    ("sub_4_234", lambda L, a, b: a - b, [(4,), (2, 3, 4)], [A, A]),
    ("mul_3x1_1x4", lambda L, a, b: a * b, [(3, 1), (1, 4)], [A, A]),
    ("mul_234_4", lambda L, a, b: a * b, [(2, 3, 4), (4,)], [A, A]),
    ("mul_214_31", lambda L, a, b: a * b, [(2, 1, 4), (3, 1)], [A, A]),
    ("div_3x1_1x4", lambda L, a, b: a / b, [(3, 1), (1, 4)], [A, P]),
    ("div_234_4", lambda L, a, b: a / b, [(2, 3, 4), (4,)], [A, P]),
    ("div_4_234", lambda L, a, b: a / b, [(4,), (2, 3, 4)], [A, P]),
    # --- with Python numbers ---
    ("add_num", lambda L, a: a + 2.5, [(3, 4)], [A]),
    ("radd_num", lambda L, a: 2.5 + a, [(3, 4)], [A]),
    ("sub_num", lambda L, a: a - 1.5, [(3, 4)], [A]),
    ("rsub_num", lambda L, a: 1.5 - a, [(3, 4)], [A]),
    ("mul_num", lambda L, a: a * -1.75, [(3, 4)], [A]),
    ("rmul_num", lambda L, a: 3 * a, [(3, 4)], [A]),
    ("div_num", lambda L, a: a / 4.0, [(3, 4)], [A]),
    ("rdiv_num", lambda L, a: 3.0 / a, [(3, 4)], [P]),
    ("neg", lambda L, a: -a, [(3, 4)], [A]),
    # --- pow ---
    ("pow_int", lambda L, a: a**3, [(3, 4)], [A]),
    ("pow_2", lambda L, a: a**2, [(3, 4)], [A]),
    ("pow_frac", lambda L, a: a**2.5, [(3, 4)], [P]),
    ("pow_neg", lambda L, a: a**-1.5, [(3, 4)], [P]),
    ("pow_half", lambda L, a: a**0.5, [(3, 4)], [P]),
    ("pow_tensor", lambda L, a, b: a**b, [(3, 4), (3, 4)], [P, A]),
    ("pow_tensor_bcast", lambda L, a, b: a**b, [(3, 1), (1, 4)], [P, A]),
    ("rpow_num", lambda L, a: 2.0**a, [(3, 4)], [A]),
    ("rpow_num_frac", lambda L, a: 0.5**a, [(3, 4)], [A]),
    # --- matmul ---
    ("mm_2d_2d", lambda L, a, b: a @ b, [(3, 4), (4, 5)], [A, A]),
    ("mm_1d_2d", lambda L, a, b: a @ b, [(4,), (4, 5)], [A, A]),
    ("mm_2d_1d", lambda L, a, b: a @ b, [(3, 4), (4,)], [A, A]),
    ("mm_1d_1d", lambda L, a, b: a @ b, [(4,), (4,)], [A, A]),
    ("mm_batched", lambda L, a, b: a @ b, [(2, 3, 4), (2, 4, 5)], [A, A]),
    ("mm_3d_2d", lambda L, a, b: a @ b, [(2, 3, 4), (4, 2)], [A, A]),
    ("mm_2d_3d", lambda L, a, b: a @ b, [(3, 4), (2, 4, 2)], [A, A]),
    ("mm_1d_3d", lambda L, a, b: a @ b, [(4,), (2, 4, 3)], [A, A]),
    ("mm_3d_1d", lambda L, a, b: a @ b, [(2, 3, 4), (4,)], [A, A]),
    ("mm_batch_bcast", lambda L, a, b: a @ b, [(2, 1, 3, 4), (3, 4, 2)], [A, A]),
    ("mm_batch_bcast_1", lambda L, a, b: a @ b, [(1, 3, 4), (2, 4, 2)], [A, A]),
    ("mm_transposed", lambda L, a, b: a.T @ b, [(4, 3), (4, 2)], [A, A]),
    ("mm_self", lambda L, a: a @ a, [(3, 3)], [A]),
    # --- elementwise ---
    ("exp", lambda L, a: a.exp(), [(3, 4)], [A]),
    ("log", lambda L, a: a.log(), [(3, 4)], [P]),
    ("sqrt", lambda L, a: a.sqrt(), [(3, 4)], [P]),
    ("abs", lambda L, a: a.abs(), [(3, 4)], [Z]),
    ("sin", lambda L, a: a.sin(), [(3, 4)], [A]),
    ("cos", lambda L, a: a.cos(), [(3, 4)], [A]),
    ("tanh", lambda L, a: a.tanh(), [(3, 4)], [A]),
    ("sigmoid", lambda L, a: a.sigmoid(), [(3, 4)], [A]),
    ("relu", lambda L, a: a.relu(), [(3, 4)], [Z]),
    ("leaky_relu_default", lambda L, a: L.leaky_relu(a), [(3, 4)], [Z]),
    ("leaky_relu_0.2", lambda L, a: L.leaky_relu(a, 0.2), [(3, 4)], [Z]),
    ("leaky_relu_kw", lambda L, a: L.leaky_relu(a, negative_slope=0.3), [(3, 4)], [Z]),
    ("softplus_default", lambda L, a: L.softplus(a), [(3, 4)], [A]),
    (
        "softplus_beta_thr",
        lambda L, a: L.softplus(a, beta=2.0, threshold=1.0),
        [(8,)],
        [SOFTPLUS_PTS],
    ),
    ("gelu_none", lambda L, a: L.gelu(a), [(3, 4)], [A]),
    ("gelu_none_kw", lambda L, a: L.gelu(a, approximate="none"), [(3, 4)], [A]),
    ("gelu_tanh", lambda L, a: L.gelu(a, approximate="tanh"), [(3, 4)], [A]),
    ("clamp_both", lambda L, a: a.clamp(-0.5, 0.5), [(3, 4)], ["clampsafe"]),
    ("clamp_kw", lambda L, a: a.clamp(min=-0.5, max=0.5), [(3, 4)], ["clampsafe"]),
    ("clamp_min", lambda L, a: a.clamp(min=0.0), [(3, 4)], ["clampsafe"]),
    ("clamp_max", lambda L, a: a.clamp(max=0.2), [(3, 4)], ["clampsafe"]),
    # --- reductions ---
    ("sum_all", lambda L, a: a.sum(), [(2, 3, 4)], [A]),
    ("sum_dim", lambda L, a: a.sum(dim=1), [(2, 3, 4)], [A]),
    ("sum_dim_neg_keep", lambda L, a: a.sum(dim=-1, keepdim=True), [(2, 3, 4)], [A]),
    ("sum_tuple", lambda L, a: a.sum(dim=(0, 2)), [(2, 3, 4)], [A]),
    ("sum_tuple_keep", lambda L, a: a.sum(dim=(0, 2), keepdim=True), [(2, 3, 4)], [A]),
    ("mean_all", lambda L, a: a.mean(), [(2, 3, 4)], [A]),
    ("mean_dim", lambda L, a: a.mean(dim=0), [(2, 3, 4)], [A]),
    ("mean_tuple", lambda L, a: a.mean(dim=(1, 2)), [(2, 3, 4)], [A]),
    ("mean_tuple_keep", lambda L, a: a.mean(dim=(-1, 0), keepdim=True), [(2, 3, 4)], [A]),
    ("amax_all", lambda L, a: a.amax(), [(2, 3, 4)], [A]),
    ("amax_dim", lambda L, a: a.amax(dim=1), [(2, 3, 4)], [A]),
    ("amax_tuple_keep", lambda L, a: a.amax(dim=(0, 2), keepdim=True), [(2, 3, 4)], [A]),
    ("amax_neg", lambda L, a: a.amax(dim=-1), [(2, 3, 4)], [A]),
    ("max_all", lambda L, a: a.max(), [(3, 4)], [A]),
    ("softmax_last", lambda L, a: a.softmax(dim=-1), [(3, 4)], [A]),
    ("softmax_0", lambda L, a: a.softmax(dim=0), [(3, 4)], [A]),
    ("softmax_3d_mid", lambda L, a: a.softmax(dim=1), [(2, 3, 4)], [A]),
    ("log_softmax_last", lambda L, a: a.log_softmax(dim=-1), [(3, 4)], [A]),
    ("log_softmax_0", lambda L, a: a.log_softmax(dim=0), [(3, 4)], [A]),
    ("log_softmax_3d_mid", lambda L, a: a.log_softmax(dim=1), [(2, 3, 4)], [A]),
    # --- shape ops ---
    ("reshape", lambda L, a: a.reshape(4, 6), [(2, 3, 4)], [A]),
    ("reshape_tuple", lambda L, a: a.reshape((6, 4)), [(2, 3, 4)], [A]),
    ("reshape_infer", lambda L, a: a.reshape(-1), [(2, 3, 4)], [A]),
    ("view", lambda L, a: a.view(6, 4), [(2, 3, 4)], [A]),
    ("view_infer", lambda L, a: a.view(2, -1), [(2, 3, 4)], [A]),
    ("flatten", lambda L, a: a.flatten(), [(2, 3, 4)], [A]),
    ("flatten_1", lambda L, a: a.flatten(1), [(2, 3, 4)], [A]),
    ("transpose", lambda L, a: a.transpose(0, 2), [(2, 3, 4)], [A]),
    ("transpose_neg", lambda L, a: a.transpose(-1, -2), [(2, 3, 4)], [A]),
    ("T", lambda L, a: a.T, [(3, 4)], [A]),
    ("permute", lambda L, a: a.permute(2, 0, 1), [(2, 3, 4)], [A]),
    ("permute_then_reshape", lambda L, a: a.permute(1, 2, 0).reshape(3, 8), [(2, 3, 4)], [A]),
    ("transpose_then_mul", lambda L, a, b: a.transpose(0, 1) * b, [(3, 4), (4, 1)], [A, A]),
    ("unsqueeze", lambda L, a: a.unsqueeze(1), [(3, 4)], [A]),
    ("unsqueeze_neg", lambda L, a: a.unsqueeze(-1), [(3, 4)], [A]),
    ("squeeze_all", lambda L, a: a.squeeze(), [(2, 1, 3, 1)], [A]),
    ("squeeze_dim", lambda L, a: a.squeeze(1), [(2, 1, 3)], [A]),
    ("squeeze_noop", lambda L, a: a.squeeze(0), [(2, 1, 3)], [A]),
    # --- indexing ---
    ("idx_int", lambda L, a: a[1], [(4, 3)], [A]),
    ("idx_neg_int", lambda L, a: a[-1], [(4, 3)], [A]),
    ("idx_slice", lambda L, a: a[1:3], [(4, 3)], [A]),
    ("idx_step", lambda L, a: a[::2], [(4, 3)], [A]),
    ("idx_col", lambda L, a: a[:, 1], [(4, 3)], [A]),
    ("idx_ellipsis", lambda L, a: a[..., 2], [(2, 4, 3)], [A]),
    ("idx_none", lambda L, a: a[None], [(4, 3)], [A]),
    ("idx_mixed", lambda L, a: a[1:, None, ::2], [(4, 3)], [A]),
    ("idx_int_slice", lambda L, a: a[0, 1:3], [(4, 3)], [A]),
    ("idx_gather_repeats", lambda L, a: a[[0, 2, 0, 0]], [(4, 3)], [A]),
    ("idx_gather_neg", lambda L, a: a[[-1, 0, -1]], [(4, 3)], [A]),
    ("idx_gather_3d", lambda L, a: a[[1, 1, 0]], [(2, 3, 2)], [A]),
    # --- cat / stack ---
    ("cat_0", lambda L, a, b: L.cat([a, b]), [(2, 3), (1, 3)], [A, A]),
    ("cat_1", lambda L, a, b: L.cat([a, b], dim=1), [(2, 3), (2, 2)], [A, A]),
    (
        "cat_neg_three",
        lambda L, a, b, c: L.cat((a, b, c), dim=-1),
        [(2, 1), (2, 3), (2, 2)],
        [A, A, A],
    ),
    ("cat_fanout", lambda L, a: L.cat([a, a * 2.0]), [(2, 3)], [A]),
    ("stack_0", lambda L, a, b: L.stack([a, b]), [(2, 3), (2, 3)], [A, A]),
    ("stack_1", lambda L, a, b: L.stack([a, b], dim=1), [(2, 3), (2, 3)], [A, A]),
    ("stack_neg", lambda L, a, b: L.stack([a, b], dim=-1), [(2, 3), (2, 3)], [A, A]),
    ("stack_fanout", lambda L, a: L.stack([a, a.exp()]), [(3,)], [A]),
    # --- non-contiguous operands (views) fed to kernels ---
    ("exp_of_T", lambda L, a: a.T.exp(), [(3, 4)], [A]),
    ("add_T_plus", lambda L, a, b: a.T + b, [(3, 4), (4, 3)], [A, A]),
    ("mul_strided_bcast", lambda L, a, b: a[:, 1:] * b.T, [(3, 4), (3, 3)], [A, A]),
    ("mm_T_T", lambda L, a, b: a.T @ b.T, [(4, 3), (2, 4)], [A, A]),
    ("mm_sliced", lambda L, a, b: a[:, ::2] @ b[1:], [(3, 4), (3, 2)], [A, A]),
    (
        "mm_batched_transposed",
        lambda L, a, b: a.transpose(1, 2) @ b,
        [(2, 4, 3), (2, 4, 2)],
        [A, A],
    ),
    ("softmax_of_T", lambda L, a: a.T.softmax(dim=-1), [(3, 4)], [A]),
    ("log_softmax_strided", lambda L, a: a[::2].log_softmax(dim=0), [(4, 3)], [A]),
    ("sum_strided", lambda L, a: a[:, ::2].sum(dim=0), [(3, 4)], [A]),
    ("amax_permuted", lambda L, a: a.permute(2, 0, 1).amax(dim=1), [(2, 3, 4)], [A]),
    ("gelu_of_T", lambda L, a: L.gelu(a.T, approximate="tanh"), [(3, 4)], [A]),
    ("sigmoid_of_col", lambda L, a: a[:, 1].sigmoid(), [(3, 4)], [A]),
    # --- composites (fan-out, skip connections, chains of everything) ---
    (
        "mlp",
        lambda L, x, W, b, V: ((x @ W + b).tanh() @ V).sigmoid(),
        [(4, 3), (3, 5), (5,), (5, 2)],
        [A, A, A, A],
    ),
    ("skip", lambda L, x, W: (x @ W).relu() + x, [(3, 4), (4, 4)], ["away0", A]),
    (
        "xent_like",
        lambda L, z, w: (z.log_softmax(dim=1) * w.softmax(dim=1)).sum(dim=1).mean(),
        [(4, 3), (4, 3)],
        [A, A],
    ),
    (
        "norm_like",
        lambda L, x: (
            (x - x.mean(dim=-1, keepdim=True)) / ((x * x).mean(dim=-1, keepdim=True) + 1.0).sqrt()
        ),
        [(3, 4)],
        [A],
    ),
    (
        "attention_like",
        lambda L, q, k, v: (q @ k.transpose(-1, -2) / 2.0).softmax(dim=-1) @ v,
        [(2, 3, 4), (2, 3, 4), (2, 3, 2)],
        [A, A, A],
    ),
]

OP_IDS = [o[0] for o in OPS]
OP_BY_ID = {o[0]: o for o in OPS}


# ----------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------


def _inputs(op, rng):
    _, _, shapes, kinds = op
    return [make_input(k, s, rng) for k, s in zip(kinds, shapes)]


def _weights(out_shape, rng):
    # distinct, nonzero weights so every output element matters
    return rng.uniform(0.5, 1.5, size=out_shape) * np.where(rng.random(out_shape) < 0.5, -1.0, 1.0)


def _cg_forward_backward(fn, values, W=None, rng=None, dtype=F64):
    leaves = [cg.tensor(v.astype(dtype), requires_grad=True) for v in values]
    out = fn(cg, *leaves)
    if W is None:
        W = _weights(out.shape, rng)
    out.backward(cg.tensor(np.asarray(W, dtype=dtype)))
    grads = []
    for lf in leaves:
        assert lf.grad is not None, "no gradient reached an input"
        assert lf.grad.shape == lf.shape
        grads.append(arr(lf.grad))
    return arr(out), grads, W


def numpy_central_differences(fn, values, W, eps=1e-6):
    """d/dx_k sum(W * fn(x)) by central differences; NumPy does the arithmetic."""

    def f(vals):
        out = fn(cg, *[cg.tensor(v) for v in vals])
        return float(np.sum(np.asarray(W, dtype=F64) * arr(out)))

    grads = []
    for k, v in enumerate(values):
        g = np.zeros_like(v)
        for idx in np.ndindex(v.shape):
            plus = [u.copy() for u in values]
            minus = [u.copy() for u in values]
            plus[k][idx] += eps
            minus[k][idx] -= eps
            g[idx] = (f(plus) - f(minus)) / (2 * eps)
        grads.append(g)
    return grads


# ----------------------------------------------------------------------
# 1. cg.gradcheck on every op, both backends
# ----------------------------------------------------------------------


@pytest.mark.parametrize("op_id", OP_IDS)
def test_cg_gradcheck(backend, op_id, rng):
    op = OP_BY_ID[op_id]
    fn = op[1]
    values = _inputs(op, rng)
    leaves = [cg.tensor(v, requires_grad=True) for v in values]
    out_shape = fn(cg, *[cg.tensor(v) for v in values]).shape
    W = cg.tensor(_weights(out_shape, rng))

    def scalar_fn(*xs):
        return (fn(cg, *xs) * W).sum()

    assert cg.gradcheck(scalar_fn, tuple(leaves)) is True


# ----------------------------------------------------------------------
# 2. Own finite differences (independent of cg.gradcheck and cg.sum)
# ----------------------------------------------------------------------


@pytest.mark.parametrize("op_id", OP_IDS)
def test_own_finite_differences(backend, op_id, rng):
    op = OP_BY_ID[op_id]
    fn = op[1]
    values = _inputs(op, rng)
    out, grads, W = _cg_forward_backward(fn, values, rng=rng)
    assert out.dtype == F64
    fd = numpy_central_differences(fn, values, W)
    for k, (g, n) in enumerate(zip(grads, fd)):
        np.testing.assert_allclose(g, n, rtol=1e-5, atol=1e-6, err_msg=f"{op_id}: input {k}")


# ----------------------------------------------------------------------
# 3. PyTorch as oracle (values and gradients), float64
# ----------------------------------------------------------------------


class _TorchL:
    """The bits of torch that are module-level functions in cgrad."""

    def __init__(self, torch):
        import torch.nn.functional as F

        self.cat = torch.cat
        self.stack = torch.stack
        self.leaky_relu = F.leaky_relu
        self.softplus = F.softplus
        self.gelu = F.gelu


@pytest.mark.parametrize("op_id", OP_IDS)
def test_matches_torch_float64(backend, op_id, rng):
    torch = pytest.importorskip("torch")
    op = OP_BY_ID[op_id]
    fn = op[1]
    values = _inputs(op, rng)
    out, grads, W = _cg_forward_backward(fn, values, rng=rng)
    tl = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in values]
    tout = fn(_TorchL(torch), *tl)
    tout.backward(torch.tensor(np.asarray(W, dtype=F64)))
    assert out.shape == tuple(tout.shape)
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=1e-10, atol=1e-12)
    for k, (g, t) in enumerate(zip(grads, tl)):
        np.testing.assert_allclose(
            g, t.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=f"{op_id}: input {k}"
        )


# ----------------------------------------------------------------------
# 4. float32 kernels agree with float64 (per backend), and backends agree
# ----------------------------------------------------------------------


@pytest.mark.parametrize("op_id", OP_IDS)
def test_float32_agrees_with_float64(backend, op_id, rng):
    op = OP_BY_ID[op_id]
    fn = op[1]
    # inputs exactly representable in float32, for both runs
    values32 = [v.astype(F32).astype(F64) for v in _inputs(op, rng)]
    out64, g64, W = _cg_forward_backward(fn, values32, rng=rng)
    leaves = [cg.tensor(v.astype(F32), requires_grad=True) for v in values32]
    out32 = fn(cg, *leaves)
    assert out32.dtype == np.float32
    out32.backward(cg.tensor(np.asarray(W, dtype=F32)))
    scale = max(1.0, float(np.max(np.abs(out64))))
    np.testing.assert_allclose(arr(out32), out64, rtol=1e-4, atol=1e-5 * scale)
    for k, (lf, g) in enumerate(zip(leaves, g64)):
        assert lf.grad.dtype == np.float32
        gscale = max(1.0, float(np.max(np.abs(g))))
        np.testing.assert_allclose(
            arr(lf.grad), g, rtol=1e-4, atol=1e-5 * gscale, err_msg=f"{op_id}: input {k}"
        )


@pytest.mark.parametrize("op_id", OP_IDS)
def test_backends_agree(op_id, rng):
    op = OP_BY_ID[op_id]
    fn = op[1]
    values = _inputs(op, rng)
    results = {}
    W = None
    for name in ("c", "numpy"):
        with cg.use_backend(name):
            out, grads, W = _cg_forward_backward(fn, values, W=W, rng=rng)
        results[name] = (out, grads)
    np.testing.assert_allclose(results["c"][0], results["numpy"][0], rtol=1e-11, atol=1e-13)
    for gc_, gn in zip(results["c"][1], results["numpy"][1]):
        np.testing.assert_allclose(gc_, gn, rtol=1e-11, atol=1e-13)


# ----------------------------------------------------------------------
# Function forms cg.<name>(t, ...) have the same gradients as the methods
# ----------------------------------------------------------------------

_FUNC_FORMS = [
    ("exp", (), {}),
    ("log", (), {}),
    ("sqrt", (), {}),
    ("abs", (), {}),
    ("sin", (), {}),
    ("cos", (), {}),
    ("tanh", (), {}),
    ("sigmoid", (), {}),
    ("relu", (), {}),
    ("leaky_relu", (0.1,), {}),
    ("softplus", (), {"beta": 1.5}),
    ("gelu", (), {"approximate": "tanh"}),
    ("clamp", (), {"min": 0.8, "max": 1.6}),
    ("sum", (), {"dim": 0}),
    ("mean", (), {"dim": (0, 1)}),
    ("amax", (), {"dim": 1, "keepdim": True}),
    ("max", (), {}),
    ("softmax", (), {"dim": 0}),
    ("log_softmax", (), {"dim": -1}),
    ("reshape", (6,), {}),
    ("view", (3, 2), {}),
    ("flatten", (), {}),
    ("transpose", (0, 1), {}),
    ("permute", (1, 0), {}),
    ("unsqueeze", (0,), {}),
    ("squeeze", (), {}),
]


@pytest.mark.parametrize("name, args, kwargs", _FUNC_FORMS, ids=[f[0] for f in _FUNC_FORMS])
def test_function_form_matches_method(backend, name, args, kwargs, rng):
    v = rng.uniform(0.5, 2.0, size=(2, 3))
    a = cg.tensor(v, requires_grad=True)
    b = cg.tensor(v, requires_grad=True)
    out_m = getattr(a, name)(*args, **kwargs)
    out_f = getattr(cg, name)(b, *args, **kwargs)
    assert out_f.shape == out_m.shape
    np.testing.assert_allclose(arr(out_f), arr(out_m), rtol=1e-14, atol=0)
    W = _weights(out_m.shape, rng)
    out_m.backward(cg.tensor(W))
    out_f.backward(cg.tensor(W))
    np.testing.assert_allclose(arr(b.grad), arr(a.grad), rtol=1e-14, atol=0)
    assert (
        cg.gradcheck(lambda t: (getattr(cg, name)(t, *args, **kwargs) * cg.tensor(W)).sum(), (b,))
        is True
    )


# ----------------------------------------------------------------------
# ndarray operands and axis= alias (cgrad-only API)
# ----------------------------------------------------------------------


def test_gradcheck_ndarray_operands(backend, rng):
    c = rng.standard_normal((3, 1))
    x = cg.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    assert cg.gradcheck(lambda t: ((t * c) + (c - t) * t / (c * c + 1.0)).sum(), (x,)) is True
    assert (
        cg.gradcheck(
            lambda t: (c.T @ t).sum() + (np.ones((3, 2)) * 0.5 * (t @ np.ones((4, 2)))).sum(), (x,)
        )
        is True
    )


def test_gradcheck_axis_alias(backend, rng):
    x = cg.tensor(rng.standard_normal((2, 3, 4)), requires_grad=True)
    W = cg.tensor(rng.standard_normal((2, 4)))
    assert cg.gradcheck(lambda t: (t.sum(axis=1) * W).sum(), (x,)) is True
    assert cg.gradcheck(lambda t: (t.mean(axis=(1,)) * W).sum(), (x,)) is True
    assert cg.gradcheck(lambda t: (t.amax(axis=1) * W).sum(), (x,)) is True


def test_gradcheck_int64_array_index(backend, rng):
    x = cg.tensor(rng.standard_normal((5, 2)), requires_grad=True)
    idx = np.array([4, 0, 4, 4, 1], dtype=np.int64)
    W = rng.standard_normal((5, 2))
    assert cg.gradcheck(lambda t: (t[idx] * cg.tensor(W)).sum(), (x,)) is True
    # hand value: rows gathered k times get the sum of their k weight rows
    y = (x[idx] * cg.tensor(W)).sum()
    y.backward()
    expected = np.zeros((5, 2))
    for r, i in enumerate(idx):
        expected[i] += W[r]
    np.testing.assert_allclose(arr(x.grad), expected, rtol=1e-14, atol=1e-15)


# ----------------------------------------------------------------------
# Hand-derived conventions at ties and kinks (PyTorch's choices)
# ----------------------------------------------------------------------


def _grad_of(fn, v):
    x = cg.tensor(np.asarray(v, dtype=F64), requires_grad=True)
    fn(x).backward()
    return arr(x.grad)


def test_max_whole_tensor_splits_ties_evenly(backend):
    g = _grad_of(lambda x: x.max(), [1.0, 3.0, 3.0, 2.0])
    np.testing.assert_allclose(g, [0.0, 0.5, 0.5, 0.0], rtol=0, atol=1e-15)


def test_amax_dim_splits_ties_evenly(backend):
    g = _grad_of(lambda x: x.amax(dim=1).sum(), [[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    np.testing.assert_allclose(g, [[0.0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]], rtol=1e-15, atol=1e-15)


def test_amax_all_and_tuple_split_ties_evenly(backend):
    v = [[1.0, 3.0, 3.0], [2.0, 3.0, 2.0]]
    expected = [[0.0, 1 / 3, 1 / 3], [0.0, 1 / 3, 0.0]]
    np.testing.assert_allclose(_grad_of(lambda x: x.amax(), v), expected, rtol=1e-15, atol=1e-15)
    np.testing.assert_allclose(
        _grad_of(lambda x: x.amax(dim=(0, 1), keepdim=True).sum(), v),
        expected,
        rtol=1e-15,
        atol=1e-15,
    )


def test_amax_without_ties_routes_to_argmax(backend):
    g = _grad_of(
        lambda x: (x.amax(dim=0) * cg.tensor(np.array([2.0, -1.0]))).sum(),
        [[1.0, 5.0], [4.0, -2.0]],
    )
    np.testing.assert_allclose(g, [[0.0, -1.0], [2.0, 0.0]], rtol=0, atol=0)


def test_relu_and_abs_gradient_at_zero_is_zero(backend):
    np.testing.assert_array_equal(
        _grad_of(lambda x: x.relu().sum(), [0.0, -1.0, 1.0]), [0.0, 0.0, 1.0]
    )
    np.testing.assert_array_equal(
        _grad_of(lambda x: x.abs().sum(), [0.0, -1.0, 1.0]), [0.0, -1.0, 1.0]
    )


def test_clamp_gradient_is_one_on_the_boundary(backend):
    g = _grad_of(lambda x: x.clamp(-1.0, 1.0).sum(), [-1.0, 1.0, 0.0, 2.0, -3.0])
    np.testing.assert_array_equal(g, [1.0, 1.0, 1.0, 0.0, 0.0])


def test_softplus_gradient_in_linear_region_is_one(backend):
    # beta * x > threshold -> softplus(x) = x, derivative exactly 1
    g = _grad_of(lambda x: x.softplus(beta=2.0, threshold=1.0).sum(), [0.75, 5.0, 50.0])
    np.testing.assert_array_equal(g, [1.0, 1.0, 1.0])
    # below the threshold: derivative sigmoid(beta * x)
    g2 = _grad_of(lambda x: x.softplus(beta=2.0, threshold=1.0).sum(), [0.25, -1.0])
    np.testing.assert_allclose(g2, 1 / (1 + np.exp(-2.0 * np.array([0.25, -1.0]))), rtol=1e-14)


def test_gelu_derivatives_hand_formula(backend):
    v = np.array([-2.0, -0.5, 0.0, 0.3, 1.7])
    # exact: d/dx x Phi(x) = Phi(x) + x phi(x)
    Phi = 0.5 * (1 + np.vectorize(math.erf)(v / math.sqrt(2)))
    phi = np.exp(-(v**2) / 2) / math.sqrt(2 * math.pi)
    np.testing.assert_allclose(
        _grad_of(lambda x: x.gelu().sum(), v), Phi + v * phi, rtol=1e-12, atol=1e-14
    )
    # tanh form: 0.5(1+t) + 0.5 x (1 - t^2) c (1 + 3k x^2)
    c, k = math.sqrt(2 / math.pi), 0.044715
    t = np.tanh(c * (v + k * v**3))
    expected = 0.5 * (1 + t) + 0.5 * v * (1 - t**2) * c * (1 + 3 * k * v**2)
    np.testing.assert_allclose(
        _grad_of(lambda x: x.gelu(approximate="tanh").sum(), v), expected, rtol=1e-12, atol=1e-14
    )


def test_pow_tensor_exponent_hand_formula(backend):
    a = cg.tensor(np.array([1.5, 2.0]), requires_grad=True)
    b = cg.tensor(np.array([0.5, -1.0]), requires_grad=True)
    (a**b).sum().backward()
    av, bv = np.array([1.5, 2.0]), np.array([0.5, -1.0])
    np.testing.assert_allclose(arr(a.grad), bv * av ** (bv - 1), rtol=1e-14)
    np.testing.assert_allclose(arr(b.grad), av**bv * np.log(av), rtol=1e-14)


def test_number_pow_tensor_hand_formula(backend):
    x = cg.tensor(np.array([0.0, 1.0, -2.0]), requires_grad=True)
    (3.0**x).sum().backward()
    np.testing.assert_allclose(
        arr(x.grad), 3.0 ** np.array([0.0, 1.0, -2.0]) * math.log(3.0), rtol=1e-14
    )


def test_softmax_log_softmax_hand_formulas(backend):
    v = np.array([[0.1, -1.2, 2.0], [0.5, 0.5, -0.3]])
    w = np.array([[1.0, -2.0, 0.5], [0.3, 0.0, 1.0]])
    s = np.exp(v) / np.exp(v).sum(1, keepdims=True)
    x = cg.tensor(v, requires_grad=True)
    (x.softmax(dim=1) * cg.tensor(w)).sum().backward()
    np.testing.assert_allclose(
        arr(x.grad), s * (w - (w * s).sum(1, keepdims=True)), rtol=1e-12, atol=1e-14
    )
    x2 = cg.tensor(v, requires_grad=True)
    (x2.log_softmax(dim=1) * cg.tensor(w)).sum().backward()
    np.testing.assert_allclose(
        arr(x2.grad), w - s * w.sum(1, keepdims=True), rtol=1e-12, atol=1e-14
    )


def test_matmul_1d_1d_hand_formula(backend):
    a = cg.tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    b = cg.tensor(np.array([-1.0, 0.5, 4.0]), requires_grad=True)
    y = a @ b
    assert y.shape == ()
    y.backward()
    np.testing.assert_array_equal(arr(a.grad), [-1.0, 0.5, 4.0])
    np.testing.assert_array_equal(arr(b.grad), [1.0, 2.0, 3.0])


def test_batched_matmul_broadcast_grad_shapes(backend, rng):
    a = cg.tensor(rng.standard_normal((2, 1, 3, 4)), requires_grad=True)
    b = cg.tensor(rng.standard_normal((5, 4, 2)), requires_grad=True)
    out = a @ b
    assert out.shape == (2, 5, 3, 2)
    out.sum().backward()
    assert a.grad.shape == (2, 1, 3, 4)
    assert b.grad.shape == (5, 4, 2)
    av, bv = arr(a), arr(b)
    g = np.ones((2, 5, 3, 2))
    np.testing.assert_allclose(
        arr(a.grad), (g @ np.swapaxes(bv, -1, -2)).sum(1, keepdims=True), rtol=1e-12
    )
    np.testing.assert_allclose(arr(b.grad), (np.swapaxes(av, -1, -2) @ g).sum(0), rtol=1e-12)


def test_pow_gradients_at_zero_hand_values(backend):
    # torch's conventions: d/db a^b = a^b ln a is 0 where a == 0 and b >= 0;
    # d/dx x^0 = 0 everywhere (also at x == 0)
    a = cg.tensor(np.array([0.0, 1.0, 2.0]), requires_grad=True)
    b = cg.tensor(np.array([2.0, 0.0, 3.0]), requires_grad=True)
    (a**b).sum().backward()
    np.testing.assert_allclose(arr(a.grad), [0.0, 0.0, 12.0], rtol=1e-15, atol=0)
    np.testing.assert_allclose(arr(b.grad), [0.0, 0.0, 8.0 * math.log(2.0)], rtol=1e-15, atol=0)
    x = cg.tensor(np.array([0.0, 2.0]), requires_grad=True)
    (x**0).sum().backward()
    np.testing.assert_array_equal(arr(x.grad), [0.0, 0.0])
    y = cg.tensor(np.array([0.0, 2.0]), requires_grad=True)
    (0.0**y).sum().backward()
    np.testing.assert_array_equal(arr(y.grad), [0.0, 0.0])
    z = cg.tensor(np.array([0.0, -3.0]), requires_grad=True)
    (z**2).sum().backward()
    np.testing.assert_array_equal(arr(z.grad), [0.0, -6.0])


_EXTREMES = [
    # name, fn, value at [-1000, 1000], gradient of the sum there
    ("sigmoid", lambda x: x.sigmoid(), [0.0, 1.0], [0.0, 0.0]),
    ("tanh", lambda x: x.tanh(), [-1.0, 1.0], [0.0, 0.0]),
    ("softplus", lambda x: x.softplus(), [0.0, 1000.0], [0.0, 1.0]),
    ("gelu", lambda x: x.gelu(), [0.0, 1000.0], [0.0, 1.0]),
    ("gelu_tanh", lambda x: x.gelu(approximate="tanh"), [0.0, 1000.0], [0.0, 1.0]),
    ("relu", lambda x: x.relu(), [0.0, 1000.0], [0.0, 1.0]),
    ("leaky_relu", lambda x: x.leaky_relu(0.1), [-100.0, 1000.0], [0.1, 1.0]),
    ("clamp", lambda x: x.clamp(-1.0, 1.0), [-1.0, 1.0], [0.0, 0.0]),
    # softmax of [-1000, 1000] is [0, 1]; log_softmax is [-2000, 0];
    # d/dx sum log_softmax = 1 - 2 softmax
    ("softmax", lambda x: x.softmax(dim=0), [0.0, 1.0], [0.0, 0.0]),
    ("log_softmax", lambda x: x.log_softmax(dim=0), [-2000.0, 0.0], [1.0, -1.0]),
]


@pytest.mark.parametrize("name, fn, value, grad", _EXTREMES, ids=[e[0] for e in _EXTREMES])
@pytest.mark.parametrize("dtype", [F32, F64])
def test_activations_at_extreme_inputs_are_finite_and_exact(backend, name, fn, value, grad, dtype):
    x = cg.tensor(np.array([-1000.0, 1000.0], dtype=dtype), requires_grad=True)
    y = fn(x)
    y.sum().backward()
    v, g = arr(y), arr(x.grad)
    assert np.all(np.isfinite(v)) and np.all(np.isfinite(g)), (v, g)
    np.testing.assert_allclose(v, value, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(g, grad, rtol=1e-6, atol=1e-6)


# ----------------------------------------------------------------------
# cg.gradcheck itself: it must be able to fail
# ----------------------------------------------------------------------


class _BadSquare(cg.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3.0 * x  # wrong: should be 2 x


class _SlightlyBadSquare(cg.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 2.02 * x  # 1% too large: well above rtol=1e-3


class _GoodSquare(cg.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 2.0 * x


class _BadSecondInput(cg.autograd.Function):
    """f(a, b) = a * b with a wrong gradient for b only."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        return g * b, g * a * 0.5  # second is wrong


def test_gradcheck_passes_for_correct_custom_function(backend, rng):
    x = cg.tensor(rng.standard_normal(5), requires_grad=True)
    assert cg.gradcheck(lambda t: _GoodSquare.apply(t).sum(), (x,)) is True


def test_gradcheck_is_error_class():
    assert isinstance(cg.GradcheckError, type)
    assert issubclass(cg.GradcheckError, Exception)


def test_gradcheck_fails_on_wrong_backward(backend, rng):
    x = cg.tensor(rng.uniform(0.5, 2.0, size=5), requires_grad=True)
    with pytest.raises(cg.GradcheckError) as ei:
        cg.gradcheck(lambda t: _BadSquare.apply(t).sum(), (x,))
    msg = str(ei.value)
    assert re.search(r"input\W{0,3}0\b", msg, re.I), msg


def test_gradcheck_fails_on_slightly_wrong_backward(backend, rng):
    x = cg.tensor(rng.uniform(0.5, 2.0, size=(2, 3)), requires_grad=True)
    with pytest.raises(cg.GradcheckError):
        cg.gradcheck(lambda t: _SlightlyBadSquare.apply(t).sum(), (x,))


def test_gradcheck_names_the_wrong_input(backend, rng):
    a = cg.tensor(rng.uniform(0.5, 2.0, size=3), requires_grad=True)
    b = cg.tensor(rng.uniform(0.5, 2.0, size=3), requires_grad=True)
    with pytest.raises(cg.GradcheckError) as ei:
        cg.gradcheck(lambda p, q: _BadSecondInput.apply(p, q).sum(), (a, b))
    msg = str(ei.value)
    assert re.search(r"input\W{0,3}1\b", msg, re.I), msg


def test_gradcheck_fails_when_backward_ignores_broadcast(backend, rng):
    class BadBias(cg.autograd.Function):
        @staticmethod
        def forward(ctx, x, b):
            return x + b

        @staticmethod
        def backward(ctx, g):
            return g, g.sum(dim=0) * 0.0 + g[0]  # wrong: should be g.sum(0)

    x = cg.tensor(rng.standard_normal((3, 2)), requires_grad=True)
    b = cg.tensor(rng.standard_normal(2), requires_grad=True)
    with pytest.raises(cg.GradcheckError):
        cg.gradcheck(
            lambda p, q: (BadBias.apply(p, q) * cg.tensor(np.arange(6.0).reshape(3, 2))).sum(),
            (x, b),
        )


def test_gradcheck_accepts_tolerance_keywords(backend, rng):
    x = cg.tensor(rng.uniform(0.5, 2.0, size=4), requires_grad=True)
    # with a huge tolerance even the 1%-wrong backward passes; default fails
    assert (
        cg.gradcheck(
            lambda t: _SlightlyBadSquare.apply(t).sum(), (x,), eps=1e-6, atol=1.0, rtol=0.5
        )
        is True
    )
    with pytest.raises(cg.GradcheckError):
        cg.gradcheck(
            lambda t: _SlightlyBadSquare.apply(t).sum(), (x,), eps=1e-6, atol=1e-5, rtol=1e-3
        )


# ----------------------------------------------------------------------
# Vector tails and blocking edges of the compiled kernels: forward and
# backward on awkward sizes, C backend against the NumPy reference and
# against float64 NumPy formulas
# ----------------------------------------------------------------------

_TAIL_SIZES = [1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 31, 33, 63, 65, 129, 1001]

_TAIL_UNARY = [
    ("exp", lambda t: t.exp()),
    ("log", lambda t: t.abs().log()),
    ("sqrt", lambda t: t.abs().sqrt()),
    ("abs", lambda t: t.abs()),
    ("sin", lambda t: t.sin()),
    ("cos", lambda t: t.cos()),
    ("tanh", lambda t: t.tanh()),
    ("sigmoid", lambda t: t.sigmoid()),
    ("relu", lambda t: t.relu()),
    ("leaky_relu", lambda t: t.leaky_relu(0.05)),
    ("softplus", lambda t: t.softplus(beta=1.5, threshold=2.0)),
    ("gelu", lambda t: t.gelu()),
    ("gelu_tanh", lambda t: t.gelu(approximate="tanh")),
    ("clamp", lambda t: t.clamp(-0.7, 0.9)),
    ("softmax", lambda t: t.softmax(dim=-1)),
    ("log_softmax", lambda t: t.log_softmax(dim=-1)),
    ("sum", lambda t: t.sum()),
    ("mean", lambda t: t.mean()),
    ("amax", lambda t: t.amax()),
    ("mul_add", lambda t: t * t + t / 3.0 - 1.0),
    ("pow", lambda t: t.abs() ** 1.7),
]


def _run_on(backend_name, fn, v, w_seed, dtype):
    with cg.use_backend(backend_name):
        x = cg.tensor(v.astype(dtype), requires_grad=True)
        y = fn(x)
        w = np.random.default_rng(w_seed).standard_normal(y.shape).astype(dtype)
        y.backward(cg.tensor(w))
        return arr(y), arr(x.grad)


@pytest.mark.parametrize("name, fn", _TAIL_UNARY, ids=[u[0] for u in _TAIL_UNARY])
@pytest.mark.parametrize("dtype", [F32, F64])
def test_kernel_tails_c_matches_numpy_backend(name, fn, dtype):
    rng = np.random.default_rng(99)
    for n in _TAIL_SIZES:
        v = rng.standard_normal(n) * 2.0
        v[np.abs(v) < 1e-3] = 0.5
        yc, gc_ = _run_on("c", fn, v, n, dtype)
        yn, gn = _run_on("numpy", fn, v, n, dtype)
        tol = dict(rtol=1e-12, atol=1e-12) if dtype == F64 else dict(rtol=2e-5, atol=2e-5)
        np.testing.assert_allclose(yc, yn, err_msg=f"{name} forward, n={n}", **tol)
        np.testing.assert_allclose(gc_, gn, err_msg=f"{name} backward, n={n}", **tol)


_MM_SIZES = [
    (1, 1, 1),
    (1, 7, 1),
    (5, 3, 9),
    (17, 33, 9),
    (33, 17, 65),
    (64, 64, 64),
    (65, 1, 3),
    (7, 129, 5),
]


@pytest.mark.parametrize("m, k, n", _MM_SIZES)
@pytest.mark.parametrize("dtype", [F32, F64])
def test_matmul_forward_backward_awkward_sizes(backend, m, k, n, dtype):
    rng = np.random.default_rng(m * 10007 + k * 101 + n)
    av, bv, gv = (
        rng.standard_normal((m, k)),
        rng.standard_normal((k, n)),
        rng.standard_normal((m, n)),
    )
    tol = dict(rtol=1e-11, atol=1e-11) if dtype == F64 else dict(rtol=1e-4, atol=1e-4)
    for ta in (False, True):
        for tb in (False, True):
            # feed transposed views too (A^T B and A B^T paths)
            A = (
                cg.tensor(av.T.copy().astype(dtype), requires_grad=True)
                if ta
                else cg.tensor(av.astype(dtype), requires_grad=True)
            )
            B = (
                cg.tensor(bv.T.copy().astype(dtype), requires_grad=True)
                if tb
                else cg.tensor(bv.astype(dtype), requires_grad=True)
            )
            out = (A.T if ta else A) @ (B.T if tb else B)
            np.testing.assert_allclose(arr(out), av @ bv, err_msg=f"forward ta={ta} tb={tb}", **tol)
            out.backward(cg.tensor(gv.astype(dtype)))
            dA, dB = gv @ bv.T, av.T @ gv
            np.testing.assert_allclose(
                arr(A.grad), dA.T if ta else dA, err_msg=f"dA ta={ta} tb={tb}", **tol
            )
            np.testing.assert_allclose(
                arr(B.grad), dB.T if tb else dB, err_msg=f"dB ta={ta} tb={tb}", **tol
            )


# ----------------------------------------------------------------------
# Random programs: many ops chained with fan-out and broadcasting,
# checked against NumPy finite differences and (if present) PyTorch
# ----------------------------------------------------------------------

_PROG_UNARY = [
    lambda L, a: a.tanh(),
    lambda L, a: a.sigmoid(),
    lambda L, a: a.sin() * 1.3,
    lambda L, a: L.gelu(a),
    lambda L, a: L.softplus(a, beta=1.5),
    lambda L, a: a.softmax(dim=-1),
    lambda L, a: a.log_softmax(dim=0),
    lambda L, a: (a * a + 1.0).sqrt(),
    lambda L, a: (a * a + 1.0).log(),
    lambda L, a: (a * 0.5).exp(),
    lambda L, a: a - a.mean(dim=1, keepdim=True),
    lambda L, a: a * a.amax(dim=0, keepdim=True),
    lambda L, a: a.T.reshape(3, 4),
    lambda L, a: L.cat([a[1:], a[:1]]),
    lambda L, a: a[1:].sum(dim=0) * 0.5 + a,
]

_PROG_BINARY = [
    lambda L, a, b: a + b,
    lambda L, a, b: a - b * 0.5,
    lambda L, a, b: a * b,
    lambda L, a, b: a / (b * b + 1.0),
    lambda L, a, b: (a @ b.T) @ a * 0.3,
    lambda L, a, b: a * b.sum(dim=0) * 0.25,
    lambda L, a, b: a + b.mean(dim=1, keepdim=True),
    lambda L, a, b: L.stack([a, b]).sum(dim=0),
    lambda L, a, b: (a * a + 1.0) ** (b.tanh()),
]


def _make_program(seed, n_steps=10):
    r = np.random.default_rng(seed)
    steps = []
    pool = 3
    for _ in range(n_steps):
        if r.random() < 0.5:
            steps.append(("u", int(r.integers(len(_PROG_UNARY))), (int(r.integers(pool)),)))
        else:
            steps.append(
                (
                    "b",
                    int(r.integers(len(_PROG_BINARY))),
                    (int(r.integers(pool)), int(r.integers(pool))),
                )
            )
        pool += 1
    return steps


def _run_program(L, steps, xs):
    pool = list(xs)
    for kind, k, args in steps:
        f = _PROG_UNARY[k] if kind == "u" else _PROG_BINARY[k]
        pool.append(f(L, *[pool[i] for i in args]))
    # every input and intermediate result feeds the output: lots of fan-out
    out = pool[0]
    for t in pool[1:]:
        out = out + t
    return out


@pytest.mark.parametrize("seed", range(12))
def test_random_programs(backend, seed):
    steps = _make_program(seed)
    rng = np.random.default_rng(1000 + seed)
    values = [rng.standard_normal((3, 4)) * 0.7 for _ in range(3)]
    fn = lambda L, *xs: _run_program(L, steps, xs)  # noqa: E731
    out, grads, W = _cg_forward_backward(fn, values, rng=rng)
    fd = numpy_central_differences(fn, values, W)
    for k, (g, n) in enumerate(zip(grads, fd)):
        np.testing.assert_allclose(
            g, n, rtol=1e-5, atol=1e-6, err_msg=f"program {seed} {steps}: input {k}"
        )
    try:
        import torch
    except ImportError:
        return
    tl = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in values]
    tout = fn(_TorchL(torch), *tl)
    tout.backward(torch.tensor(np.asarray(W, dtype=F64)))
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=1e-10, atol=1e-12)
    for k, (g, t) in enumerate(zip(grads, tl)):
        np.testing.assert_allclose(
            g, t.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=f"program {seed}: input {k}"
        )

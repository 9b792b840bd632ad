"""cg.optim: SGD, Adam, AdamW (API.md section optim).

The expected trajectories come from a NumPy transcription, written here and
independent of cgrad, of the update rules published in torch's documentation
(torch.optim.SGD / Adam / AdamW, amsgrad=False, maximize=False):

SGD      g = grad + wd p
         b = g                                  (first step)
         b = mu b + (1 - dampening) g           (later steps)
         g = g + mu b if nesterov else b        (when mu != 0)
         p = p - lr g
Adam     g = grad + wd p
         m = b1 m + (1 - b1) g ;  v = b2 v + (1 - b2) g^2
         p = p - lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
AdamW    p = p (1 - lr wd), then Adam with wd = 0 in the gradient.

When torch is importable, the same trajectories are also compared with
torch.optim in float64.
"""

import numpy as np
import pytest

import cgrad as cg

nn = cg.nn
optim = cg.optim
F64 = np.float64
STEPS = 5


def arr(t):
    assert t is not None
    return np.array(t.detach().numpy(), dtype=F64)


# ----------------------------------------------------------------- the problem
#
# Two parameters W (3, 4) and b (4,), and a non-quadratic loss, so that every
# step's gradient depends on where the previous steps went:
#   L = sum(C W^2 + D W^3 / 3) + sum(E b^2) + sum(W) sum(b)
#   dL/dW = 2 C W + D W^2 + sum(b)      dL/db = 2 E b + sum(W)

_rng = np.random.default_rng(42)
W0 = _rng.uniform(-1.0, 1.0, (3, 4))
B0 = _rng.uniform(-1.0, 1.0, 4)
C = _rng.uniform(0.5, 1.5, (3, 4))
D = _rng.uniform(-0.5, 0.5, (3, 4))
E = _rng.uniform(0.5, 2.0, 4)


def np_grads(ps):
    W, b = ps
    return [2 * C * W + D * W**2 + b.sum(), 2 * E * b + W.sum()]


def make_params(dtype=cg.float64):
    return [
        nn.Parameter(cg.tensor(W0.astype(dtype), dtype=dtype)),
        nn.Parameter(cg.tensor(B0.astype(dtype), dtype=dtype)),
    ]


def cg_loss(ps):
    W, b = ps
    dt = W.dtype
    c, d, e = (cg.tensor(a.astype(dt), dtype=dt) for a in (C, D, E))
    return (c * W * W + d * W * W * W / 3.0).sum() + (e * b * b).sum() + W.sum() * b.sum()


def run_cg(opt, ps, steps=STEPS):
    traj = []
    for _ in range(steps):
        opt.zero_grad()
        loss = cg_loss(ps)
        loss.backward()
        opt.step()
        traj.append([arr(p) for p in ps])
    return traj


# ----------------------------------------------------------------- NumPy references


def ref_sgd(ps, steps, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, lrs=None):
    ps = [np.array(p, dtype=F64) for p in ps]
    lrs = lrs or [lr] * len(ps)
    bufs = [None] * len(ps)
    traj = []
    for _ in range(steps):
        grads = np_grads(ps)
        for i in range(len(ps)):
            g = grads[i]
            if weight_decay != 0:
                g = g + weight_decay * ps[i]
            if momentum != 0:
                if bufs[i] is None:
                    bufs[i] = g.copy()
                else:
                    bufs[i] = momentum * bufs[i] + (1 - dampening) * g
                g = g + momentum * bufs[i] if nesterov else bufs[i]
            ps[i] = ps[i] - lrs[i] * g
        traj.append([p.copy() for p in ps])
    return traj


def ref_adam(ps, steps, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, decoupled=False):
    b1, b2 = betas
    ps = [np.array(p, dtype=F64) for p in ps]
    m = [np.zeros_like(p) for p in ps]
    v = [np.zeros_like(p) for p in ps]
    traj = []
    for t in range(1, steps + 1):
        grads = np_grads(ps)
        for i in range(len(ps)):
            g = grads[i]
            if decoupled:
                ps[i] = ps[i] * (1 - lr * weight_decay)
            elif weight_decay != 0:
                g = g + weight_decay * ps[i]
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            m_hat = m[i] / (1 - b1**t)
            v_hat = v[i] / (1 - b2**t)
            ps[i] = ps[i] - lr * m_hat / (np.sqrt(v_hat) + eps)
        traj.append([p.copy() for p in ps])
    return traj


def test_reference_is_not_trivial():
    # the reference must actually move the parameters, differently per variant
    a = ref_sgd([W0, B0], 5, lr=0.1)
    b = ref_sgd([W0, B0], 5, lr=0.1, momentum=0.9)
    c = ref_sgd([W0, B0], 5, lr=0.1, momentum=0.9, nesterov=True)
    d = ref_adam([W0, B0], 5, lr=0.05)
    e = ref_adam([W0, B0], 5, lr=0.05, weight_decay=0.1, decoupled=True)
    f = ref_adam([W0, B0], 5, lr=0.05, weight_decay=0.1)
    finals = [x[-1][0] for x in (a, b, c, d, e, f)]
    for i in range(len(finals)):
        assert np.abs(finals[i] - W0).max() > 1e-2
        for j in range(i):
            assert np.abs(finals[i] - finals[j]).max() > 1e-4
    # one hand-computed SGD step: p1 = p0 - lr * grad(p0)
    g = np_grads([W0, B0])
    np.testing.assert_allclose(a[0][0], W0 - 0.1 * g[0], rtol=1e-15)
    # Adam's first step moves each coordinate by lr * g/(|g| + eps) ~ lr * sign(g)
    np.testing.assert_allclose(d[0][1], B0 - 0.05 * g[1] / (np.abs(g[1]) + 1e-8), rtol=1e-12)


# ----------------------------------------------------------------- trajectories

CASES = {
    "sgd": (lambda ps: optim.SGD(ps, lr=0.1), lambda: ref_sgd([W0, B0], STEPS, lr=0.1)),
    "sgd_momentum": (
        lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9),
        lambda: ref_sgd([W0, B0], STEPS, lr=0.05, momentum=0.9),
    ),
    "sgd_nesterov": (
        lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True),
        lambda: ref_sgd([W0, B0], STEPS, lr=0.05, momentum=0.9, nesterov=True),
    ),
    "sgd_weight_decay": (
        lambda ps: optim.SGD(ps, lr=0.1, weight_decay=0.3),
        lambda: ref_sgd([W0, B0], STEPS, lr=0.1, weight_decay=0.3),
    ),
    "sgd_momentum_weight_decay": (
        lambda ps: optim.SGD(ps, lr=0.05, momentum=0.8, weight_decay=0.1),
        lambda: ref_sgd([W0, B0], STEPS, lr=0.05, momentum=0.8, weight_decay=0.1),
    ),
    "sgd_nesterov_weight_decay": (
        lambda ps: optim.SGD(ps, lr=0.05, momentum=0.7, weight_decay=0.2, nesterov=True),
        lambda: ref_sgd([W0, B0], STEPS, lr=0.05, momentum=0.7, weight_decay=0.2, nesterov=True),
    ),
    "adam": (lambda ps: optim.Adam(ps, lr=0.05), lambda: ref_adam([W0, B0], STEPS, lr=0.05)),
    "adam_defaults": (lambda ps: optim.Adam(ps), lambda: ref_adam([W0, B0], STEPS)),
    "adam_betas_eps": (
        lambda ps: optim.Adam(ps, lr=0.02, betas=(0.8, 0.99), eps=1e-3),
        lambda: ref_adam([W0, B0], STEPS, lr=0.02, betas=(0.8, 0.99), eps=1e-3),
    ),
    "adam_weight_decay": (
        lambda ps: optim.Adam(ps, lr=0.05, weight_decay=0.5),
        lambda: ref_adam([W0, B0], STEPS, lr=0.05, weight_decay=0.5),
    ),
    "adamw": (
        lambda ps: optim.AdamW(ps, lr=0.05, weight_decay=0.5),
        lambda: ref_adam([W0, B0], STEPS, lr=0.05, weight_decay=0.5, decoupled=True),
    ),
    "adamw_betas": (
        lambda ps: optim.AdamW(ps, lr=0.03, betas=(0.5, 0.9), eps=1e-6, weight_decay=0.2),
        lambda: ref_adam(
            [W0, B0], STEPS, lr=0.03, betas=(0.5, 0.9), eps=1e-6, weight_decay=0.2, decoupled=True
        ),
    ),
    # torch's AdamW defaults: lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2
    "adamw_defaults": (
        lambda ps: optim.AdamW(ps),
        lambda: ref_adam([W0, B0], STEPS, weight_decay=1e-2, decoupled=True),
    ),
}


def _check_traj(got, want, rtol, atol):
    assert len(got) == len(want)
    for step, (g, w) in enumerate(zip(got, want), start=1):
        for k, (gp, wp) in enumerate(zip(g, w)):
            np.testing.assert_allclose(
                gp, wp, rtol=rtol, atol=atol, err_msg=f"step {step}, param {k}"
            )


@pytest.mark.parametrize("case", list(CASES))
def test_trajectory_float64_matches_numpy_reference(case, backend):
    make, ref = CASES[case]
    ps = make_params()
    _check_traj(run_cg(make(ps), ps), ref(), rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize(
    "case",
    ["sgd", "sgd_nesterov", "sgd_momentum_weight_decay", "adam", "adam_weight_decay", "adamw"],
)
def test_trajectory_float32(case, backend):
    make, ref = CASES[case]
    ps = make_params(cg.float32)
    got = run_cg(make(ps), ps)
    assert all(p.dtype == np.float32 for p in ps)
    _check_traj(got, ref(), rtol=2e-4, atol=2e-5)


def test_sgd_dampening_if_supported(backend):
    ps = make_params()
    try:
        opt = optim.SGD(ps, lr=0.05, momentum=0.9, dampening=0.5)
    except TypeError:
        pytest.skip("SGD has no dampening argument (not in API.md)")
    _check_traj(
        run_cg(opt, ps),
        ref_sgd([W0, B0], STEPS, lr=0.05, momentum=0.9, dampening=0.5),
        rtol=1e-11,
        atol=1e-13,
    )


def test_sgd_lr_positional(backend):
    ps = make_params()
    _check_traj(
        run_cg(optim.SGD(ps, 0.1), ps), ref_sgd([W0, B0], STEPS, lr=0.1), rtol=1e-11, atol=1e-13
    )


def test_backends_agree_on_trajectories():
    for case in ("sgd_nesterov_weight_decay", "adam_weight_decay", "adamw"):
        make, _ = CASES[case]
        out = []
        for b in ("c", "numpy"):
            with cg.use_backend(b):
                ps = make_params()
                out.append(run_cg(make(ps), ps))
        _check_traj(out[0], out[1], rtol=1e-12, atol=1e-14)


def _torch_case(torch, case, tps):
    o = torch.optim
    return {
        "sgd": lambda: o.SGD(tps, lr=0.1),
        "sgd_momentum": lambda: o.SGD(tps, lr=0.05, momentum=0.9),
        "sgd_nesterov": lambda: o.SGD(tps, lr=0.05, momentum=0.9, nesterov=True),
        "sgd_weight_decay": lambda: o.SGD(tps, lr=0.1, weight_decay=0.3),
        "sgd_momentum_weight_decay": lambda: o.SGD(tps, lr=0.05, momentum=0.8, weight_decay=0.1),
        "sgd_nesterov_weight_decay": lambda: o.SGD(
            tps, lr=0.05, momentum=0.7, weight_decay=0.2, nesterov=True
        ),
        "adam": lambda: o.Adam(tps, lr=0.05),
        "adam_defaults": lambda: o.Adam(tps),
        "adam_betas_eps": lambda: o.Adam(tps, lr=0.02, betas=(0.8, 0.99), eps=1e-3),
        "adam_weight_decay": lambda: o.Adam(tps, lr=0.05, weight_decay=0.5),
        "adamw": lambda: o.AdamW(tps, lr=0.05, weight_decay=0.5),
        "adamw_betas": lambda: o.AdamW(tps, lr=0.03, betas=(0.5, 0.9), eps=1e-6, weight_decay=0.2),
        "adamw_defaults": lambda: o.AdamW(tps),
    }[case]()


@pytest.mark.parametrize("case", list(CASES))
def test_trajectory_matches_torch(case, backend):
    torch = pytest.importorskip("torch")
    tps = [torch.tensor(W0, requires_grad=True), torch.tensor(B0, requires_grad=True)]
    topt = _torch_case(torch, case, tps)
    C_, D_, E_ = (torch.tensor(a) for a in (C, D, E))
    want = []
    for _ in range(STEPS):
        topt.zero_grad()
        W, b = tps
        loss = (C_ * W * W + D_ * W * W * W / 3.0).sum() + (E_ * b * b).sum() + W.sum() * b.sum()
        loss.backward()
        topt.step()
        want.append([p.detach().numpy().copy() for p in tps])
    # the NumPy reference and torch must agree with each other, too
    _check_traj(CASES[case][1](), want, rtol=1e-11, atol=1e-13)
    ps = make_params()
    _check_traj(run_cg(CASES[case][0](ps), ps), want, rtol=1e-11, atol=1e-13)


# ----------------------------------------------------------------- zero_grad, step details


@pytest.mark.parametrize(
    "make",
    [lambda ps: optim.SGD(ps, lr=0.1), lambda ps: optim.Adam(ps), lambda ps: optim.AdamW(ps)],
)
def test_optimizer_zero_grad(make, backend):
    ps = make_params()
    opt = make(ps)
    cg_loss(ps).backward()
    assert all(p.grad is not None for p in ps)
    opt.zero_grad()  # default set_to_none=True
    assert all(p.grad is None for p in ps)
    cg_loss(ps).backward()
    opt.zero_grad(set_to_none=False)
    for p in ps:
        assert p.grad is not None
        np.testing.assert_array_equal(arr(p.grad), np.zeros(p.shape))
    cg_loss(ps).backward()  # starts from zero, not accumulated
    for p, g in zip(ps, np_grads([W0, B0])):
        np.testing.assert_allclose(arr(p.grad), g, rtol=1e-12)
    opt.zero_grad(set_to_none=True)
    assert all(p.grad is None for p in ps)


def test_step_updates_in_place_without_recording(backend):
    ps = make_params()
    views = [p.numpy() for p in ps]  # share memory with the parameters
    ids = [id(p) for p in ps]
    opt = optim.Adam(ps, lr=0.1)
    cg_loss(ps).backward()
    opt.step()
    assert [id(p) for p in ps] == ids
    ref = ref_adam([W0, B0], 1, lr=0.1)[0]
    for p, v, r in zip(ps, views, ref):
        np.testing.assert_allclose(v, r, rtol=1e-12)  # the old view sees the update
        assert p.is_leaf and p.grad_fn is None and p.requires_grad


@pytest.mark.parametrize("kind", ["sgd_momentum", "adam", "adamw"])
def test_step_skips_parameters_without_grad(kind, backend):
    W = nn.Parameter(cg.tensor(W0, dtype=cg.float64))
    frozen = nn.Parameter(cg.tensor(B0, dtype=cg.float64))
    opt = {
        "sgd_momentum": lambda: optim.SGD([W, frozen], lr=0.1, momentum=0.9, weight_decay=0.1),
        "adam": lambda: optim.Adam([W, frozen], lr=0.1, weight_decay=0.1),
        "adamw": lambda: optim.AdamW([W, frozen], lr=0.1, weight_decay=0.1),
    }[kind]()
    for _ in range(3):
        opt.zero_grad()
        (W * W).sum().backward()  # frozen gets no gradient
        assert frozen.grad is None
        opt.step()
    np.testing.assert_array_equal(arr(frozen), B0)  # not even weight decay touches it
    assert not np.allclose(arr(W), W0)


def test_params_from_generator(backend):
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()
    opt = optim.SGD(model.parameters(), lr=0.1)  # a generator, consumed once
    x = cg.tensor(np.random.default_rng(0).standard_normal((5, 3)), dtype=cg.float64)
    for _ in range(2):
        before = [arr(p) for p in model.parameters()]
        opt.zero_grad()
        (model(x) ** 2).sum().backward()
        grads = [arr(p.grad) for p in model.parameters()]
        opt.step()
        for p, b, g in zip(model.parameters(), before, grads):
            np.testing.assert_allclose(arr(p), b - 0.1 * g, rtol=1e-12, atol=1e-15)
            assert np.abs(g).max() > 0


def test_params_from_list_and_tuple(backend):
    for container in (list, tuple):
        ps = make_params()
        _check_traj(
            run_cg(optim.Adam(container(ps), lr=0.05), ps),
            ref_adam([W0, B0], STEPS, lr=0.05),
            rtol=1e-11,
            atol=1e-13,
        )


def test_empty_parameter_list_raises():
    with pytest.raises(ValueError):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError):
        optim.Adam([])


# ----------------------------------------------------------------- param groups (torch semantics)


def test_param_groups_per_group_lr(backend):
    ps = make_params()
    opt = optim.SGD([{"params": [ps[0]], "lr": 0.2}, {"params": [ps[1]]}], lr=0.05, momentum=0.9)
    assert len(opt.param_groups) == 2
    assert opt.param_groups[0]["lr"] == 0.2 and opt.param_groups[1]["lr"] == 0.05
    _check_traj(
        run_cg(opt, ps),
        ref_sgd([W0, B0], STEPS, lr=None, momentum=0.9, lrs=[0.2, 0.05]),
        rtol=1e-11,
        atol=1e-13,
    )


def test_changing_group_lr_affects_next_step(backend):
    ps = make_params()
    opt = optim.SGD(ps, lr=0.1)
    run_cg(opt, ps, steps=1)
    for g in opt.param_groups:  # the usual lr-schedule idiom
        g["lr"] = 0.01
    after1 = [arr(p) for p in ps]
    grads = np_grads(after1)
    run_cg(opt, ps, steps=1)
    for p, a, g in zip(ps, after1, grads):
        np.testing.assert_allclose(arr(p), a - 0.01 * g, rtol=1e-12)


# ----------------------------------------------------------------- state_dict round trip


@pytest.mark.parametrize(
    "case", ["sgd_momentum", "sgd_nesterov_weight_decay", "adam", "adam_weight_decay", "adamw"]
)
def test_optimizer_state_dict_round_trip_continues_identically(case, backend):
    make, _ = CASES[case]
    # uninterrupted: 5 steps
    ps_ref = make_params()
    full = run_cg(make(ps_ref), ps_ref, steps=STEPS)
    # interrupted after 2 steps; a fresh optimizer over fresh parameters resumes
    ps_a = make_params()
    opt_a = make(ps_a)
    run_cg(opt_a, ps_a, steps=2)
    sd = opt_a.state_dict()
    ps_b = [nn.Parameter(cg.tensor(arr(p), dtype=cg.float64)) for p in ps_a]
    opt_b = make(ps_b)
    opt_b.load_state_dict(sd)
    # step both, interleaved: the loaded copy must not share buffers with opt_a
    rest_a, rest_b = [], []
    for _ in range(STEPS - 2):
        rest_a += run_cg(opt_a, ps_a, steps=1)
        rest_b += run_cg(opt_b, ps_b, steps=1)
    for got in (rest_a, rest_b):
        for step, (g, w) in enumerate(zip(got, full[2:]), start=3):
            for gp, wp in zip(g, w):
                np.testing.assert_array_equal(gp, wp, err_msg=f"{case} step {step}")


@pytest.mark.parametrize("case", ["sgd_momentum", "adam"])
def test_fresh_optimizer_without_state_differs(case, backend):
    # sanity for the test above: dropping the state really changes the trajectory
    make, _ = CASES[case]
    ps_ref = make_params()
    full = run_cg(make(ps_ref), ps_ref, steps=STEPS)
    ps = make_params()
    run_cg(make(ps), ps, steps=2)
    fresh = run_cg(make(ps), ps, steps=STEPS - 2)
    assert not np.allclose(fresh[-1][0], full[-1][0], rtol=1e-8, atol=0)


def test_optimizer_state_dict_records_hyperparameters():
    ps = make_params()
    opt = optim.Adam(ps, lr=0.05, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)
    sd = opt.state_dict()
    assert isinstance(sd, dict)
    ps2 = make_params()
    opt2 = optim.Adam(ps2, lr=0.5)
    opt2.load_state_dict(sd)
    assert opt2.param_groups[0]["lr"] == 0.05  # torch restores the group hyperparameters
    _check_traj(
        run_cg(opt2, ps2),
        ref_adam([W0, B0], STEPS, lr=0.05, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
        rtol=1e-11,
        atol=1e-13,
    )


def test_sgd_nesterov_requires_momentum():
    # torch: "Nesterov momentum requires a momentum and zero dampening"
    with pytest.raises(ValueError):
        optim.SGD(make_params(), lr=0.1, nesterov=True)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind", ["sgd", "adam", "adamw"])
def test_step_on_large_odd_parameter(kind, dtype, backend):
    # 10007 elements: not a multiple of any SIMD width, split across threads
    rng = np.random.default_rng(21)
    p0 = rng.standard_normal(10007)
    target = rng.standard_normal(10007)
    dt = getattr(cg, dtype)
    p = nn.Parameter(cg.tensor(p0.astype(dtype), dtype=dt))
    opt = {
        "sgd": lambda: optim.SGD([p], lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
        "adam": lambda: optim.Adam([p], lr=0.01, weight_decay=0.01),
        "adamw": lambda: optim.AdamW([p], lr=0.01, weight_decay=0.1),
    }[kind]()
    tgt = cg.tensor(target.astype(dtype), dtype=dt)
    q = p0.astype(dtype).astype(F64)
    buf = m = v = None
    for step in range(1, 4):
        opt.zero_grad()
        ((p - tgt) ** 2).sum().backward()
        opt.step()
        g = 2 * (q - target.astype(dtype).astype(F64))
        if kind == "sgd":
            g = g + 0.01 * q
            buf = g if buf is None else 0.9 * buf + g
            q = q - 0.1 * (g + 0.9 * buf)
        else:
            if kind == "adamw":
                q = q * (1 - 0.01 * 0.1)
            else:
                g = g + 0.01 * q
            m = (1 - 0.9) * g if m is None else 0.9 * m + 0.1 * g
            v = (1 - 0.999) * g * g if v is None else 0.999 * v + 0.001 * g * g
            q = q - 0.01 * (m / (1 - 0.9**step)) / (np.sqrt(v / (1 - 0.999**step)) + 1e-8)
        tol = dict(rtol=1e-4, atol=1e-5) if dtype == "float32" else dict(rtol=1e-11, atol=1e-13)
        np.testing.assert_allclose(arr(p), q, err_msg=f"step {step}", **tol)

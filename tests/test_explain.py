"""cg.explain: every tape entry with its upstream gradient, local derivative,
what it sends to each input, fan-out sums and broadcast reductions."""

import numpy as np
import pytest

import cgrad as cg
from cgrad.explain import FORMULAS, Trace


def skip_net():
    w = {k: cg.tensor(0.5, dtype=cg.float64, requires_grad=True) for k in ("w0", "w1", "w2", "ws")}
    for k, t in w.items():
        t.name = k
    h0 = (w["w0"] * 1.0).relu()
    h0.name = "h0"
    h1 = (w["w1"] * h0).relu()
    y_hat = w["ws"] * h0 + w["w2"] * h1
    return w, (-3.0 - y_hat).abs()


def test_skip_connection_trace_shows_the_fanout_sum_and_matches_grad():
    w, loss = skip_net()
    trace = cg.explain(loss)
    assert isinstance(trace, Trace)
    h0_step = next(s for s in trace.steps if s.output == "h0")
    assert h0_step.op == "relu" and h0_step.fanout
    # by hand (docs/seeds.md): dL/dh0 = ws (skip path) + w2 * relu'(z1) * w1 (main path)
    assert sorted(float(g) for _, g in h0_step.contributions) == pytest.approx([0.25, 0.5])
    assert float(h0_step.upstream) == pytest.approx(0.75)
    expected = {"w0": 0.75, "w1": 0.25, "w2": 0.25, "ws": 0.5}
    for k, t in w.items():
        assert t.grad.item() == pytest.approx(expected[k])
        assert float(trace.leaf(k).grad) == pytest.approx(t.grad.item())
    text = str(trace)
    assert "fan-out: sum of 2 uses" in text
    assert FORMULAS["relu"] in text
    assert "+ 0.5" in text and "+ 0.25" in text


def test_steps_run_in_reverse_forward_order_with_shapes_and_sent_grads():
    x = cg.tensor([[1.0, -2.0, 3.0]], dtype=cg.float64, requires_grad=True)
    x.name = "x"
    y = (x * 2.0).relu().sum()
    trace = cg.explain(y)
    assert [s.op for s in trace.steps] == ["sum", "relu", "mul"]
    assert [s.index for s in trace.steps] == [1, 2, 3]
    relu = trace.step("relu")
    assert relu.out_shape == (1, 3) and relu.inputs[0][1] == (1, 3)
    np.testing.assert_array_equal(relu.upstream, [[1, 1, 1]])
    lab, local = relu.local[0]
    np.testing.assert_array_equal(local, [[1, 0, 1]])  # 1[2x > 0]
    np.testing.assert_array_equal(relu.sent[0].grad, [[1, 0, 1]])
    mul = trace.step("mul")
    assert mul.sent[0].input == "x"
    np.testing.assert_array_equal(mul.sent[0].grad, [[2, 0, 2]])
    np.testing.assert_array_equal(x.grad.numpy(), [[2, 0, 2]])


def test_broadcast_reduction_is_reported_with_axes():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3, 4))
    B = rng.normal(size=(1, 4))
    x = cg.tensor(X, dtype=cg.float64, requires_grad=True)
    b = cg.tensor(B, dtype=cg.float64, requires_grad=True)
    x.name, b.name = "x", "b"
    z = x + b
    loss = (z * z).sum()
    trace = cg.explain(loss)
    add = trace.step("add")
    sb = next(s for s in add.sent if s.input == "b")
    assert sb.raw_shape == (3, 4) and sb.shape == (1, 4) and sb.reduced_axes == (0,)
    np.testing.assert_allclose(sb.grad, (2 * (X + B)).sum(axis=0, keepdims=True), rtol=1e-12)
    sx = next(s for s in add.sent if s.input == "x")
    assert sx.reduced_axes == ()
    assert "broadcast reduced: summed axes (0,) of (3, 4) -> (1, 4)" in trace.to_markdown()
    assert "broadcast reduced" in str(trace)
    # a lower-rank operand: the leading axis is summed away
    c = cg.tensor(B[0], dtype=cg.float64, requires_grad=True)
    tr2 = cg.explain((x * c).sum())
    sc = [s for s in tr2.step("mul").sent if s.shape == (4,)][0]
    assert sc.reduced_axes == (0,)
    np.testing.assert_allclose(sc.grad, X.sum(axis=0), rtol=1e-12)


def test_local_derivative_values_are_the_closed_forms():
    z = np.array([-1.0, 0.5, 2.0])
    t = cg.tensor(z, dtype=cg.float64, requires_grad=True)
    tr = cg.explain(t.sigmoid().sum())
    s = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(tr.step("sigmoid").local[0][1], s * (1 - s), rtol=1e-12)
    assert tr.step("sigmoid").formula == FORMULAS["sigmoid"]
    t2 = cg.tensor(z, dtype=cg.float64, requires_grad=True)
    tr = cg.explain(t2.tanh().sum())
    np.testing.assert_allclose(tr.step("tanh").local[0][1], 1 / np.cosh(z) ** 2, rtol=1e-12)


def test_fused_linear_and_cross_entropy_match_a_plain_backward():
    cg.manual_seed(0)
    model = cg.nn.Sequential(cg.nn.Linear(4, 5), cg.nn.ReLU(), cg.nn.Linear(5, 3))
    x = cg.randn(6, 4)
    y = cg.tensor([0, 1, 2, 0, 1, 2], dtype=cg.int64)
    loss = cg.nn.functional.cross_entropy(model(x), y)
    trace = cg.explain(loss, names=model)
    got = {lf.name: lf.grad.copy() for lf in trace.leaves}
    ref = {n: p.grad.numpy().copy() for n, p in model.named_parameters()}
    model.zero_grad()
    cg.nn.functional.cross_entropy(model(x), y).backward()
    for n, p in model.named_parameters():
        np.testing.assert_allclose(got[n], p.grad.numpy(), rtol=1e-6)
        np.testing.assert_allclose(ref[n], p.grad.numpy(), rtol=1e-6)
    assert [s.op for s in trace.steps] == ["cross_entropy", "linear", "linear"]
    # softmax - onehot, divided by N = 6 in the sent gradient
    ce = trace.step("cross_entropy")
    logits = model(x).numpy().astype(np.float64)
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    onehot = np.eye(3)[[0, 1, 2, 0, 1, 2]]
    np.testing.assert_allclose(ce.sent[0].grad, (p - onehot) / 6, rtol=1e-4, atol=1e-6)
    assert "bias" in trace.to_markdown()


def test_markdown_and_text_tables():
    w, loss = skip_net()
    trace = cg.explain(loss)
    md = trace.to_markdown()
    lines = md.splitlines()
    assert lines[0].startswith("| # | op |") and lines[1].startswith("|---|")
    assert sum(1 for line in lines if line.startswith("| ")) == 1 + len(trace.steps)
    assert "fan-out: sum of 2 uses" in md
    text = str(trace)
    assert text.splitlines()[1].startswith("+-")
    assert "Leaves (accumulated into .grad):" in text


def test_explain_frees_the_graph_and_requires_grad():
    x = cg.tensor([1.0], requires_grad=True)
    y = (x * x).sum()
    cg.explain(y)
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()
    with pytest.raises(RuntimeError, match="does not require grad"):
        cg.explain(cg.tensor([1.0]).sum())


def test_every_op_has_a_formula():
    import cgrad.ops as ops
    import cgrad.ops_nn as ops_nn

    names = {
        c.name
        for m in (ops, ops_nn)
        for c in vars(m).values()
        if isinstance(c, type) and issubclass(c, ops.Op) and c.name not in ("op",)
    }
    missing = names - set(FORMULAS)
    assert not missing, missing

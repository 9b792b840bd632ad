"""The examples run and print the correct numbers.

Every expected number here comes from docs/seeds.md (derived by hand and
checked against PyTorch and finite differences) or is recomputed here in plain
NumPy from the problem's definition; none is copied from a script's output.
Each seed script is run in-process (its main() returns its numbers); the
digits demo runs as a real subprocess, as `make demo` does.
"""

import math
import os
import runpy
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEEDS = os.path.join(ROOT, "examples", "seeds")
CLOSE = dict(rtol=1e-7, atol=1e-9)


def run_example(name, capsys, **kw):
    g = runpy.run_path(os.path.join(SEEDS, name), run_name="cgrad_example")
    out = g["main"](**kw)
    text = capsys.readouterr().out
    assert "gradcheck: False" not in text
    assert "Where hand derivations go wrong" in text
    return out, text


def test_every_worked_problem_has_a_script():
    names = sorted(f for f in os.listdir(SEEDS) if f.endswith(".py"))
    assert len(names) == 9, names


def test_seed000_skip_connection(capsys):
    out, text = run_example("seed000_skip_connection.py", capsys)
    f = out["forward"]
    assert (f["z0"], f["h0"], f["z1"], f["h1"]) == (0.5, 0.5, 0.25, 0.25)
    assert f["y_hat"] == pytest.approx(0.375) and f["L"] == pytest.approx(3.375)
    g = out["grads"]
    assert [g[k] for k in ("w0", "w1", "w2", "ws")] == pytest.approx([0.75, 0.25, 0.25, 0.5])
    assert [out["new"][k] for k in ("w0", "w1", "w2", "ws")] == pytest.approx(
        [-0.25, 0.25, 0.25, 0.0]
    )
    assert out["new_loss"] == pytest.approx(3.0)
    # h0 feeds the skip path (ws = 0.5) and the main path (w2 * relu'(z1) * w1 = 0.25)
    assert sorted(out["fanout"]) == pytest.approx([0.25, 0.5])
    assert out["gradcheck"] is True
    assert "fan-out: sum of 2 uses" in text


def test_seed001_pwx_l2(capsys):
    out, _ = run_example("seed001_pwx_l2.py", capsys)
    W = np.array([[0.3, 0.5], [-0.2, 0.4]])
    X = np.array([[0.0, 2.0], [3.0, 1.0]])
    Y = np.array([[0.5, 1.0], [1.0, -1.5]])
    np.testing.assert_allclose(out["P"], [[1.5, 1.1], [1.2, 0.0]], **CLOSE)
    assert out["L"] == pytest.approx(3.3)
    np.testing.assert_allclose(out["grad"], [[0.4, 6.2], [6.0, 4.2]], **CLOSE)
    np.testing.assert_allclose(out["W_new"], [[0.26, -0.12], [-0.8, -0.02]], **CLOSE)
    Wn = np.array([[0.26, -0.12], [-0.8, -0.02]])
    assert out["L_new"] == pytest.approx(((Y - Wn @ X) ** 2).sum()) == pytest.approx(2.2376)
    assert ((Y - W @ X) ** 2).sum() == pytest.approx(out["L"])


def test_seed001_sigmoid_chain_vanishing_and_exploding(capsys):
    out, _ = run_example("seed001_sigmoid_chain.py", capsys)
    # docs/seeds.md order is (w3, w2, w1); the script returns (w1, w2, w3)
    assert out["ce_y1"]["grads"] == pytest.approx([0.00136364, -0.04271133, -0.19722521], abs=1e-8)
    assert out["ce_y1"]["y_hat"] == pytest.approx(0.5934957, abs=1e-7)
    assert out["mse_y1"]["grads"] == pytest.approx([0.00417015, -0.13061534, -0.60313354], abs=1e-8)
    assert out["mse_y128"]["grads"] == pytest.approx([0.856228, -26.818351, -123.837271], abs=1e-6)
    assert out["ratio"] == pytest.approx([205.32] * 3, abs=0.01)
    assert out["mse_y1"]["verdict"] == "vanishing"
    assert out["ce_y1"]["verdict"] == "vanishing"
    assert out["mse_y128"]["verdict"] == "exploding"


def test_seed002_linear_relu_mse_tanh_bce(capsys):
    out, _ = run_example("seed002_linear_relu_mse.py", capsys)
    a = out["1.2"]
    np.testing.assert_allclose(a["z1"], [1.6, -0.8, 1.0], **CLOSE)
    np.testing.assert_allclose(a["z2"], [8, 0, 5], **CLOSE)
    np.testing.assert_allclose(a["y_hat"], [2.8, -3.2], **CLOSE)
    assert a["loss"] == pytest.approx(0.68)
    np.testing.assert_allclose(a["dy_hat"], [1.6, -0.4], **CLOSE)
    np.testing.assert_allclose(a["grads"]["W2"], [[12.8, 0, 8], [-3.2, 0, -2]], **CLOSE)
    np.testing.assert_allclose(a["grads"]["b2"], [1.6, -0.4], **CLOSE)
    np.testing.assert_allclose(a["grads"]["W1"], [[1.6, -3.2], [0, 0], [2, -4]], **CLOSE)
    np.testing.assert_allclose(a["grads"]["b1"], [1.6, 0, 2.0], **CLOSE)
    W2 = np.array([[0.1, -0.2, 0.3], [-0.4, 0.5, 0.2]])
    np.testing.assert_allclose(
        a["new"]["W2"], W2 - 0.1 * np.array([[12.8, 0, 8], [-3.2, 0, -2]]), **CLOSE
    )
    b = out["1.3.A"]
    np.testing.assert_allclose(b["y_hat"], [0.721808964551, 0.175322252764], rtol=1e-10)
    assert b["loss"] == pytest.approx(0.108128144519, rel=1e-10)
    np.testing.assert_allclose(b["dz3"], [-0.111721955620, 0.050697711577], rtol=1e-9)
    c = out["1.3.B"]
    assert c["loss"] == pytest.approx(0.259378672751, rel=1e-10)
    np.testing.assert_allclose(c["dy_hat"], [-0.692704059600, 0.606297431543], rtol=1e-9)
    yh = np.array([0.721808964551, 0.175322252764])
    np.testing.assert_allclose(c["dz3"], (yh - [1, 0]) / 2, rtol=1e-9)
    np.testing.assert_allclose(out["J"], W2, **CLOSE)  # dz3/dz2 is W2, not W2^T


@pytest.mark.parametrize(
    "point,expected",
    [((2.0, -1.0, 0.5), (-1.5, -6, 9, 16.5, -24, -12)), ((1.0, 2.0, 3.0), (5, 10, 50, 90, 20, 20))],
)
def test_seed002_fanout_graph(capsys, tmp_path, point, expected):
    out, text = run_example("seed002_fanout_graph.py", capsys, out_dir=str(tmp_path))
    r = out["p1"] if point[0] == 2.0 else out["p2"]
    x, y, z = point
    a = x * y + z
    assert (r["a"], r["b"], r["w"]) == pytest.approx(expected[:3])
    assert r["grad"] == pytest.approx(expected[3:])
    assert r["grad"] == pytest.approx((2 * a * a + 4 * x * a * y, 4 * x * x * a, 4 * x * a))
    assert "x has 3 outgoing edges" in text
    assert "fan-out: sum of 3 uses" in text


def test_seed002_derivative_curves(capsys, tmp_path):
    pytest.importorskip("matplotlib")  # the examples extra draws the PNG
    out, _ = run_example("seed002_derivative_curves.py", capsys, out_dir=str(tmp_path))
    pts = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
    at = out["at_points"]
    np.testing.assert_array_equal(at["ReLU"], [0, 0, 0, 1, 1])
    np.testing.assert_allclose(at["LeakyReLU(0.01)"], [0.01, 0.01, 0.01, 1, 1], rtol=1e-12)
    np.testing.assert_allclose(at["Softplus(beta=1)"], 1 / (1 + np.exp(-pts)), rtol=1e-12)
    np.testing.assert_allclose(
        at["GELU"], [-0.0852318, 0.1325049, 0.5, 0.8674951, 1.0852318], atol=1e-7
    )
    assert all(v < 1e-9 for v in out["max_diff"].values()), out["max_diff"]
    with open(out["png"], "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert os.path.getsize(out["png"]) > 10_000


@pytest.mark.parametrize("x", [2.0, -1.0])
def test_seed003_thirteen_params(capsys, x):
    out, _ = run_example("seed003_thirteen_params.py", capsys)
    r = out[f"x={x:g}"]
    order = [
        "ph0",
        "ph1",
        "ph2",
        "ps01",
        "ps11",
        "ps21",
        "ps02",
        "ps12",
        "ps22",
        "th01",
        "th11",
        "th02",
        "th12",
    ]
    table = {
        2.0: (4.55, [1, 2.45, 0.45, 2, 3, 0, -1, -1.5, 0, 2.5, 5, 0, 0]),
        -1.0: (2.6, [1, 1.25, 0, 2, 0, 3, 0, 0, 0, 0, 0, 1.4, -1.4]),
    }
    y, grads = table[x]
    assert r["y"] == pytest.approx(y)
    assert [r["grads"][k] for k in order] == pytest.approx(grads, abs=1e-12)


def test_seed003_sin_exp_cos_chain(capsys):
    out, _ = run_example("seed003_sin_exp_cos.py", capsys)
    s = out["scalar"]
    assert s["values"]["f0"] == pytest.approx(1.23)
    assert s["values"]["f3"] == pytest.approx(2.3722641, abs=1e-7)
    assert s["loss"] == pytest.approx(0.1385806, abs=1e-7)
    assert s["d_nodes"] == pytest.approx(
        [2.2809006, 6.8241866, -17.0604665, -3.3661155, -1.6830577, 2.2335847, 0.7445282], abs=1e-6
    )
    assert s["d_params"] == pytest.approx(
        [
            2.2809006,
            5.2460714,
            -17.0604665,
            -16.0792987,
            -1.6830577,
            -8.5302333,
            0.7445282,
            0.4894688,
        ],
        abs=1e-6,
    )
    assert s["loss_after"] < s["loss"]
    v = out["vector"]
    assert v["shapes"] == [(3, 3), (3, 4), (4, 4), (4, 2), (2, 2), (2, 1), (1, 1)]
    # independent oracle: dl/df0 by central differences on a plain-NumPy chain
    A = v["arrays"]

    def loss_from_f0(f0):
        f1 = A["b1"] + A["w1"] @ np.sin(f0)
        f2 = A["b2"] + A["w2"] @ np.exp(f1)
        f3 = A["b3"] + A["w3"] @ np.cos(f2)
        return float(((f3 - v["y"]) ** 2).sum())

    f0 = A["b0"] + A["w0"] @ v["x"]
    eps = 1e-6
    fd = [(loss_from_f0(f0 + eps * e) - loss_from_f0(f0 - eps * e)) / (2 * eps) for e in np.eye(3)]
    np.testing.assert_allclose(v["cgrad_df0"], fd, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(v["product"], fd, rtol=1e-6, atol=1e-9)


def test_seed004_softmax_ce(capsys):
    out, _ = run_example("seed004_softmax_ce.py", capsys)
    r = out[0]
    h = 1 / (1 + math.exp(-2))
    assert r["loss"] == pytest.approx(math.log(2))
    np.testing.assert_allclose(r["dy"], [[-2, 0]], **CLOSE)
    np.testing.assert_allclose(r["do"], [[-0.5, 0.5]], **CLOSE)
    np.testing.assert_allclose(r["grads"]["c"], [-0.5, 0.5], **CLOSE)
    np.testing.assert_allclose(r["grads"]["V"], [[-h / 2, h / 2]] * 3, **CLOSE)
    assert h / 2 == pytest.approx(0.440399, abs=1e-6)
    np.testing.assert_allclose(r["dh"], 0, atol=1e-15)
    np.testing.assert_allclose(r["grads"]["W"], 0, atol=1e-15)
    np.testing.assert_allclose(
        r["V_new"],
        [[1.396359, 0.603641], [-0.603641, -1.396359], [-0.603641, -1.396359]],
        atol=1e-6,
    )
    np.testing.assert_allclose(r["c_new"], [0.45, -0.45], **CLOSE)
    assert r["loss_after"] == pytest.approx(0.048841, abs=1e-6)
    np.testing.assert_allclose(out[1]["do"], [[0.5, -0.5]], **CLOSE)
    np.testing.assert_allclose(out[1]["dy"], [[0, -2]], **CLOSE)


@pytest.mark.slow
def test_train_digits_demo(tmp_path):
    """The real `make demo` script: >= 95% test accuracy, identical reload, a PNG, < 30 s."""
    pytest.importorskip("sklearn")
    pytest.importorskip("tqdm")
    pytest.importorskip("matplotlib")
    env = dict(os.environ, CGRAD_NUM_THREADS="2")
    p = subprocess.run(
        [sys.executable, os.path.join(ROOT, "examples", "train_digits.py"), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    line = next(text for text in p.stdout.splitlines() if text.startswith("test accuracy:"))
    acc = float(line.split(":")[1].split("%")[0])
    assert acc >= 95.0
    assert "logits are identical" in p.stdout
    png = tmp_path / "digits.png"
    assert f"wrote the loss and accuracy curves to {png}" in p.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "digits_mlp.npz").exists()
    total = float(p.stdout.rsplit("total time", 1)[1].split("s")[0])
    assert total < 30, total

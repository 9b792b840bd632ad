"""Memory safety of the tape.

* 1,000 training steps: tracemalloc shows no growth, and weakrefs to
  intermediate tensors are dead after backward (no gc.collect(): plain
  reference counting must free them, so no reference cycles either).
* retain_graph=False really frees the saved buffers (measured in bytes),
  retain_graph=True keeps them and a second backward works.
* A graph of depth 100,000 runs forward and backward without recursion and
  within bounded memory. It runs in a child process, so a C-stack overflow
  (in backward or in freeing the chain) fails the test instead of killing pytest.
"""
# SPDX-License-Identifier: MIT

import gc
import json
import os
import subprocess
import sys
import textwrap
import tracemalloc
import weakref

import numpy as np
import pytest

import cgrad as cg
import cgrad.nn as nn
import cgrad.nn.functional as F


def _model(seed):
    cg.manual_seed(seed)
    return nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))


@pytest.mark.parametrize("backend_name", ["c", pytest.param("numpy", marks=pytest.mark.slow)])
def test_1000_training_steps_do_not_grow_memory(backend_name):
    rng = np.random.default_rng(0)
    x = cg.tensor(rng.standard_normal((32, 16)).astype(np.float32))
    y = cg.tensor(rng.integers(0, 4, 32), dtype=cg.int64)
    with cg.use_backend(backend_name):
        model = _model(1)
        opt = cg.optim.Adam(model.parameters(), lr=1e-3)

        def step():
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            return loss

        for _ in range(50):  # warm up: optimizer state, caches
            step()
        gc.collect()
        tracemalloc.start()
        try:
            step()
            base, _ = tracemalloc.get_traced_memory()
            for _ in range(1000):
                step()
            gc.collect()
            now, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    growth = now - base
    # one step allocates ~40 KB of temporaries; 1,000 leaked steps would be ~40 MB
    assert growth < 32 * 1024, f"memory grew by {growth} bytes over 1,000 steps"
    assert peak - base < 2 * 1024 * 1024, f"peak {peak - base} bytes above the baseline"


def test_intermediates_are_freed_after_backward_without_gc():
    gc.disable()
    try:
        model = _model(2)
        x = cg.randn(8, 16)
        h1 = model[0](x)
        h2 = model[1](h1)
        out = model[2](h2)
        loss = (out * out).mean()
        refs = [weakref.ref(t) for t in (h1, h2, out)]
        saved = [weakref.ref(a) for a in (h1.data, h2.data)]
        del h1, h2, out
        assert all(r() is not None for r in refs), "the graph must hold its intermediates"
        loss.backward()
        # loss is still alive (it holds its grad_fn), yet everything saved is gone
        dead = [r() is None for r in refs]
        assert all(dead), f"intermediates alive after backward: {dead}"
        assert all(r() is None for r in saved), "saved ndarrays alive after backward"
        assert all(p.grad is not None for p in model.parameters())
    finally:
        gc.enable()


def test_retain_graph_false_frees_saved_buffers_and_true_keeps_them():
    n = 1 << 20  # 4 MiB per float32 buffer
    x = cg.ones(n, requires_grad=True)

    def build():
        a = x * 2.0
        b = a.exp()  # saves its output (4 MiB)
        c = b.sin()  # saves its input (4 MiB)
        return c.sum()

    gc.collect()
    tracemalloc.start()
    try:
        loss = build()
        held, _ = tracemalloc.get_traced_memory()
        loss.backward(retain_graph=True)
        x.grad = None
        after_retain, _ = tracemalloc.get_traced_memory()
        loss.backward()  # the retained graph still works
        g = x.grad.numpy().copy()
        x.grad = None
        after_free, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert after_retain - held > -1024 * 1024, "retain_graph=True dropped the saved buffers"
    freed = held - after_free
    assert freed >= 2 * 4 * n * 0.9, f"only {freed} bytes freed by backward (expected >= 8 MiB)"
    np.testing.assert_allclose(g, 2 * np.cos(np.exp(2.0)) * np.exp(2.0), rtol=1e-5)
    with pytest.raises(RuntimeError, match="second time|freed"):
        loss.backward()


DEEP = textwrap.dedent("""
    import json, sys, tracemalloc
    import numpy as np
    import cgrad as cg

    depth = int(sys.argv[1])
    sys.setrecursionlimit(1000)              # recursion would fail loudly
    x = cg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    tracemalloc.start()                      # Python-heap bytes: unaffected by ASan's quarantine
    y = x
    for _ in range(depth):
        y = y * 1.00001
    fwd, _ = tracemalloc.get_traced_memory()
    y.sum().backward()
    _, peak = tracemalloc.get_traced_memory()
    del y                                     # freeing the (already freed) chain
    end, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(json.dumps({"grad": x.grad.numpy().tolist(), "fwd": fwd, "peak": peak, "end": end}))
""")


@pytest.mark.slow
def test_depth_100000_graph_without_recursion_in_bounded_memory(tmp_path):
    depth = 100_000
    script = tmp_path / "deep.py"
    script.write_text(DEEP)
    env = dict(os.environ)
    src = os.path.dirname(os.path.dirname(os.path.abspath(cg.__file__)))
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run(
        [sys.executable, str(script), str(depth)],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
    )
    assert proc.returncode == 0, f"exit {proc.returncode}:\n{proc.stderr[-3000:]}"
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    want = 1.00001**depth  # d/dx of x * c^depth, per element
    np.testing.assert_allclose(r["grad"], [want, want], rtol=1e-9)
    # bounded: about 1 KB per tape entry (tensor, node, arrays); 4 KB would be a leak
    assert r["peak"] < depth * 4 * 1024, f"peak {r['peak']} bytes for {depth} tape entries"
    assert r["end"] < 1024 * 1024, f"{r['end']} bytes still held after the graph was dropped"

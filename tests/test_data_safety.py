"""Data safety of cg.save / cg.load.

* cg.save is atomic: a child process is SIGKILLed in the middle of a save,
  after part of the new file was written, and the previous file still loads
  intact (bit for bit).
* cg.load of truncated or corrupted files raises a clear ValueError (or
  returns exactly the saved data when the damage hit bytes that carry no
  data) and never crashes: the corruption loop runs in a child process.
* cg.load never unpickles: a crafted .npz holding an object array whose
  pickle would run code is refused, and the code does not run.
"""
# SPDX-License-Identifier: MIT

import json
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
import zipfile

import numpy as np
import pytest

import cgrad as cg

SRC = os.path.dirname(os.path.dirname(os.path.abspath(cg.__file__)))


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _state(seed, n=64):
    r = np.random.default_rng(seed)
    return {
        "w": r.standard_normal((n, n)).astype(np.float32),
        "b": r.standard_normal(n).astype(np.float64),
        "i": np.arange(5, dtype=np.int64),
    }


def _same(a, b):
    assert sorted(a) == sorted(b)
    for k in a:
        assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape, k
        assert a[k].tobytes() == b[k].tobytes(), k


# ----------------------------------------------------------------- atomicity

KILL_MID_WRITE = textwrap.dedent("""
    import io, sys, time
    import numpy as np
    import cgrad as cg

    real_savez = np.savez

    def slow_savez(f, **arrays):
        buf = io.BytesIO()
        real_savez(buf, **arrays)
        data = buf.getvalue()
        f.write(data[: len(data) // 2])          # a partial write, really on disk
        f.flush()
        print("PARTIAL", flush=True)
        time.sleep(60)                           # the parent SIGKILLs us here
        f.write(data[len(data) // 2:])

    np.savez = slow_savez
    r = np.random.default_rng(99)
    cg.save({"w": r.standard_normal((256, 256)).astype(np.float32)}, sys.argv[1])
    print("FINISHED", flush=True)
""")


def test_sigkill_during_save_keeps_previous_file(tmp_path):
    path = tmp_path / "model.npz"
    old = _state(1)
    cg.save(old, path)
    before = path.read_bytes()
    child = tmp_path / "child.py"
    child.write_text(KILL_MID_WRITE)
    p = subprocess.Popen(
        [sys.executable, str(child), str(path)], stdout=subprocess.PIPE, text=True, env=_env()
    )
    try:
        line = p.stdout.readline()
        assert line.strip() == "PARTIAL", line
        # the partial temporary file exists beside the target, the target is untouched
        temps = [f for f in os.listdir(tmp_path) if f not in ("model.npz", "child.py")]
        assert temps, "save did not write to a temporary file first"
        assert path.read_bytes() == before
        p.send_signal(signal.SIGKILL)
    finally:
        p.wait(timeout=30)
        p.stdout.close()
    assert p.returncode == -signal.SIGKILL
    assert path.read_bytes() == before
    _same(cg.load(path), old)


KILL_ANYWHERE = textwrap.dedent("""
    import sys
    import numpy as np
    import cgrad as cg
    path, n = sys.argv[1], int(sys.argv[2])
    states = [{"w": np.full((n,), float(k), dtype=np.float64)} for k in (1, 2)]
    print("READY", flush=True)
    k = 0
    while True:
        cg.save(states[k % 2], path)
        k += 1
""")


@pytest.mark.slow
def test_sigkill_at_random_moments_always_leaves_a_whole_file(tmp_path):
    """A child saves two states in turn as fast as it can; killed at random
    moments, the file on disk is always one of them, complete."""
    path = tmp_path / "ckpt.npz"
    n = 300_000
    cg.save({"w": np.full((n,), 1.0)}, path)
    child = tmp_path / "loop.py"
    child.write_text(KILL_ANYWHERE)
    rng = np.random.default_rng(5)
    for trial in range(4):
        p = subprocess.Popen(
            [sys.executable, str(child), str(path), str(n)],
            stdout=subprocess.PIPE,
            text=True,
            env=_env(),
        )
        assert p.stdout.readline().strip() == "READY"
        time.sleep(float(rng.uniform(0.05, 0.4)))
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=30)
        p.stdout.close()
        d = cg.load(path)
        assert list(d) == ["w"] and d["w"].shape == (n,)
        v = d["w"][0]
        assert v in (1.0, 2.0) and (d["w"] == v).all(), f"trial {trial}: mixed content"


# ----------------------------------------------------------- damaged files

DAMAGE = textwrap.dedent("""
    import json, sys
    import numpy as np
    import cgrad as cg

    good_path, work = sys.argv[1], sys.argv[2]
    blob = open(good_path, "rb").read()
    good = cg.load(good_path)
    rng = np.random.default_rng(7)
    results = {"cases": 0, "raised": 0, "intact": 0, "bad": []}

    def same(d, g=good):
        if isinstance(g, np.ndarray):
            return (isinstance(d, np.ndarray) and d.dtype == g.dtype and d.shape == g.shape
                    and d.tobytes() == g.tobytes())
        if isinstance(g, dict):
            return (isinstance(d, dict) and list(d) == list(g)
                    and all(same(d[k], g[k]) for k in g))
        if isinstance(g, (list, tuple)):
            return (type(d) is type(g) and len(d) == len(g)
                    and all(same(a, b) for a, b in zip(d, g)))
        return type(d) is type(g) and d == g

    def try_load(data, what):
        with open(work, "wb") as f:
            f.write(data)
        results["cases"] += 1
        try:
            d = cg.load(work)
        except ValueError as e:
            if "load" not in str(e):
                results["bad"].append(f"{what}: unclear message {e}")
            results["raised"] += 1
            return
        except Exception as e:
            results["bad"].append(f"{what}: raised {type(e).__name__}: {e}")
            return
        if same(d):
            results["intact"] += 1
        else:
            results["bad"].append(f"{what}: returned wrong data without an error")

    lengths = sorted(set([0, 1, 2, 3, 4, 10, 22, 30, len(blob) - 1, len(blob) - 22]
                         + rng.integers(0, len(blob), 150).tolist()))
    for n in lengths:
        try_load(blob[:n], f"truncated to {n} of {len(blob)} bytes")
    for _ in range(300):
        b = bytearray(blob)
        pos = int(rng.integers(0, len(b)))
        b[pos] ^= int(rng.integers(1, 256))
        try_load(bytes(b), f"byte {pos} flipped")
    for _ in range(40):
        b = bytearray(blob)
        pos = int(rng.integers(0, len(b) - 64))
        b[pos:pos + 64] = rng.integers(0, 256, 64).astype(np.uint8).tobytes()
        try_load(bytes(b), f"64 random bytes at {pos}")
    try_load(b"", "empty file")
    try_load(b"PK\\x03\\x04" + b"\\x00" * 100, "zip magic then zeros")
    try_load(rng.integers(0, 256, 5000).astype(np.uint8).tobytes(), "random bytes")
    print(json.dumps(results))
""")


@pytest.mark.parametrize(
    "nested",
    [False, pytest.param(True, marks=pytest.mark.slow)],
    ids=["state_dict", "optimizer_state"],
)
def test_truncated_or_corrupted_files_raise_clearly_and_never_crash(tmp_path, nested):
    good = tmp_path / "good.npz"
    if nested:
        obj = {
            "state": {0: {"m": np.ones(50, np.float32), "step": 3}},
            "param_groups": [{"lr": 0.1, "params": [0]}],
        }
    else:
        obj = _state(3, n=24)
    cg.save(obj, good)
    child = tmp_path / "damage.py"
    child.write_text(DAMAGE)
    proc = subprocess.run(
        [sys.executable, str(child), str(good), str(tmp_path / "bad.npz")],
        capture_output=True,
        text=True,
        timeout=120,
        env=_env(),
    )
    assert proc.returncode == 0, f"load crashed (exit {proc.returncode}):\n{proc.stderr[-3000:]}"
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    assert res["cases"] > 450
    assert not res["bad"], "\n".join(res["bad"][:20])


def test_load_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        cg.load(tmp_path / "nope.npz")


# ----------------------------------------------------------- no unpickling


class _Boom:
    """Unpickling this writes a marker file (what an attacker's payload would do)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_load_refuses_object_arrays_and_never_unpickles(tmp_path):
    marker = tmp_path / "PWNED"
    evil = np.empty(1, dtype=object)
    evil[0] = _Boom(str(marker))
    path = tmp_path / "evil.npz"
    np.savez(path, w=np.ones(3, np.float32), payload=evil)  # numpy pickles the object array
    with zipfile.ZipFile(path) as z:
        assert any(n.startswith("payload") for n in z.namelist())
    with pytest.raises(ValueError, match="load"):
        cg.load(path)
    assert not marker.exists(), "cg.load unpickled the payload"


def test_load_refuses_a_raw_pickle_file(tmp_path):
    marker = tmp_path / "PWNED"
    path = tmp_path / "model.npz"
    with open(path, "wb") as f:
        pickle.dump({"w": _Boom(str(marker))}, f)
    with pytest.raises(ValueError, match="load"):
        cg.load(path)
    assert not marker.exists()


def test_load_refuses_a_pickle_member_inside_the_zip(tmp_path):
    """A member that is a bare pickle (not .npy) must not be unpickled or
    returned as a value."""
    marker = tmp_path / "PWNED"
    path = tmp_path / "m.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("w.npy", _npy_bytes(np.ones(3, np.float32)))
        z.writestr("payload.pkl", pickle.dumps(_Boom(str(marker))))
    try:
        d = cg.load(path)
    except ValueError as e:
        assert "load" in str(e)
    else:
        assert all(isinstance(v, np.ndarray) and v.dtype.kind != "O" for v in d.values()), (
            f"load returned non-array values: {[type(v).__name__ for v in d.values()]}"
        )
    assert not marker.exists()


def _npy_bytes(a):
    import io

    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


def test_save_refuses_object_arrays(tmp_path):
    with pytest.raises(TypeError, match="save"):
        cg.save({"x": np.array([object()], dtype=object)}, tmp_path / "x.npz")
    assert not os.listdir(tmp_path), "a failed save left files behind"


def test_round_trip_is_bitwise(tmp_path):
    s = _state(11)
    s["nan"] = np.array([np.nan, -0.0, np.inf, 5e-324])
    cg.save(s, tmp_path / "r.npz")
    _same(cg.load(tmp_path / "r.npz"), s)

"""The extension builds, and gives the same numbers, with and without OpenMP.

This compiles a second copy of cgrad._ckernels with CGRAD_NO_OPENMP=1 into a
temporary directory, loads it in a child process in place of the installed
one, and compares its results with the installed (OpenMP) build's.
"""

import glob
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import cgrad as cg
from cgrad import _ckernels as C

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CHILD = textwrap.dedent("""
    import importlib.machinery, importlib.util, sys
    import numpy as np
    so, data = sys.argv[1], sys.argv[2]
    loader = importlib.machinery.ExtensionFileLoader("cgrad._ckernels", so)
    spec = importlib.util.spec_from_file_location("cgrad._ckernels", so, loader=loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    sys.modules["cgrad._ckernels"] = mod
    import cgrad as cg
    assert cg.backend._ckernels is mod and mod.config()["openmp"] is False, mod.config()
    d = dict(np.load(data))
    out = {}
    for n in (1, 2):
        cg.set_num_threads(n)
        r = {}
        r["mm"] = np.empty((1, 301, 203), np.float32)
        mod.matmul(r["mm"], d["a"], d["b"], False, False, False)
        r["mmt"] = np.empty((1, 301, 203), np.float32)
        mod.matmul(r["mmt"], d["at"], d["b"], True, False, False)
        r["sum"] = np.empty(301, np.float32); mod.sum_forward(r["sum"], d["a"][0], (1,))
        r["sm"] = np.empty_like(d["a"][0]); mod.softmax_forward(r["sm"], d["a"][0], 1)
        r["tanh"] = np.empty_like(d["a"][0]); mod.tanh_forward(r["tanh"], d["a"][0])
        for k, v in r.items():
            out[f"{k}{n}"] = v
    np.savez(data.replace(".npz", "_out.npz"), **out)
    print("ok")
""")


@pytest.fixture(scope="module")
def no_openmp_build(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("noomp")
    env = dict(os.environ, CGRAD_NO_OPENMP="1")
    proc = subprocess.run(
        [
            sys.executable,
            "setup.py",
            "-q",
            "build_ext",
            "--build-lib",
            str(tmp / "lib"),
            "--build-temp",
            str(tmp / "tmp"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "building without OpenMP" in proc.stderr
    (so,) = glob.glob(str(tmp / "lib" / "cgrad" / "_ckernels*.so"))
    return so, tmp


def test_installed_build_reports_openmp_state():
    c = cg.backend.config()
    assert set(c) >= {"openmp", "simd", "num_threads"}
    assert c["simd"] in ("generic", "avx2", "avx512")


@pytest.mark.slow
def test_no_openmp_build_matches_openmp_build(no_openmp_build):
    so, tmp = no_openmp_build
    rng = np.random.default_rng(7)
    a = rng.standard_normal((1, 301, 157)).astype(np.float32)
    b = rng.standard_normal((1, 157, 203)).astype(np.float32)
    at = np.ascontiguousarray(a.transpose(0, 2, 1))
    data = str(tmp / "in.npz")
    np.savez(data, a=a, b=b, at=at)
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, so, data], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = np.load(data.replace(".npz", "_out.npz"))

    before = cg.get_num_threads()
    try:
        for n in (1, 2):
            cg.set_num_threads(n)
            mm = np.empty((1, 301, 203), np.float32)
            C.matmul(mm, a, b, False, False, False)
            mmt = np.empty((1, 301, 203), np.float32)
            C.matmul(mmt, at, b, True, False, False)
            s = np.empty(301, np.float32)
            C.sum_forward(s, a[0], (1,))
            sm = np.empty_like(a[0])
            C.softmax_forward(sm, a[0], 1)
            th = np.empty_like(a[0])
            C.tanh_forward(th, a[0])
            # same source, same summation order: bitwise equal whatever the threads
            for k, v in (("mm", mm), ("mmt", mmt), ("sum", s), ("sm", sm), ("tanh", th)):
                np.testing.assert_array_equal(got[f"{k}{n}"], v, err_msg=f"{k}, {n} threads")
            # and correct against an independent oracle
            np.testing.assert_allclose(mm[0], a[0].astype(np.float64) @ b[0], rtol=1e-4, atol=1e-4)
    finally:
        cg.set_num_threads(before)

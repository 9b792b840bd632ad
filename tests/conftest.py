"""Shared fixtures for the cgrad test suite.

* ``backend``: runs a test once per backend ("c", the compiled kernels, and
  "numpy", the pure-NumPy reference) inside ``with cg.use_backend(name):``,
  and checks that the previous backend is restored afterwards.
* ``isa``: runs a test once per SIMD path this CPU has (``generic``, ``avx2``,
  ``avx512``; see simd_paths.py), forcing it with ``_ckernels._set_simd`` and
  restoring the path that was active before.
* ``_seed`` (autouse): seeds Python's ``random``, NumPy's global generator and
  ``cg.manual_seed`` before every test, so every test is reproducible.
"""

import random

import numpy as np
import pytest

import cgrad as cg
from cgrad import _ckernels

from simd_paths import ISAS

BACKENDS = ("c", "numpy")


@pytest.fixture(params=BACKENDS)
def backend(request):
    name = request.param
    previous = cg.get_backend()
    try:
        with cg.use_backend(name):
            assert cg.get_backend() == name
            yield name
    finally:
        # The context manager must restore the backend; make sure the next
        # test never runs on a leaked backend even if it did not.
        restored = cg.get_backend()
        if restored != previous:
            cg.use_backend(previous)
    assert restored == previous, f"use_backend({name!r}) did not restore {previous!r}"


@pytest.fixture(params=ISAS)
def isa(request):
    before = _ckernels.config()["simd"]
    assert _ckernels._set_simd(request.param) == request.param
    yield request.param
    _ckernels._set_simd(before)


@pytest.fixture(autouse=True)
def _seed():
    random.seed(1234)
    np.random.seed(1234)
    cg.manual_seed(1234)
    yield


@pytest.fixture
def rng():
    """A fresh, seeded NumPy Generator for test data."""
    return np.random.default_rng(20240611)

"""The SIMD paths of the compiled kernels this CPU can run, and the `isa`
fixture (tests/conftest.py) that runs a test once on each of them."""

from cgrad import _ckernels as C


def available_isas():
    """Every path this machine can run, best last (forcing never goes up)."""
    before = C.config()["simd"]
    got = [name for name in ("generic", "avx2", "avx512") if C._set_simd(name) == name]
    C._set_simd(before)
    return got


ISAS = available_isas()

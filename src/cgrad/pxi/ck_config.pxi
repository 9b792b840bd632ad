# cgrad._ckernels: threads and configuration.
# Included by src/cgrad/_ckernels.pyx (one module, one namespace); not compiled alone.
# SPDX-License-Identifier: MIT

# ---- threads and configuration ---------------------------------------------

def set_num_threads(n):
    """Threads used by the kernels (clamped to 256)."""
    cdef long v = _index(n)
    if v < 1:
        raise ValueError(f"set_num_threads: expected a positive count, got {v}")
    cg_set_num_threads(<int>min(v, 1 << 20))


def get_num_threads():
    return cg_get_num_threads()


def config():
    """{"openmp": bool, "simd": "avx512"|"avx2"|"generic", "num_threads": int}"""
    return {"openmp": bool(cg_have_openmp()),
            "simd": cg_isa_name(cg_get_isa()).decode(),
            "num_threads": cg_get_num_threads()}


def _set_simd(str name):
    """Testing aid: cap the GEMM micro-kernel ISA at run time ("generic",
    "avx2", "avx512"); returns the ISA actually selected."""
    cdef int isa
    if name == "generic":
        isa = CG_ISA_GENERIC
    elif name == "avx2":
        isa = CG_ISA_AVX2
    elif name == "avx512":
        isa = CG_ISA_AVX512
    else:
        raise ValueError(f"_set_simd: unknown ISA {name!r}; choose generic, avx2 or avx512")
    return cg_isa_name(cg_set_isa(isa)).decode()

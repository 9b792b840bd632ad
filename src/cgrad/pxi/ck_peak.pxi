# cgrad._ckernels: the measured FMA peak used by the benchmark suite.
# Included by src/cgrad/_ckernels.pyx (one module, one namespace); not compiled alone.
# SPDX-License-Identifier: MIT

# ---- measured FMA peak (benchmark suite) -------------------------------------

def peak_gflops(dtype, n_threads, seconds):
    """GFLOP/s of register-resident FMA chains on n_threads threads for
    `seconds` of wall time, on the GEMM ISA in use (csrc/peak.c)."""
    cdef str fn = "peak_gflops"
    cdef int t
    cdef long nt = _index(n_threads)
    cdef double sec = _float(fn, seconds, "seconds")
    cdef double r
    import numpy
    try:
        t = numpy.dtype(dtype).num
    except TypeError:
        raise TypeError(f"{fn}: expected float32 or float64, got {dtype!r}") from None
    if t != F32 and t != F64:
        raise TypeError(f"{fn}: expected float32 or float64, got {dtype!r}")
    if nt < 1 or nt > 256:
        raise ValueError(f"{fn}: n_threads must be in 1..256, got {nt}")
    if not (0 < sec <= 60):
        raise ValueError(f"{fn}: seconds must be in (0, 60], got {sec}")
    with nogil:
        if t == F32:
            r = cg_peak_gflops_f32(<int>nt, sec)
        else:
            r = cg_peak_gflops_f64(<int>nt, sec)
    return r

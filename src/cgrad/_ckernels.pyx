# cython: boundscheck=False, wraparound=False, initializedcheck=False, language_level=3
"""cgrad._ckernels: the compiled backend (interface in docs/kernels.md).

Marshalling only. Every function checks each argument (an ndarray, float32
or float64, one dtype per call, aligned and native-endian, C-contiguous where
the contract says "contig", shapes and sizes, axes, ndim), raises TypeError
(dtype) or ValueError (anything else) with a message that starts with the
function name, then passes raw pointers to the C kernels in csrc/, without
the GIL when the work is large enough. A gradient output given as None is
skipped. No arithmetic on array data happens here.
"""
# SPDX-License-Identifier: MIT

cimport numpy as cnp
from libc.stdint cimport int64_t
from cpython.pycapsule cimport PyCapsule_New
from operator import index as _index

cnp.import_array()

# Release the GIL only for calls touching at least this many elements.
cdef enum:
    NOGIL_MIN = 16384
    F32 = cnp.NPY_FLOAT
    F64 = cnp.NPY_DOUBLE
    CONTIG = 1      # must be C-contiguous
    WRITE = 2       # must be writable (an output)
    NEED_X = 1      # unary backward reads x
    NEED_Y = 2      # unary backward reads y


# The sections, in order, each in its own file under pxi/ (the paths are
# relative to this file). Cython pastes them in here: one module, one namespace.
include "pxi/ck_checks.pxi"
include "pxi/ck_config.pxi"
include "pxi/ck_unary.pxi"
include "pxi/ck_binary.pxi"
include "pxi/ck_reduce.pxi"
include "pxi/ck_softmax.pxi"
include "pxi/ck_matmul.pxi"
include "pxi/ck_index.pxi"

# ==== nn, losses and optimizers ====================================================
include "pxi/ck_nn_checks.pxi"
include "pxi/ck_linear.pxi"
include "pxi/ck_loss.pxi"
include "pxi/ck_dropout.pxi"
include "pxi/ck_optim.pxi"
include "pxi/ck_peak.pxi"

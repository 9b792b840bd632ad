# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The tape's hot path, compiled: tape entries (`Node`), the fields of a
Tensor (`TensorBase`), `apply` (run an op, record an entry), the backward
engine, and the fast paths for the most common calls. The semantics are the
ones engine.py documents; this module only makes them cheap: fields are C
slots, a tape entry is built without a Python frame, and the engine's
bookkeeping (pending gradients, heap, fan-out sums, leaf accumulation) runs
in C.

Ops stash what their backward reads as attributes on the entry (the common
names are C slots, the rest go to its `__dict__`); their forward/backward are
Python (ops.py, ops_nn.py) except on the fast paths, which run the call end
to end in C and record an entry whose backward is compiled too.

The module is split into included files:
  pxi/tape_entry.pxi   TensorBase (a Tensor's fields), Node (a tape entry), apply()
  pxi/tape_engine.pxi  the backward engine and leaf accumulation
  pxi/tape_fast.pxi    the fast paths and their compiled backward

This module cannot import the Python layers above it (they import it), so
they hand it what it calls back through `connect()`, once, from _wiring.py.
"""

import heapq

import numpy as np
cimport numpy as cnp

cnp.import_array()

from cpython.ref cimport PyObject
from cpython.dict cimport PyDict_Clear
from cpython.pycapsule cimport PyCapsule_GetPointer
from libc.stdint cimport int64_t
from cgrad._ckernels cimport cg_unary_op, CG_READS_X, CG_READS_Y

cdef extern from "Python.h":
    PyObject **_PyObject_GetDictPtr(object)   # the instance dict slot; never creates it

cdef object _heappush = heapq.heappush
cdef object _heappop = heapq.heappop
cdef object _np_empty = np.empty
cdef object _np_array = np.array
cdef object _may_share = np.may_share_memory

cdef long long _next_seq = 0      # the GIL serializes every increment


# ---------------------------------------------------------------- wiring
# Set by connect() (see _wiring.py for what each is and the order).
cdef object _mode = None           # grad_mode._mode: the per-thread grad switch
cdef object _tensor_cls = None     # tensor.Tensor, a Python subclass of TensorBase
cdef object _sum_to = None         # engine.sum_to: undoes broadcasting in gradients

cdef object _slow_binary = None    # tensor.binary(op, a, b): the generic route of + - * /
cdef object _slow_matmul = None    # tensor.matmul(a, b)
cdef object _slow_linear = None    # tensor.linear(x, w, b, activation): the generic route
cdef dict _ACT = None              # activation name -> linear kernel code
cdef unsigned int _ACT_Z = 0       # bit c set: activation code c keeps the pre-activation z
cdef object _slow_unary = None     # tensor.unary(op, t, params): the generic route of f(x)
cdef object _MatMul                # ops.MatMul, recorded by the 2-D matmul path
cdef dict _FAST = {}               # op name -> FastOp, for the unary and binary fast paths
cdef object _OP_LINEAR = None      # ops_nn.Linear

cdef object _K = None              # the active kernel module (backend.K), set by set_kernels
cdef dict _kfn = {}                # its functions by name, looked up once

# cg_gemm for float32 / float64 (csrc/gemm.c), taken from the C kernel module
# when it is the active backend (NULL otherwise): the 2-D matmul paths call
# it without the Python call and argument checks of _ckernels.matmul.
ctypedef int (*_gemm_f32_t)(float *, const float *, const float *, int64_t, int64_t, int64_t,
                            int, int, int) noexcept nogil
ctypedef int (*_gemm_f64_t)(double *, const double *, const double *, int64_t, int64_t, int64_t,
                            int, int, int) noexcept nogil
cdef _gemm_f32_t _gemm_f32 = NULL
cdef _gemm_f64_t _gemm_f64 = NULL
DEF _GEMM_NOGIL_MIN = 16384       # multiply-adds from which the GIL is released (as _ckernels)

# The C unary table (csrc/unary.c), given by connect(): the unary fast path
# calls its functions directly while the C kernels are the active backend.
cdef const cg_unary_op *_UNARY_TABLE = NULL
cdef int _N_UNARY = 0
cdef bint _c_active = False       # backend.K is the C kernel module
DEF _NOGIL_MIN = 16384            # elements from which the GIL is released (as _ckernels)


def set_kernels(K):
    """The active kernel module (backend.K): every kernel call goes to it.
    backend.use_backend calls this on every switch."""
    global _K, _gemm_f32, _gemm_f64, _c_active
    _K = K
    _kfn.clear()
    caps = getattr(K, "_gemm_capsules", None)
    _c_active = caps is not None
    if caps is None:
        _gemm_f32 = NULL
        _gemm_f64 = NULL
    else:
        c32, c64 = caps()
        _gemm_f32 = <_gemm_f32_t>PyCapsule_GetPointer(c32, b"cgrad.cg_gemm_f32")
        _gemm_f64 = <_gemm_f64_t>PyCapsule_GetPointer(c64, b"cgrad.cg_gemm_f64")


cdef inline object _kernel(str name):
    f = _kfn.get(name)
    if f is None:
        f = getattr(_K, name)
        _kfn[name] = f
    return f


def connect(*, mode, kernels, sum_to, tensor_cls, unary, binary, matmul, linear, op_classes,
            fast_ops, act_codes, act_needs_z, unary_table):
    """Hand the tape what it calls back in the Python layers (see _wiring.py)."""
    global _mode, _tensor_cls, _sum_to, _slow_unary, _slow_binary, _slow_matmul, _slow_linear
    global _ADD, _SUB, _MUL, _DIV, _NEG, _MatMul, _OP_LINEAR, _ACT, _ACT_Z
    global _UNARY_TABLE, _N_UNARY
    capsule, _N_UNARY = unary_table
    _UNARY_TABLE = <const cg_unary_op *>PyCapsule_GetPointer(capsule, b"cgrad.cg_unary_ops")
    _mode = mode
    set_kernels(kernels)
    _sum_to = sum_to
    _tensor_cls = tensor_cls
    _slow_unary, _slow_binary, _slow_matmul, _slow_linear = unary, binary, matmul, linear
    _FAST.clear()
    for name in fast_ops:
        _FAST[name] = FastOp(op_classes[name])
    _ADD, _SUB, _MUL, _DIV, _NEG = (_FAST[n] for n in ("add", "sub", "mul", "div", "neg"))
    _MatMul = op_classes["matmul"]
    _OP_LINEAR, _ACT = op_classes["linear"], act_codes
    _ACT_Z = 0
    for code in act_needs_z:
        _ACT_Z |= 1u << code


def fast_op(name):
    """The FastOp record of op `name` (a unary or binary op with a fast path)."""
    try:
        return _FAST[name]
    except KeyError:
        raise KeyError(f"fast_op: {name!r} has no fast-path record; is it a unary or binary "
                       "row with fast=True, and has _wiring connected the tape?") from None


include "pxi/tape_entry.pxi"
include "pxi/tape_engine.pxi"
include "pxi/tape_fast.pxi"

# The fast paths' records of + - * / and unary minus, made by connect().
cdef FastOp _ADD, _SUB, _MUL, _DIV, _NEG

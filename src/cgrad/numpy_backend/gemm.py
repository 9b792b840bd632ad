"""Batched matrix multiply (matmul), with optional transposes and
accumulation. The module is named after csrc/gemm.c because one called
matmul would share its name with the function the package re-exports.
"""
# SPDX-License-Identifier: MIT

import numpy as np

from ._checks import _contig, _dtype_of, _writable

# The kernels of this family (the package exports them: the backend interface).
__all__ = ["matmul"]


# ---------------------------------------------------------------- matmul


def matmul(out, a, b, trans_a, trans_b, accumulate):
    """for i in range(B): out[i % Bo] (+)= op(a)[i % Ba] @ op(b)[i % Bb]

    All three 2-D instead: one product, out (+)= op(a) @ op(b).
    a is (Ba, M, K), or (Ba, K, M) holding A^T when trans_a; b is (Bb, K, N), or
    (Bb, N, K) when trans_b; out is (Bo, M, N). B = max(Ba, Bb, Bo) and each of
    Ba, Bb, Bo is 1 or B. accumulate=False overwrites out first (a NaN already in
    out never leaks); Bo == 1 < B sums the products over the batch.
    """
    fn = "matmul"
    _dtype_of(fn, out=out, a=a, b=b)
    if not (out.ndim == a.ndim == b.ndim and out.ndim in (2, 3)):
        raise ValueError(
            f"{fn}: out, a and b must be all 3-D or all 2-D, got shapes "
            f"{out.shape}, {a.shape}, {b.shape}"
        )
    _contig(fn, out=out, a=a, b=b)
    if out.ndim == 2:  # one product: batch of 1
        out, a, b = out[None], a[None], b[None]
    _writable(fn, out=out)
    A = a.transpose(0, 2, 1) if trans_a else a  # views: (Ba, M, K), (Bb, K, N)
    Bm = b.transpose(0, 2, 1) if trans_b else b
    (Ba, M, K), (Bb, K2, N), (Bo, Mo, No) = A.shape, Bm.shape, out.shape
    if K != K2 or M != Mo or N != No:
        raise ValueError(
            f"{fn}: shapes do not match: a {a.shape} (trans_a={bool(trans_a)}), "
            f"b {b.shape} (trans_b={bool(trans_b)}), out {out.shape}"
        )
    nb = max(Ba, Bb, Bo)
    if any(n not in (1, nb) for n in (Ba, Bb, Bo)):
        raise ValueError(f"{fn}: batch sizes a={Ba}, b={Bb}, out={Bo} must each be 1 or {nb}")
    with np.errstate(over="ignore", invalid="ignore"):
        if Bo == nb and max(Ba, Bb) == nb:
            # One product per output slab: write straight into out.
            if accumulate:
                out += np.matmul(A, Bm)
            else:
                np.matmul(A, Bm, out=out)
            return
        if Bo == nb:
            # Ba == Bb == 1 < Bo: the same product lands in every slab.
            p = np.matmul(A, Bm)
        else:
            # Bo == 1 < B: sum the B products.
            p = np.matmul(A, Bm).sum(axis=0, keepdims=True)
        if accumulate:
            out += p
        else:
            np.copyto(out, p)

"""Scatter-add (index_add): rows of src added into dx at integer indices."""
# SPDX-License-Identifier: MIT

import numpy as np

from ._checks import _contig, _dtype_of, _writable

# The kernels of this family (the package exports them: the backend interface).
__all__ = ["index_add"]


# ---------------------------------------------------------------- scatter-add


def index_add(dx, idx, src):
    """dx[idx[i], :] += src[i, :] for i in order (repeated rows accumulate).

    The backward of every gather: dx (R, D) contig, src (n, D) contig, idx a
    contiguous int64 (n,) array with entries in [0, R), checked before any write
    (IndexError otherwise)."""
    fn = "index_add"
    _dtype_of(fn, dx=dx, src=src)
    if not isinstance(idx, np.ndarray) or idx.dtype != np.int64:
        raise TypeError(
            f"{fn}: idx must be an int64 ndarray, got {getattr(idx, 'dtype', type(idx).__name__)}"
        )
    _contig(fn, dx=dx, src=src, idx=idx)
    _writable(fn, dx=dx)
    if dx.ndim != 2 or src.ndim != 2 or idx.ndim != 1 or src.shape != (idx.shape[0], dx.shape[1]):
        raise ValueError(
            f"{fn}: expected dx (R, D), src (n, D), idx (n,); got dx {dx.shape}, "
            f"src {src.shape}, idx {idx.shape}"
        )
    if idx.size and (idx.min() < 0 or idx.max() >= dx.shape[0]):
        raise IndexError(
            f"{fn}: an index is out of range for {dx.shape[0]} rows "
            f"(min {idx.min()}, max {idx.max()})"
        )
    with np.errstate(over="ignore", invalid="ignore"):
        np.add.at(dx, idx, src)  # unbuffered: repeated rows all add, in order

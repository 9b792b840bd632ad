"""Threads and configuration (set_num_threads, get_num_threads, config),
which exist for interface parity with the C backend. The module is not called
config because that would share its name with the function the package
re-exports.
"""
# SPDX-License-Identifier: MIT

import numpy as np

# The kernels of this family (the package exports them: the backend interface).
__all__ = ["set_num_threads", "get_num_threads", "config"]


# ---------------------------------------------------------------- threads and configuration
# NumPy decides its own threading; these exist so the two backends share one interface.


def set_num_threads(n):
    """Accepted for interface parity; the NumPy backend has no thread setting."""
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"set_num_threads: n must be an int, got {type(n).__name__}")
    if n < 1:
        raise ValueError(f"set_num_threads: expected a positive count, got {n}")


def get_num_threads():
    """Always 1: the NumPy backend does not manage threads."""
    return 1


def config():
    """The backend's capabilities, in the same keys as the C backend."""
    return {"openmp": False, "simd": "numpy", "num_threads": 1}

"""Sizes, offsets and strides beyond 2^31 elements reach the kernels intact.

Every size, index and stride in csrc/ is int64_t. These tests would fail
(wrong values, or a crash caught in a child process by CI's sanitizer run)
if any offset were computed in 32 bits. They need little RAM: the big
arrays are sparse memory-mapped files, and the kernels touch only a handful
of their pages.
"""

import os

import numpy as np
import pytest

from cgrad import _ckernels as C
from cgrad import numpy_backend as N

BIG = 2**31


def _sparse_memmap(path, shape, dtype=np.float32):
    """A zero-filled memmap backed by a sparse file; skip if the file is not sparse."""
    m = np.memmap(path, dtype=dtype, mode="w+", shape=shape)
    st = os.stat(path)
    if st.st_blocks * 512 > 64 * 2**20:  # the filesystem filled it in
        del m
        os.unlink(path)
        pytest.skip("this filesystem does not keep sparse files sparse")
    return m


@pytest.mark.parametrize("mod", [C, N], ids=["c", "numpy"])
def test_binary_kernel_reads_element_offsets_beyond_2_31(tmp_path, mod):
    n = 2**32 + 64  # 16 GiB of float32, sparse
    stride = 2**28 + 1  # 15 * stride > 2^31 (and > 2^32 - 2^28)
    a = _sparse_memmap(tmp_path / "a.bin", (n,))
    k = np.arange(16)
    a[k * stride] = k + 1.0
    view = a[::stride][:16]  # strided view, offsets up to ~4.03e9
    assert view.strides[0] // 4 == stride and 15 * stride > BIG
    b = np.full(16, 0.5, np.float32)
    out = np.empty(16, np.float32)
    mod.add_forward(out, view, b)
    np.testing.assert_array_equal(out, k + 1.5)
    # the same through a 2-D broadcast: rows strided far apart, columns broadcast
    view2 = np.lib.stride_tricks.as_strided(a, shape=(16, 3), strides=(stride * 4, 0))
    out2 = np.empty((16, 3), np.float32)
    mod.mul_forward(out2, view2, np.broadcast_to(np.float32(2.0), (16, 3)))
    np.testing.assert_array_equal(out2, np.repeat(2.0 * (k + 1.0), 3).reshape(16, 3))
    del a, view, view2


@pytest.mark.parametrize("mod", [C, N], ids=["c", "numpy"])
def test_index_add_writes_rows_whose_offset_exceeds_2_31(tmp_path, mod):
    rows, d = 2**21, 2**11  # 2^32 elements: row R-1 starts past 2^32 - 2^11
    dx = _sparse_memmap(tmp_path / "dx.bin", (rows, d))
    assert (rows - 1) * d > BIG
    idx = np.array([rows - 1, 5, rows - 1, 2**20 + 7], np.int64)
    src = np.arange(4 * d, dtype=np.float32).reshape(4, d)
    mod.index_add(dx, idx, src)
    np.testing.assert_array_equal(dx[rows - 1], src[0] + src[2])
    np.testing.assert_array_equal(dx[5], src[1])
    np.testing.assert_array_equal(dx[2**20 + 7], src[3])
    assert not dx[rows - 2].any() and not dx[0].any() and not dx[2**20 + 6].any()
    del dx

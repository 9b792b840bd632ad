"""cg.save / cg.load (API.md section Saving).

The file is an .npz that NumPy itself can read with allow_pickle=False; the
write is atomic (temporary file in the same directory, then os.replace), so a
write that fails midway leaves the previous file untouched and no stray
temporary file behind.
"""

import os
import zipfile

import numpy as np
import numpy.lib.format as npformat
import pytest

import cgrad as cg

nn = cg.nn


def arr(t):
    return np.array(t.detach().numpy())


def mlp():
    return nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))


def sample_dict():
    rng = np.random.default_rng(0)
    return {
        "0.weight": rng.standard_normal((4, 3)).astype(np.float32),
        "0.bias": rng.standard_normal(4).astype(np.float32),
        "head.weight": rng.standard_normal((2, 4)),  # float64
        "steps": np.arange(5, dtype=np.int64),
    }


def test_save_writes_npz_readable_without_pickle(tmp_path):
    sd = sample_dict()
    path = tmp_path / "model.npz"
    cg.save(sd, str(path))
    assert path.is_file()
    assert zipfile.is_zipfile(path)
    with np.load(path, allow_pickle=False) as z:
        assert sorted(z.files) == sorted(sd)
        for k, v in sd.items():
            assert z[k].dtype == v.dtype
            np.testing.assert_array_equal(z[k], v)
    assert os.listdir(tmp_path) == ["model.npz"]  # no temp file left behind


def test_load_returns_the_dict(tmp_path):
    sd = sample_dict()
    path = tmp_path / "model.npz"
    cg.save(sd, str(path))
    back = cg.load(str(path))
    assert isinstance(back, dict)
    assert list(back.keys()) == list(sd.keys())  # order kept
    for k, v in sd.items():
        got = np.asarray(back[k])
        assert got.dtype == v.dtype and got.shape == v.shape
        np.testing.assert_array_equal(got, v)


def test_save_accepts_pathlib_path(tmp_path):
    sd = sample_dict()
    path = tmp_path / "p.npz"
    cg.save(sd, path)
    back = cg.load(path)
    np.testing.assert_array_equal(np.asarray(back["head.weight"]), sd["head.weight"])


def test_save_overwrites_existing_file(tmp_path):
    path = tmp_path / "m.npz"
    cg.save({"a": np.zeros(3)}, str(path))
    cg.save({"b": np.ones(2, dtype=np.float32)}, str(path))
    back = cg.load(str(path))
    assert list(back) == ["b"]
    np.testing.assert_array_equal(np.asarray(back["b"]), np.ones(2, dtype=np.float32))
    assert os.listdir(tmp_path) == ["m.npz"]


def test_module_state_dict_save_load_round_trip_bitwise(tmp_path, backend):
    for dtype in ("float32", "float64"):
        src = mlp()
        if dtype == "float64":
            src.double()
        path = tmp_path / f"w_{dtype}.npz"
        cg.save(src.state_dict(), str(path))
        dst = mlp()
        if dtype == "float64":
            dst.double()
        x = cg.randn(5, 6, dtype=getattr(cg, dtype))
        assert not np.array_equal(arr(dst(x)), arr(src(x)))  # different init before loading
        dst.load_state_dict(cg.load(str(path)))
        for (n, p), (m, q) in zip(src.named_parameters(), dst.named_parameters()):
            assert n == m and p.dtype == q.dtype
            assert arr(p).tobytes() == arr(q).tobytes()
        a, b = arr(src(x)), arr(dst(x))
        assert a.dtype == b.dtype == np.dtype(dtype)
        assert a.tobytes() == b.tobytes()  # bitwise identical


def test_trained_model_round_trip_bitwise(tmp_path):
    model = mlp().double()
    opt = cg.optim.Adam(model.parameters(), lr=0.01)
    rng = np.random.default_rng(1)
    x = cg.tensor(rng.standard_normal((16, 6)), dtype=cg.float64)
    t = cg.tensor(rng.integers(0, 3, 16), dtype=cg.int64)
    for _ in range(5):
        opt.zero_grad()
        nn.CrossEntropyLoss()(model(x), t).backward()
        opt.step()
    path = tmp_path / "trained.npz"
    cg.save(model.state_dict(), str(path))
    clone = mlp().double()
    clone.load_state_dict(cg.load(str(path)))
    assert arr(model(x)).tobytes() == arr(clone(x)).tobytes()


def test_load_missing_file_raises(tmp_path):
    with pytest.raises((FileNotFoundError, OSError)):
        cg.load(str(tmp_path / "does_not_exist.npz"))


# ----------------------------------------------------------------- atomicity


class _Boom(RuntimeError):
    pass


def _old_file(tmp_path):
    path = tmp_path / "ckpt.npz"
    cg.save({"w": np.arange(6, dtype=np.float64).reshape(2, 3)}, str(path))
    return path, path.read_bytes()


def _big_dict():
    rng = np.random.default_rng(2)
    return {f"layer{i}.weight": rng.standard_normal((64, 64)) for i in range(4)}


def _assert_old_file_intact(tmp_path, path, old_bytes):
    assert path.read_bytes() == old_bytes
    with np.load(path, allow_pickle=False) as z:
        np.testing.assert_array_equal(z["w"], np.arange(6, dtype=np.float64).reshape(2, 3))
    back = cg.load(str(path))
    assert list(back) == ["w"]
    assert sorted(os.listdir(tmp_path)) == ["ckpt.npz"], "stray temporary file left behind"


def test_interrupted_array_write_leaves_old_file(tmp_path, monkeypatch):
    """Writing fails after one array has been written: partial output exists, then a crash."""
    path, old = _old_file(tmp_path)
    real_write_array = npformat.write_array
    calls = {"n": 0}

    def failing_write_array(fp, array, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] >= 2:
            fp.write(b"\x93NUMPY partial garbage")  # some bytes of the second array ...
            raise _Boom("disk full")  # ... then the failure
        return real_write_array(fp, array, *args, **kwargs)

    monkeypatch.setattr(npformat, "write_array", failing_write_array)
    with pytest.raises(_Boom):
        cg.save(_big_dict(), str(path))
    assert calls["n"] >= 2, "cg.save did not write through numpy.lib.format.write_array"
    monkeypatch.undo()
    _assert_old_file_intact(tmp_path, path, old)


def test_interrupted_zip_write_leaves_old_file(tmp_path, monkeypatch):
    """The same crash one level lower: the zip member stream fails midway."""
    path, old = _old_file(tmp_path)
    real_open = zipfile.ZipFile.open
    calls = {"n": 0}

    def failing_open(self, name, mode="r", *args, **kwargs):
        handle = real_open(self, name, mode, *args, **kwargs)
        if mode != "w":
            return handle
        calls["n"] += 1
        if calls["n"] < 2:
            return handle
        real_write = handle.write

        def write(data):
            real_write(bytes(data)[:10])
            raise _Boom("I/O error")

        handle.write = write
        return handle

    monkeypatch.setattr(zipfile.ZipFile, "open", failing_open)
    with pytest.raises(_Boom):
        cg.save(_big_dict(), str(path))
    assert calls["n"] >= 2, "cg.save did not write zip members through ZipFile.open"
    monkeypatch.undo()
    _assert_old_file_intact(tmp_path, path, old)


def test_failure_before_rename_leaves_old_file(tmp_path, monkeypatch):
    """Everything written, then the final os.replace fails."""
    path, old = _old_file(tmp_path)
    calls = {"n": 0}

    def failing_replace(src, dst, *args, **kwargs):
        calls["n"] += 1
        raise _Boom("rename failed")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(_Boom):
        cg.save(_big_dict(), str(path))
    monkeypatch.undo()
    assert calls["n"] == 1, "cg.save should finish with one os.replace of the temporary file"
    _assert_old_file_intact(tmp_path, path, old)


def test_temporary_file_is_in_the_same_directory(tmp_path, monkeypatch):
    path = tmp_path / "sub" / "m.npz"
    path.parent.mkdir()
    seen = []
    real_replace = os.replace

    def spy(src, dst, *args, **kwargs):
        seen.append((os.fspath(src), os.fspath(dst)))
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", spy)
    cg.save({"a": np.ones(3)}, str(path))
    monkeypatch.undo()
    assert len(seen) == 1
    src, dst = seen[0]
    assert os.path.dirname(os.path.abspath(src)) == str(path.parent)
    assert os.path.abspath(dst) == str(path)
    assert os.listdir(path.parent) == ["m.npz"]


def test_interrupted_first_save_leaves_nothing(tmp_path, monkeypatch):
    path = tmp_path / "new.npz"
    real_write_array = npformat.write_array

    def failing(fp, array, *a, **k):
        real_write_array(fp, array, *a, **k)
        raise _Boom("crash")

    monkeypatch.setattr(npformat, "write_array", failing)
    with pytest.raises(_Boom):
        cg.save(_big_dict(), str(path))
    monkeypatch.undo()
    assert os.listdir(tmp_path) == []


def test_optimizer_state_dict_through_save_load(tmp_path):
    # torch.save(opt.state_dict()) ports to cg.save: resume gives the same trajectory
    rng = np.random.default_rng(4)
    x = cg.tensor(rng.standard_normal((8, 6)), dtype=cg.float64)
    t = cg.tensor(rng.integers(0, 3, 8), dtype=cg.int64)

    def steps(model, opt, n):
        for _ in range(n):
            opt.zero_grad()
            nn.CrossEntropyLoss()(model(x), t).backward()
            opt.step()

    ref = mlp().double()
    start = ref.state_dict()
    ref_opt = cg.optim.Adam(ref.parameters(), lr=0.01)
    steps(ref, ref_opt, 6)

    a = mlp().double()
    a.load_state_dict(start)
    a_opt = cg.optim.Adam(a.parameters(), lr=0.01)
    steps(a, a_opt, 3)
    cg.save(a.state_dict(), str(tmp_path / "m.npz"))
    cg.save(a_opt.state_dict(), str(tmp_path / "o.npz"))
    with np.load(tmp_path / "o.npz", allow_pickle=False) as z:
        assert len(z.files) >= 1

    b = mlp().double()
    b.load_state_dict(cg.load(str(tmp_path / "m.npz")))
    b_opt = cg.optim.Adam(b.parameters(), lr=0.01)
    b_opt.load_state_dict(cg.load(str(tmp_path / "o.npz")))
    steps(b, b_opt, 3)
    for p, q in zip(ref.parameters(), b.parameters()):
        assert arr(p).tobytes() == arr(q).tobytes()

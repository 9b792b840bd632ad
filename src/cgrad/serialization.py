"""cg.save / cg.load: state dicts as .npz files, with no pickles, written atomically.

A flat {name: array} dict (a Module's state_dict) is stored as one array per
key. Nested structure (an optimizer's state_dict: dicts, lists, numbers,
strings, None) is stored as JSON text in one extra uint8 array, with every
array in it stored beside it and referenced by name: still no pickle.

save() writes to a temporary file in the target's directory, flushes and
fsyncs it, then renames it over the target (os.replace, atomic on POSIX), so
a crash or an error midway leaves the previous file intact.
"""

import json
import os
import tempfile
import zipfile
import zlib

import numpy as np

from .tensor import Tensor

_META = "__cgrad_structure__"


def _as_array(v):
    if isinstance(v, Tensor):
        return np.array(v.data, copy=True)
    return np.asarray(v)


def _flat(state):
    """{str: array-like} without nesting? Then it is stored as is."""
    return isinstance(state, dict) and all(
        isinstance(k, str) and k != _META and isinstance(v, (np.ndarray, Tensor))
        for k, v in state.items()
    )


def _encode(obj, arrays):
    """JSON-able structure; arrays are moved into `arrays` and referenced."""
    if isinstance(obj, (np.ndarray, Tensor)):
        name = f"a{len(arrays)}"
        arrays[name] = _as_array(obj)
        return {"__array__": name}
    if isinstance(obj, dict):
        return {"__dict__": [[_encode(k, arrays), _encode(v, arrays)] for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        return {
            "__tuple__" if isinstance(obj, tuple) else "__list__": [_encode(v, arrays) for v in obj]
        }
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return {"__float__": repr(float(obj))}
    if obj is None or isinstance(obj, str):
        return obj
    raise TypeError(f"save: cannot store a value of type {type(obj).__name__} without pickling")


def _decode(obj, arrays):
    if isinstance(obj, dict):
        if "__array__" in obj:
            return arrays[obj["__array__"]]
        if "__dict__" in obj:
            return {_decode(k, arrays): _decode(v, arrays) for k, v in obj["__dict__"]}
        if "__list__" in obj:
            return [_decode(v, arrays) for v in obj["__list__"]]
        if "__tuple__" in obj:
            return tuple(_decode(v, arrays) for v in obj["__tuple__"])
        if "__float__" in obj:
            return float(obj["__float__"])
    return obj


def save(obj, path):
    """Write a state dict (or any nesting of dicts, lists, arrays and numbers) to path."""
    path = os.fspath(path)
    if _flat(obj):
        arrays = {k: _as_array(v) for k, v in obj.items()}
    else:
        arrays = {}
        meta = json.dumps(_encode(obj, arrays))
        arrays[_META] = np.frombuffer(meta.encode("utf-8"), dtype=np.uint8)
    for k, a in arrays.items():
        if a.dtype.kind == "O":
            raise TypeError(f"save: entry {k!r} holds Python objects, which need pickling")
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".cgrad-save-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _declared_entries(fp):
    """Total entry count from the zip's end-of-central-directory record, or None."""
    try:
        fp.seek(0)
        end = zipfile._EndRecData(fp)  # private but long-stable
        return None if end is None else int(end[zipfile._ECD_ENTRIES_TOTAL])
    except (AttributeError, IndexError, TypeError):
        return None


def load(path):
    """Read what save() wrote. Never unpickles; a damaged file raises ValueError."""
    path = os.fspath(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            if not isinstance(z, np.lib.npyio.NpzFile):
                raise ValueError("not an .npz archive")
            # numpy reads exactly the bytes an array needs and may stop before
            # the member's end, where zipfile checks the CRC: check every CRC first
            bad = z.zip.testzip()
            if bad is not None:
                raise ValueError(f"member {bad!r} fails its CRC check")
            # a damaged central directory can hide members without any error:
            # compare with the entry count the end record declares
            declared = _declared_entries(z.zip.fp)
            if declared is not None and declared != len(z.zip.infolist()):
                raise ValueError(
                    f"the archive declares {declared} members but "
                    f"{len(z.zip.infolist())} were found"
                )
            arrays = {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise
    except (
        zipfile.BadZipFile,
        ValueError,
        EOFError,
        OSError,
        KeyError,
        NotImplementedError,
        RuntimeError,
        UnicodeDecodeError,
        zlib.error,
    ) as e:
        raise ValueError(f"load: {path} is not a readable cgrad .npz file ({e})") from None
    for k, a in arrays.items():
        if not isinstance(a, np.ndarray):  # a member that is not an .npy file
            raise ValueError(f"load: {path} holds a member {k!r} that is not an array")
    if _META not in arrays:
        return arrays
    meta = arrays.pop(_META)
    try:
        structure = json.loads(meta.tobytes().decode("utf-8"))
        return _decode(structure, arrays)
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f"load: {path} has a damaged structure record ({e})") from None

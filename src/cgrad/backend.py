"""Backend switch: the compiled kernels ("c", default) or pure NumPy ("numpy").

Both modules implement the interface in docs/kernels.md with the same
signatures; ops reach the active one as `backend.K`. The switch is global.
`use_backend(name)` switches at once and, used as a context manager,
switches back on exit.
"""

try:
    from . import _ckernels
except ImportError as exc:  # pragma: no cover - exercised only on a broken install
    raise ImportError(
        "cgrad's compiled kernels (cgrad._ckernels) are missing or failed to load "
        f"({exc}). Build them from the source tree with `pip install .` "
        "(or `make build` for a development install); this needs a C compiler, "
        "Cython>=3 and numpy."
    ) from exc

from . import _tape, numpy_backend

_BACKENDS = {"c": _ckernels, "numpy": numpy_backend}

K = _ckernels  # the active kernel module
_name = "c"


def get_backend():
    """The active backend's name: "c" or "numpy"."""
    return _name


def _set(name):
    global K, _name
    if name not in _BACKENDS:
        raise ValueError(f"use_backend: unknown backend {name!r}; choose 'c' or 'numpy'")
    K = _BACKENDS[name]
    _name = name
    _tape.set_kernels(K)  # the compiled tape caches the active module's functions


class use_backend:
    """Switch the backend globally; as a context manager, restore it on exit."""

    def __init__(self, name):
        self._prev = _name
        _set(name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _set(self._prev)
        return False


def set_num_threads(n):
    """Threads used by the compiled kernels."""
    n = int(n)
    if n < 1:
        raise ValueError(f"set_num_threads: expected a positive count, got {n}")
    _ckernels.set_num_threads(n)


def get_num_threads():
    return int(_ckernels.get_num_threads())


def config():
    """The compiled kernels' build and run-time configuration."""
    return dict(_ckernels.config())

"""Grad mode: whether ops record tape entries, per thread.

`no_grad`, `enable_grad` and `set_grad_enabled` are context managers and
decorators, as in torch. The flag lives in one thread-local object (`_mode`)
that the compiled tape reads on every op (see _wiring.py).
"""

import functools
import threading

__all__ = ["no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled"]


class _GradMode(threading.local):
    enabled = True


_mode = _GradMode()


def is_grad_enabled():
    """Whether ops run now record tape entries (in this thread)."""
    return _mode.enabled


class _GradSwitch:
    """Base of no_grad / enable_grad: a context manager and a decorator."""

    flag = True

    def __new__(cls, fn=None, *args, **kwargs):
        self = super().__new__(cls)
        if fn is not None and callable(fn) and cls is not set_grad_enabled:
            return self(fn)  # bare decorator: @cg.no_grad
        return self

    def __enter__(self):
        self._prev = _mode.enabled
        _mode.enabled = self.flag
        return self

    def __exit__(self, *exc):
        _mode.enabled = self._prev
        return False

    def __call__(self, fn):
        switch = type(self)

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with switch():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradSwitch):
    """Ops run inside record nothing. `with cg.no_grad():` or `@cg.no_grad()`."""

    flag = False


class enable_grad(_GradSwitch):
    """Ops run inside record as usual, even within no_grad."""

    flag = True


class set_grad_enabled(_GradSwitch):
    """Switch recording on or off; takes effect on construction, as in torch."""

    def __init__(self, mode):
        self.flag = bool(mode)
        self._prev = _mode.enabled
        _mode.enabled = self.flag

    def __call__(self, fn):
        flag = self.flag
        _mode.enabled = self._prev  # used as a decorator: undo the switch

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(flag):
                return fn(*args, **kwargs)

        return wrapper

"""Module and Parameter: the containers that hold a model's weights.

A Module registers every attribute that is a Parameter or a Module, in
assignment order, which fixes the names in `named_parameters()` and
`state_dict()` ("0.weight", "encoder.1.bias", ...), as in torch.
"""

from collections import OrderedDict, namedtuple

import numpy as np

from ..grad_mode import no_grad
from ..tensor import Tensor, to_array, zero_grads

IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class Parameter(Tensor):
    """A leaf tensor that requires grad and that a Module registers as a weight."""

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            arr = np.empty(0, dtype=np.float32)
        elif isinstance(data, Tensor):
            arr = data.data  # shares memory, as torch
        else:
            arr = to_array(data, None, "Parameter")
        if arr.dtype.kind != "f":
            raise TypeError(f"Parameter: only float tensors can be parameters, got {arr.dtype}")
        self.data = arr
        self._rg = False
        self.grad = None
        self.grad_fn = None
        self._out_idx = 0
        self._vc = data._vc if isinstance(data, Tensor) else [0]
        self.name = None
        self.requires_grad = requires_grad

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


class Module:
    """Base class of every layer and model: subclass it and define forward()."""

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "training", True)

    # ------------------------------------------------------------ registration
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError("cannot assign attributes before Module.__init__() is called")
        params, mods, bufs = self._parameters, self._modules, self._buffers
        for d in (params, mods, bufs):
            if (
                name in d
                and not (d is params and isinstance(value, Parameter))
                and not (d is mods and isinstance(value, Module))
                and not (d is bufs and isinstance(value, Tensor))
            ):
                if value is None:
                    d[name] = None
                    return
                del d[name]
        if isinstance(value, Parameter):
            params[name] = value
        elif isinstance(value, Module):
            mods[name] = value
        elif name in bufs:
            bufs[name] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name):
        d = self.__dict__
        for key in ("_parameters", "_modules", "_buffers"):
            if key in d and name in d[key]:
                return d[key][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for d in (self._parameters, self._modules, self._buffers):
            if name in d:
                del d[name]
                return
        object.__delattr__(self, name)

    def register_parameter(self, name, param):
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: {name} must be a Parameter or None")
        self._parameters[name] = param

    def register_buffer(self, name, tensor):
        self._buffers[name] = tensor

    def add_module(self, name, module):
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {name} must be a Module, got {type(module).__name__}")
        self._modules[name] = module

    register_module = add_module

    # ------------------------------------------------------------ calling
    def forward(self, *args, **kwargs):
        raise NotImplementedError(
            f'Module [{type(self).__name__}] is missing the required "forward" function'
        )

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # ------------------------------------------------------------ traversal
    def named_modules(self, memo=None, prefix=""):
        memo = set() if memo is None else memo
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, m in self._modules.items():
            if m is not None:
                yield from m.named_modules(memo, f"{prefix}.{name}" if prefix else name)

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        seen = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self):
        for _, m in self.named_children():
            yield m

    def named_parameters(self, prefix="", recurse=True):
        seen = set()
        mods = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for mprefix, m in mods:
            for name, p in m._parameters.items():
                if p is None or id(p) in seen:
                    continue
                seen.add(id(p))
                yield (f"{mprefix}.{name}" if mprefix else name), p

    def parameters(self, recurse=True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix="", recurse=True):
        mods = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for mprefix, m in mods:
            for name, b in m._buffers.items():
                if b is not None:
                    yield (f"{mprefix}.{name}" if mprefix else name), b

    def buffers(self, recurse=True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    # ------------------------------------------------------------ state
    def zero_grad(self, set_to_none=True):
        zero_grads(self.parameters(), set_to_none)

    def train(self, mode=True):
        object.__setattr__(self, "training", bool(mode))
        for m in self.children():
            m.train(mode)
        return self

    def eval(self):
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def apply(self, fn):
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def _named_state(self):
        """Every parameter and buffer under its state_dict key (shared ones once per name)."""
        for mprefix, m in self.named_modules(memo=set()):
            for d in (m._parameters, m._buffers):
                for name, t in d.items():
                    if t is not None:
                        yield (f"{mprefix}.{name}" if mprefix else name), t

    def state_dict(self):
        """An ordered name -> ndarray copy of every parameter and buffer."""
        return OrderedDict((k, np.array(t.data, copy=True)) for k, t in self._named_state())

    def load_state_dict(self, state_dict, strict=True):
        """Copy values in by name. With strict, a missing or unexpected key raises;
        a shape mismatch always raises. Each error names the key."""
        own = OrderedDict(self._named_state())
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        if strict and (missing or unexpected):
            parts = []
            if missing:
                parts.append("missing key(s): " + ", ".join(f'"{k}"' for k in missing))
            if unexpected:
                parts.append("unexpected key(s): " + ", ".join(f'"{k}"' for k in unexpected))
            raise RuntimeError(f"load_state_dict for {type(self).__name__}: " + "; ".join(parts))
        for k, t in own.items():
            if k not in state_dict:
                continue
            v = state_dict[k]
            arr = v.data if isinstance(v, Tensor) else np.asarray(v)
            if arr.shape != t.data.shape:
                raise RuntimeError(
                    f"load_state_dict for {type(self).__name__}: size mismatch for "
                    f'"{k}": the checkpoint has shape {arr.shape}, the model '
                    f"has {t.data.shape}"
                )
        with no_grad():
            for k, t in own.items():
                if k in state_dict:
                    v = state_dict[k]
                    arr = v.data if isinstance(v, Tensor) else np.asarray(v)
                    t.data[...] = arr
                    t._vc[0] += 1
        return IncompatibleKeys(missing, unexpected)

    def _cast(self, dtype):
        for _, t in self._named_state():
            if t.data.dtype.kind == "f" and t.data.dtype != dtype:
                t.data = t.data.astype(dtype)
                t._vc[0] += 1
                if t.grad is not None:
                    t.grad = Tensor._make(t.grad.data.astype(dtype))
        return self

    def double(self):
        return self._cast(np.dtype(np.float64))

    def float(self):
        return self._cast(np.dtype(np.float32))

    def to(self, dtype):
        if isinstance(dtype, str) and dtype == "cpu":
            return self
        return self._cast(np.dtype(dtype))

    def cpu(self):
        return self

    # ------------------------------------------------------------ repr
    def extra_repr(self):
        return ""

    def __repr__(self):
        lines = []
        for name, m in self._modules.items():
            sub = repr(m).replace("\n", "\n  ")
            lines.append(f"({name}): {sub}")
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not lines:
            return head + ")"
        return head + "\n  " + "\n  ".join(lines) + "\n)"

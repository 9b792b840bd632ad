"""The Python surface of the op table: Tensor methods, function forms,
nn.functional forms and activation modules, built from the rows.

Importing this module attaches the methods to Tensor (`t.tanh()`,
`t.leaky_relu(0.2)`, `t.relu_()`, `t.sum(dim)`, `t.softmax(-1)`, `t.add(u)`).
`function_forms()`, `functional_forms()` and `module_class(row, ...)` make
`cg.tanh(t)`, `F.relu(x, inplace=False)` and `nn.ReLU()`; functional_core.py,
nn/functional.py and nn/activation.py call them.

Each callable is generated from a small template per family, with the row's
parameter names and defaults as its real signature (so `help()` and
keyword arguments work as in torch), and its math and derivative from the
row as its docstring. Rows with a fast path call the compiled tape
(`_tape.unary` / `_tape.binary` with the op's FastOp record); the others
take the generic route (tensor.unary, tensor.binary, ...).
"""

import linecache

from . import _tape, _wiring, ops, optable  # noqa: F401  (_wiring: records exist first)
from .tensor import Tensor, binary, reduce, softmax_like, to_array, unary

__all__ = ["methods_of", "function_forms", "functional_forms", "module_class"]


# ---------------------------------------------------------------- code generation
def _compile(name, src, env, where):
    """Define function `name` from `src` in namespace env; the source is
    registered with linecache so tracebacks show the generated lines."""
    filename = f"<cgrad op table: {where}>"
    linecache.cache[filename] = (len(src), None, src.splitlines(True), filename)
    exec(compile(src, filename, "exec"), env)
    return env[name]


def _param_env(r):
    """Defaults, converters and the row check, named for the templates."""
    env = {"OP_NAME": r.name, "CHECK": r.check}
    for p in r.params:
        env["D_" + p.name] = p.default
        env["CV_" + p.name] = p.convert
    return env


def _sig(r):
    return "".join(f", {p.name}=D_{p.name}" for p in r.params)


def _kernel_args(r):
    """The tuple expression of the kernel's parameters, converted."""
    items = [f"CV_{p.name}(OP_NAME, {p.name!r}, {p.name})" for p in r.params]
    return "(" + "".join(i + ", " for i in items) + ")"


def _check_line(r):
    if r.check is None:
        return ""
    values = ", ".join(f"{p.name!r}: {p.name}" for p in r.params)
    return f"    CHECK(OP_NAME, {{{values}}})\n"


def _doc(r):
    return f"{r.name}: {r.math}.\n\nDerivative: {r.formula}."


# ---------------------------------------------------------------- Tensor methods
def _unary_env(r):
    env = _param_env(r)
    env.update(
        OP=ops.OP_CLASSES[r.name],
        REC=_tape.fast_op(r.name) if r.fast else None,
        fast=_tape.unary,
        generic=unary,
    )
    return env


def _unary_call(r, t):
    """The expression that applies unary op r to tensor `t` (out of place)."""
    return f"{'fast(REC' if r.fast else 'generic(OP'}, {t}, {_kernel_args(r)})"


def _unary_inplace_call(r, t):
    return f"{t}._inplace_unary(OP, {_kernel_args(r)}, {r.name + '_'!r})"


def _unary_methods(r):
    env = _unary_env(r)
    if r.fast and not r.params:  # the common case, compiled: no Python frame
        out = {r.method: _tape.unary_method(env["REC"], r.method, _doc(r))}
    else:
        src = (
            f"def {r.method}(self{_sig(r)}):\n{_check_line(r)}    return {_unary_call(r, 'self')}\n"
        )
        out = {r.method: _compile(r.method, src, env, r.name)}
    if r.inplace_method:
        name = r.method + "_"
        src = (
            f"def {name}(self{_sig(r)}):\n{_check_line(r)}"
            f"    return {_unary_inplace_call(r, 'self')}\n"
        )
        out[name] = _compile(name, src, env, r.name + "_")
    return out


def _binary_methods(r):
    env = {
        "OP": ops.OP_CLASSES[r.name],
        "REC": _tape.fast_op(r.name) if r.fast else None,
        "fast": _tape.binary,
        "generic": binary,
    }
    call = "fast(REC, self, other)" if r.fast else "generic(OP, self, other)"
    src = f"def {r.method}(self, other):\n    return {call}\n"
    return {r.method: _compile(r.method, src, env, r.name)}


def _reduce_methods(r):
    env = {"OP": ops.OP_CLASSES[r.name], "reduce": reduce}
    src = (
        f"def {r.method}(self, dim=None, keepdim=False, axis=None):\n"
        f"    return reduce(OP, self, dim, keepdim, axis)\n"
    )
    return {r.method: _compile(r.method, src, env, r.name)}


def _softmax_methods(r):
    env = {"OP": ops.OP_CLASSES[r.name], "softmax_like": softmax_like}
    src = (
        f"def {r.method}(self, dim=-1, axis=None):\n    return softmax_like(OP, self, dim, axis)\n"
    )
    return {r.method: _compile(r.method, src, env, r.name)}


_METHOD_BUILDERS = {
    "unary": _unary_methods,
    "binary": _binary_methods,
    "reduce": _reduce_methods,
    "softmax": _softmax_methods,
}


def methods_of(r):
    """{name: function} of the Tensor methods row r gets (its aliases included)."""
    build = _METHOD_BUILDERS.get(r.family)
    if build is None or r.method is None:
        return {}
    out = build(r)
    for f in out.values():
        f.__doc__ = _doc(r)
        f.__qualname__ = "Tensor." + f.__name__
    for alias in r.aliases:
        out[alias] = out[r.method]
    return out


def _install():
    for r in optable.rows():
        for name, fn in methods_of(r).items():
            if name in Tensor.__dict__:  # one definition: a clash is a bug, not an override
                raise RuntimeError(
                    f"op table: Tensor.{name} is both written in tensor.py and built "
                    f"from the {r.name!r} row"
                )
            setattr(Tensor, name, fn)


_install()


# ---------------------------------------------------------------- function forms
def _as_tensor(x, who):
    return x if isinstance(x, Tensor) else Tensor._make(to_array(x, None, who))


def _function_src(r, name):
    """cg.<name>(input, ...): the op on as_tensor(input), with the method's arguments."""
    if r.family == "unary":
        return (
            f"def {name}(input{_sig(r)}):\n    t = as_tensor(input, {name!r})\n"
            f"{_check_line(r)}    return {_unary_call(r, 't')}\n"
        )
    if r.family == "binary":
        sig, args = ", other", "other"
    elif r.family == "reduce":
        sig, args = ", dim=None, keepdim=False, axis=None", "dim, keepdim, axis"
    else:
        sig, args = ", dim=-1, axis=None", "dim, axis"
    return f"def {name}(input{sig}):\n    return as_tensor(input, {name!r}).{r.method}({args})\n"


def function_forms():
    """{name: function} for `cg.<name>(input, ...)`, for every row with function=True."""
    out = {}
    for r in optable.rows():
        if not r.function or r.family not in _METHOD_BUILDERS:
            continue
        for name in (r.method or r.name,) + r.aliases:
            env = _unary_env(r) if r.family == "unary" else {}
            env["as_tensor"] = _as_tensor
            fn = _compile(name, _function_src(r, name), env, "cg." + name)
            fn.__doc__ = _doc(r)
            out[name] = fn
    return out


def functional_forms():
    """{name: function} for `cg.nn.functional.<name>(input, ...)` of the
    unary and softmax rows with functional=True (torch's signatures,
    `inplace=` where torch has it)."""
    out = {}
    for r in optable.rows():
        if not r.functional or r.family not in ("unary", "softmax"):
            continue
        if r.family == "softmax":
            env = {"OP": ops.OP_CLASSES[r.name], "softmax_like": softmax_like}
            src = (
                f"def {r.name}(input, dim=-1):\n"
                f"    return softmax_like(OP, as_tensor(input, {r.name!r}), dim)\n"
            )
        else:
            env = _unary_env(r)
            body = f"    t = as_tensor(input, {r.name!r})\n{_check_line(r)}"
            if r.inplace:
                body += (
                    f"    return {_unary_inplace_call(r, 't')} if inplace "
                    f"else {_unary_call(r, 't')}\n"
                )
            else:
                body += f"    return {_unary_call(r, 't')}\n"
            src = f"def {r.name}(input{_sig(r)}{', inplace=False' if r.inplace else ''}):\n" + body
        env["as_tensor"] = _as_tensor
        fn = _compile(r.name, src, env, "F." + r.name)
        fn.__doc__ = _doc(r)
        out[r.name] = fn
    return out


# ---------------------------------------------------------------- modules
def module_class(r, module_base, functional):
    """The nn.Module class of row r (unary or softmax family): its
    parameters are constructor arguments (checked when constructed), and
    forward calls `functional.<name>`."""
    if r.family == "softmax":
        params = (optable.Param("dim", -1, None),)
    else:
        params = r.params
    names = [p.name for p in params] + (["inplace"] if r.inplace else [])
    sig = "".join(f", {p.name}=D_{p.name}" for p in params) + (
        ", inplace=False" if r.inplace else ""
    )
    lines = [f"def __init__(self{sig}):", "    Base.__init__(self)"]
    for p in params:
        if p.convert is not None:
            lines.append(f"    CV_{p.name}(MOD_NAME, {p.name!r}, {p.name})")
        lines.append(f"    self.{p.name} = {p.name}")
    if r.inplace:
        lines.append("    self.inplace = bool(inplace)")
    if r.check is not None:
        values = ", ".join(f"{p.name!r}: {p.name}" for p in params)
        lines.append(f"    CHECK(MOD_NAME, {{{values}}})")
    kw = ", ".join(f"{n}=self.{n}" for n in names)
    lines += ["", "def forward(self, input):", f"    return FN(input{', ' if kw else ''}{kw})"]
    env = _param_env(r)
    for p in params:  # (softmax's dim is a module argument, not a row parameter)
        env["D_" + p.name], env["CV_" + p.name] = p.default, p.convert
    env.update(Base=module_base, MOD_NAME=r.module, FN=getattr(functional, r.name))
    init = _compile("__init__", "\n".join(lines) + "\n", env, "nn." + r.module)

    def extra_repr(self):
        parts = [f"{p.name}={getattr(self, p.name)!r}" for p in params]
        if r.inplace and self.inplace:
            parts.append("inplace=True")
        return ", ".join(parts)

    body = {
        "__init__": init,
        "forward": env["forward"],
        "extra_repr": extra_repr,
        "__doc__": f"nn.{r.module}: {r.math}.\n\nDerivative: {r.formula}.",
        "__module__": module_base.__module__.rsplit(".", 1)[0] + ".activation",
        "row": r,
    }
    if r.fuse is not None and not params:
        body["fused"] = r.fuse()  # Sequential fuses Linear + this module into one kernel
    elif r.fuse is not None:
        fuse_params = [p.name for p in params]

        def fused(self):
            """The fused-linear activation this module is (Sequential fuses Linear + it)."""
            return r.fuse(**{n: getattr(self, n) for n in fuse_params})

        body["fused"] = property(fused)
    return type(r.module, (module_base,), body)

"""The op table: every op cgrad records on the tape, declared once.

Each row (an `OpDef`) says what the op is and how every layer exposes it:

    name        the op's name: Node.name, the prefix of its kernels, the
                Tensor method and function names unless they are overridden
    family      how the op is built (below); ops of one family share their
                forward/backward code, their method signature and explain's view
    inputs      the tensor inputs, in order
    params      the non-tensor arguments (Param: name, default, converter)
    saves       what backward reads: input names and/or "out". Only these are
                kept on the tape entry and version-checked, so an in-place
                change to anything else does not break backward (as in torch)
    math        the forward, as text
    formula     the derivative, as text: explain's table and the API reference
    dtypes      the dtype rule (DTYPE_RULES)
    fast        whether calls on float tensors take the compiled fast path
                (_tape: the kernel is called from C, the backward is compiled)
    kernels     the backend kernels (forward, backward) by name; both
                backends (the C kernels and numpy_backend) define each name
    method      the Tensor method name (None: no method); `inplace_method`
                adds `<method>_()` for unary ops
    function    whether `cg.<name>(t, ...)` exists
    functional  whether `cg.nn.functional.<name>(input, ...)` exists
    module      the nn.Module class built for it (None: none)
    inplace     whether the F form and the module take `inplace=`, as torch's
    aliases     other names of the method and function (clamp: clip)
    fuse        the fused-linear activation this op can be (Sequential fuses
                Linear + it into one kernel), as a function of the params
    torch       the torch function with the same semantics (tests compare)
    domain      the input range tests sample from (log: positive numbers)
    sample      keyword arguments tests call the op with (default: the
                parameters' defaults)
    doc         for special ops: how users reach the op (the API reference)

Families:
    unary       y = f(x), elementwise; kernels <name>_forward(y, x, *params)
                and <name>_backward(dx, dy, x, y, *params); x or y may be None
                when the row does not save it
    binary      out = a (op) b with broadcasting; <name>_forward(out, a, b),
                <name>_backward(da, db, dout, a, b, out)
    reduce      out = reduction over dims; <name>_forward(out, x, axes), ...
    softmax     along one dim: <name>_forward(y, x, axis), <name>_backward(dx, dy, y, axis)
    loss        l = f(input, target) per element, reduced in the kernel:
                <kernel>_forward(out, x, t, reduction code), ...
    special     one hand-written op class (ops.py, ops_nn.py) whose name,
                saves and docs come from its row

The math itself lives twice, by design: in C (csrc/) and in NumPy
(numpy_backend/), which check each other. This table holds no math, only the
declarations every other layer is built from: the op classes (ops.py), the
Tensor methods and function forms (methods.py), the nn activation modules
(nn/activation.py), the fast-path registration (_wiring.py), explain's and
check_grads' formulas and replay, and the API reference (docs/api.md, made
by tools/gen_api.py). tests/test_optable.py checks every row on both
backends and both float dtypes, so a forgotten piece fails with the op's name.
"""

import math
import numbers
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "Param",
    "OpDef",
    "OPS",
    "row",
    "rows",
    "DTYPE_RULES",
    "FAMILIES",
    "REDUCTIONS",
    "LINEAR_ACTS",
]

FAMILIES = ("unary", "binary", "reduce", "softmax", "loss", "special")

DTYPE_RULES = {
    "float": "float32/float64 in, the same out; integer and bool inputs are computed in float32",
    "promote": (
        "the operands' promoted dtype (torch.result_type); integer-only "
        "operands compute in NumPy without grad"
    ),
    "same": "the input's dtype, whatever it is (no arithmetic on values)",
    "sum": (
        "float32/float64 in, the same out; integer and bool tensors that do not "
        "require grad sum to int64, as torch"
    ),
}


# ---------------------------------------------------------------- parameters
def real(op, name, value):
    """A real number, as a Python float; a TypeError naming the op otherwise."""
    if hasattr(value, "data") and hasattr(value, "grad_fn"):  # a one-element Tensor
        if value.data.size != 1:
            raise TypeError(
                f"{op}: {name} must be a real number, got a tensor of shape {value.data.shape}"
            )
        value = value.data.reshape(())[()]
    if isinstance(value, (str, bytes, complex)) or not _is_real(value):
        raise TypeError(f"{op}: {name} must be a real number, got {type(value).__name__}")
    return float(value)


def _is_real(v):
    if isinstance(v, np.ndarray):
        return v.size == 1 and v.dtype.kind in "fiub"
    return isinstance(v, numbers.Real)


def real_or(none_value):
    """A real number, or `none_value` when the argument is None (clamp's bounds)."""

    def convert(op, name, value):
        return none_value if value is None else real(op, name, value)

    convert.__doc__ = f"a real number, or {none_value} for None"
    return convert


def choice(mapping):
    """One of the given strings, passed to the kernel as its mapped number."""

    def convert(op, name, value):
        if not isinstance(value, str) or value not in mapping:
            opts = ", ".join(repr(k) for k in mapping)
            raise ValueError(f"{op}: {name} must be one of {opts}, got {value!r}")
        return mapping[value]

    convert.__doc__ = "one of " + ", ".join(repr(k) for k in mapping)
    return convert


@dataclass(frozen=True)
class Param:
    """A non-tensor argument: its name (torch's), default, and how a user's
    value becomes the kernel's (`convert(op, name, value)`, raising a
    TypeError or ValueError that names the op)."""

    name: str
    default: object = None
    convert: object = real
    doc: str = ""


def at_least_one(*names):
    """A row check: at least one of these parameters must be given."""

    def check(op, values):
        if all(values[n] is None for n in names):
            raise ValueError(f"{op}: at least one of {' and '.join(names)} must be given")

    return check


# ---------------------------------------------------------------- rows
@dataclass(frozen=True)
class OpDef:
    """One row of the op table; the fields are described at the top of this module."""

    name: str
    family: str
    math: str
    formula: str
    inputs: tuple = ("x",)
    params: tuple = ()
    saves: tuple = ()
    dtypes: str = "float"
    fast: bool = False
    kernels: tuple = None
    method: object = True  # True: the op's name; a str: that name; None: no method
    inplace_method: bool = False
    function: bool = False
    functional: bool = False
    module: str = None
    inplace: bool = False
    aliases: tuple = ()
    check: object = None
    fuse: object = None
    torch: str = None
    domain: tuple = (-3.0, 3.0)
    sample: dict = field(default_factory=dict)
    doc: str = ""

    def __post_init__(self):
        if self.family not in FAMILIES:
            raise ValueError(f"op table: {self.name}: unknown family {self.family!r}")
        if self.dtypes not in DTYPE_RULES:
            raise ValueError(f"op table: {self.name}: unknown dtype rule {self.dtypes!r}")
        for s in self.saves:
            if s not in self.inputs and s != "out":
                raise ValueError(
                    f"op table: {self.name}: saves {s!r}, which is neither an "
                    f"input {self.inputs} nor 'out'"
                )
        if self.kernels is None and self.family != "special":
            object.__setattr__(self, "kernels", (self.name + "_forward", self.name + "_backward"))
        if self.method is True:
            object.__setattr__(self, "method", self.name)

    @property
    def saved_inputs(self):
        """Indices of the inputs backward reads (what apply() version-checks)."""
        return tuple(i for i, n in enumerate(self.inputs) if n in self.saves)

    @property
    def saves_output(self):
        return "out" in self.saves


def _unary(name, math, formula, saves, torch, **kw):
    kw.setdefault("inplace_method", True)
    kw.setdefault("function", True)
    return OpDef(
        name, "unary", math, formula, inputs=("x",), saves=saves, fast=True, torch=torch, **kw
    )


def _binary(name, math, formula, saves, torch, fast=True, domain=(-3.0, 3.0)):
    return OpDef(
        name,
        "binary",
        math,
        formula,
        inputs=("a", "b"),
        saves=saves,
        dtypes="promote",
        fast=fast,
        function=True,
        torch=torch,
        domain=domain,
        doc=f"also the operator {_OPERATORS[name]}",
    )


def _loss(name, kernel, module, math, formula, **kw):
    return OpDef(
        name,
        "loss",
        math,
        formula,
        inputs=("input", "target"),
        params=(_P_REDUCTION,),
        saves=("input", "target"),
        kernels=(kernel + "_forward", kernel + "_backward"),
        method=None,
        functional=True,
        torch="torch.nn.functional." + name,
        doc=f"`F.{name}(input, target, reduction='mean')`, `nn.{module}`",
        **kw,
    )


def _move(name, math, formula, torch, inputs=("x",), kernels=(), doc=""):
    return OpDef(
        name,
        "special",
        math,
        formula,
        inputs=inputs,
        dtypes="same",
        kernels=kernels,
        method=None,
        torch=torch,
        doc=doc,
    )


_INF = math.inf
_OPERATORS = {"add": "a + b", "sub": "a - b", "mul": "a * b", "div": "a / b", "pow": "a ** b"}

# The reductions of the losses, as the kernels' code (cgrad.h CG_REDUCTION_*).
REDUCTIONS = {"none": 0, "mean": 1, "sum": 2}

# The activations the fused linear kernel applies: name -> (its `act` code,
# as cgrad.h's CG_ACT_*; the unary row whose math it is; that row's kernel
# parameters). The kernel keeps the pre-activation z when the row saves x.
LINEAR_ACTS = {
    None: (0, None, ()),
    "relu": (1, "relu", ()),
    "gelu": (2, "gelu", (0.0,)),
    "gelu_tanh": (3, "gelu", (1.0,)),
}
_DIMS = (
    Param("dim", None, None, "an int, a tuple of ints, or None for every dim"),
    Param("keepdim", False, None),
)
_P_REDUCTION = Param("reduction", "mean", choice(REDUCTIONS))
_P_IGNORE = Param("ignore_index", -100, None, "a target value that contributes nothing")

# The table: one call per op, grouped by family. The formatter would put each
# argument of most rows on a line of its own.
# fmt: off
_ROWS = [
    # ------------------------------------------------------------ unary
    _unary("neg", "y = -x", "d(-x)/dx = -1", (), "torch.neg"),
    _unary("exp", "y = e^x", "d exp(x)/dx = exp(x) = y", ("out",), "torch.exp"),
    _unary("log", "y = ln x", "d ln(x)/dx = 1/x", ("x",), "torch.log", domain=(0.1, 4.0)),
    _unary("sqrt", "y = sqrt(x)", "d sqrt(x)/dx = 1/(2 sqrt(x)) = 1/(2y)", ("out",),
           "torch.sqrt", domain=(0.1, 4.0)),
    _unary("abs", "y = |x|", "d |x|/dx = sign(x)  (0 at 0)", ("x",), "torch.abs"),
    _unary("sin", "y = sin x", "d sin(x)/dx = cos(x)", ("x",), "torch.sin"),
    _unary("cos", "y = cos x", "d cos(x)/dx = -sin(x)", ("x",), "torch.cos"),
    _unary("tanh", "y = tanh x", "d tanh(x)/dx = 1 - tanh(x)^2 = 1 - y^2", ("out",),
           "torch.tanh", functional=True, module="Tanh"),
    _unary("sigmoid", "y = 1 / (1 + e^-x)", "d s(x)/dx = s(x) (1 - s(x)) = y (1 - y)",
           ("out",), "torch.sigmoid", functional=True, module="Sigmoid"),
    _unary("relu", "y = max(x, 0)", "d relu(x)/dx = 1[x > 0] = 1[y > 0]", ("out",),
           "torch.relu", functional=True, module="ReLU", inplace=True,
           fuse=lambda: "relu"),
    _unary("silu", "y = x sigmoid(x)", "d silu(x)/dx = s (1 + x (1 - s)),  s = sigmoid(x)",
           ("x",), "torch.nn.functional.silu", method=None, function=False,
           inplace_method=False, functional=True, module="SiLU", inplace=True),
    _unary("mish", "y = x tanh(softplus(x))",
           "d mish(x)/dx = t + x sigmoid(x) (1 - t^2),  t = tanh(softplus(x))", ("x",),
           "torch.nn.functional.mish", method=None, function=False, inplace_method=False,
           functional=True, module="Mish", inplace=True),
    _unary("leaky_relu", "y = x if x > 0 else negative_slope * x",
           "d leaky_relu(x)/dx = 1 if x > 0 else negative_slope", ("x",),
           "torch.nn.functional.leaky_relu",
           params=(Param("negative_slope", 0.01, doc="the slope for x <= 0"),),
           functional=True, module="LeakyReLU", inplace=True, sample={"negative_slope": 0.2}),
    _unary("softplus", "y = ln(1 + e^(beta x)) / beta, or x where beta x > threshold",
           "d softplus(x)/dx = sigmoid(beta x)  (1 where beta x > threshold)", ("x",),
           "torch.nn.functional.softplus",
           params=(Param("beta", 1.0), Param("threshold", 20.0)),
           functional=True, module="Softplus", inplace_method=False,
           sample={"beta": 1.5, "threshold": 2.0}),
    _unary("gelu", "y = x Phi(x), or the tanh form 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))",
           "d gelu(x)/dx = Phi(x) + x phi(x)  (the tanh form: its own derivative)", ("x",),
           "torch.nn.functional.gelu",
           params=(Param("approximate", "none", choice({"none": 0.0, "tanh": 1.0})),),
           functional=True, module="GELU", inplace_method=False,
           fuse=lambda approximate: "gelu" if approximate == "none" else "gelu_tanh",
           sample={"approximate": "tanh"}),
    _unary("clamp", "y = min(max(x, min), max)", "d clamp(x)/dx = 1[min <= x <= max]", ("x",),
           "torch.clamp",
           params=(Param("min", None, real_or(-_INF), "lower bound, or None"),
                   Param("max", None, real_or(_INF), "upper bound, or None")),
           check=at_least_one("min", "max"), aliases=("clip",),
           sample={"min": -0.5, "max": 1.0}),

    # ------------------------------------------------------------ binary
    _binary("add", "out = a + b", "d(a + b)/da = 1,  d(a + b)/db = 1", (), "torch.add"),
    _binary("sub", "out = a - b", "d(a - b)/da = 1,  d(a - b)/db = -1", (), "torch.sub"),
    _binary("mul", "out = a * b", "d(a b)/da = b,  d(a b)/db = a", ("a", "b"), "torch.mul"),
    _binary("div", "out = a / b", "d(a/b)/da = 1/b,  d(a/b)/db = -a/b^2 = -out/b",
            ("a", "b", "out"), "torch.div"),
    _binary("pow", "out = a ** b",
            "d(a^b)/da = b a^(b-1),  d(a^b)/db = a^b ln(a)  (0 where a = 0 and b >= 0)",
            ("a", "b", "out"), "torch.pow", fast=False, domain=(0.2, 2.0)),

    # ------------------------------------------------------------ reductions
    OpDef("sum", "reduce", "out = the sum of x over dim (every element when dim is None)",
          "d sum(x)/dx_i = 1  (G broadcast back over the summed dims)",
          params=_DIMS, dtypes="sum", function=True, torch="torch.sum"),
    OpDef("mean", "reduce", "out = the mean of x over dim",
          "d mean(x)/dx_i = 1/n  (n = the number of elements averaged)",
          params=_DIMS, function=True, torch="torch.mean"),
    OpDef("amax", "reduce", "out = the largest x over dim (NaN if any is NaN)",
          "d max(x)/dx_i = 1[x_i = max] / (the number of maxima)",
          params=_DIMS, saves=("x", "out"), function=True, torch="torch.amax"),

    # ------------------------------------------------------------ softmax
    OpDef("softmax", "softmax", "y = e^x / sum(e^x) along dim",
          "dy_i/dx_j = y_i (1[i=j] - y_j):  dL/dx = y (G - sum(G y))",
          params=(Param("dim", -1),), saves=("out",), function=True, functional=True,
          module="Softmax", torch="torch.softmax"),
    OpDef("log_softmax", "softmax", "y = x - logsumexp(x) along dim",
          "dy_i/dx_j = 1[i=j] - softmax(x)_j:  dL/dx = G - e^y sum(G)",
          params=(Param("dim", -1),), saves=("out",), function=True, functional=True,
          module="LogSoftmax", torch="torch.log_softmax"),

    # ------------------------------------------------------------ matmul, linear
    OpDef("matmul", "special", "C = A @ B (1-D, 2-D and batched, as np.matmul)",
          "dL/dA = G @ B^T,  dL/dB = A^T @ G  (batch dims summed where broadcast)",
          inputs=("a", "b"), saves=("a", "b"), dtypes="promote", fast=True,
          kernels=("matmul",), function=True, torch="torch.matmul",
          doc="`a @ b`, `t.matmul(other)`, `cg.matmul(a, b)`"),
    OpDef("linear", "special", "z = x W^T + b, y = act(z) (act: none, relu, gelu, gelu_tanh)",
          "dz = G act'(z),  dL/dx = dz W,  dL/dW = dz^T x,  dL/db = sum over rows of dz",
          inputs=("x", "weight", "bias"), params=(Param("activation", None),),
          saves=("x", "weight", "out"), fast=True, kernels=("linear_forward", "linear_backward"),
          method=None, functional=True, torch="torch.nn.functional.linear",
          doc="`F.linear(input, weight, bias=None)`, `nn.Linear`, and Linear + ReLU/GELU "
              "in a Sequential (one fused entry)"),

    # ------------------------------------------------------------ losses
    OpDef("cross_entropy", "special",
          "l_i = logsumexp(x_i) - x_i[t_i], class targets t (reduced: mean over kept rows, or sum)",
          "dl_i/dx_i = softmax(x_i) - onehot(t_i)  (/N for mean)",
          inputs=("input",), params=(_P_IGNORE, _P_REDUCTION),
          kernels=("cross_entropy_forward", "cross_entropy_backward"), method=None,
          functional=True, torch="torch.nn.functional.cross_entropy",
          doc="`F.cross_entropy(input, target, ignore_index=-100, reduction='mean')` with "
              "integer class targets, `nn.CrossEntropyLoss`"),
    OpDef("cross_entropy_prob", "special",
          "l_i = -sum_c t_ic log_softmax(x_i)_c, probability targets t",
          "dl_i/dx_i = softmax(x_i) sum_c t_ic - t_i,  dl_i/dt_i = -log_softmax(x_i)",
          inputs=("input", "target"), params=(_P_REDUCTION,), saves=("input", "target"),
          kernels=("cross_entropy_prob_forward", "cross_entropy_prob_backward"), method=None,
          torch="torch.nn.functional.cross_entropy",
          doc="`F.cross_entropy(input, target)` with float targets of the input's shape"),
    OpDef("nll_loss", "special", "l_i = -x_i[t_i], on log-probabilities x",
          "dl_i/dx_i = -onehot(t_i)  (/N for mean)",
          inputs=("input",), params=(_P_IGNORE, _P_REDUCTION),
          kernels=("nll_forward", "nll_backward"), method=None, functional=True,
          torch="torch.nn.functional.nll_loss",
          doc="`F.nll_loss(input, target, ignore_index=-100, reduction='mean')`, `nn.NLLLoss`"),
    _loss("mse_loss", "mse", "MSELoss", "l = (x - t)^2",
          "dl/dx = 2 (x - t),  dl/dt = -2 (x - t)  (/n for mean)"),
    _loss("l1_loss", "l1", "L1Loss", "l = |x - t|",
          "dl/dx = sign(x - t),  dl/dt = -sign(x - t)  (/n for mean)"),
    _loss("binary_cross_entropy", "bce", "BCELoss",
          "l = -(t ln x + (1 - t) ln(1 - x)), logs clamped at -100",
          "dl/dx = (x - t) / (x (1 - x)),  dl/dt = ln(1 - x) - ln(x)  (/n for mean)",
          domain=(0.05, 0.95)),
    _loss("binary_cross_entropy_with_logits", "bce_logits", "BCEWithLogitsLoss",
          "l = max(x, 0) - x t + ln(1 + e^-|x|)",
          "dl/dx = sigmoid(x) - t,  dl/dt = -x  (/n for mean)"),

    # ------------------------------------------------------------ dropout
    OpDef("dropout", "special", "y = x * 1[u >= p] / (1 - p), u uniform on [0, 1) (training only)",
          "d dropout(x)/dx = 1[kept] / (1 - p)",
          params=(Param("p", 0.5), Param("training", True)),
          kernels=("dropout_forward", "dropout_backward"), method=None, functional=True,
          module="Dropout", inplace=True, torch="torch.nn.functional.dropout",
          doc="`F.dropout(input, p=0.5, training=True, inplace=False)`, `nn.Dropout(p)`"),

    # ------------------------------------------------------------ data movement
    _move("reshape", "y = x with a new shape (a view when possible)",
          "dL/dx = G reshaped back to x's shape", "torch.reshape",
          doc="`t.reshape(*shape)`, `t.view(*shape)`, `t.flatten(start_dim, end_dim)`, "
              "`t.unsqueeze(dim)`, `t.squeeze(dim)`"),
    _move("permute", "y = x with its dims permuted (a view)",
          "dL/dx = G with the dims permuted back", "torch.permute",
          doc="`t.permute(*dims)`, `t.transpose(dim0, dim1)`, `t.t()`, `t.T`"),
    _move("expand", "y = x broadcast to a larger shape (a view)",
          "dL/dx = G summed over the broadcast dims", None, doc="`t.expand(*sizes)`"),
    _move("index", "y = x[key]: ints, slices, None, Ellipsis, integer and bool arrays",
          "dL/dx = zeros with G added at the indexed positions (repeats add up)", None,
          kernels=("index_add",), doc="`t[key]`"),
    _move("cat", "y = x_1, ..., x_n joined along an existing dim",
          "dL/dx_k = the slice of G that x_k filled", "torch.cat", inputs=("tensors",),
          doc="`cg.cat(tensors, dim=0)`, `cg.concatenate`"),
    _move("stack", "y = x_1, ..., x_n stacked along a new dim",
          "dL/dx_k = G taken at position k along the new dim", "torch.stack", inputs=("tensors",),
          doc="`cg.stack(tensors, dim=0)`"),
    _move("cast", "y = x in another float dtype", "dL/dx = G, cast back to x's dtype", None,
          doc="`t.to(dtype)`, `t.float()`, `t.double()`"),
    _move("clone", "y = a copy of x", "dL/dx = G", "torch.clone",
          doc="`t.clone()`, `t.contiguous()` of a strided tensor"),
    _move("fill", "y = value everywhere", "dL/dx = 0  (the old values are gone)", None,
          doc="`t.fill_(value)`, `t.zero_()` on a tensor that is recorded"),
    _move("copy", "y = src broadcast into x's shape",
          "dL/dx = 0,  dL/dsrc = G summed back to src's shape", None, inputs=("x", "src"),
          doc="`t.copy_(src)` on a tensor that is recorded"),
    _move("setitem", "y = x with y[key] = v",
          "dL/dx = G with the written positions zeroed,  dL/dv = G[key]", None,
          inputs=("x", "v"), doc="`t[key] = v` on a tensor that is recorded"),
]
# fmt: on

OPS = {}
for _r in _ROWS:
    if _r.name in OPS:
        raise ValueError(f"op table: {_r.name} is declared twice")
    OPS[_r.name] = _r
del _r


def row(name):
    """The row of op `name`; KeyError naming it when there is none."""
    try:
        return OPS[name]
    except KeyError:
        raise KeyError(f"op table: no op named {name!r}") from None


def rows(family=None):
    """Every row (of one family), in table order."""
    return [r for r in OPS.values() if family is None or r.family == family]

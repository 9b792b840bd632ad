"""Activation modules: one nn.Module class per op-table row with a `module`
name (ReLU, LeakyReLU, Sigmoid, Tanh, Softplus, GELU, Softmax, LogSoftmax,
...), built by methods.module_class. Their constructor arguments are the
op's parameters (plus `inplace=` where torch has it), checked when the
module is built; forward calls the nn.functional form."""

from .. import optable
from ..methods import module_class
from . import functional as F
from .module import Module

MODULES = {
    r.module: module_class(r, Module, F)
    for r in optable.rows()
    if r.module and r.family in ("unary", "softmax")
}
globals().update(MODULES)

__all__ = list(MODULES)

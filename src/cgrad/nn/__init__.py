"""cgrad.nn: modules, layers, losses, init and the functional forms (torch.nn's names)."""

from . import functional, init
from .activation import *  # noqa: F403  (one module per op-table row with a module)
from .activation import __all__ as _activations
from .layers import Dropout, Flatten, Identity, Linear, Sequential
from .loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, L1Loss, MSELoss, NLLLoss
from .module import Module, Parameter

# The activation modules come from the op table, so this is not a literal
# list (which PLE0605 asks for).
__all__ = [  # noqa: PLE0605
    "functional",
    "init",
    "Module",
    "Parameter",
    "Linear",
    "Identity",
    "Flatten",
    "Dropout",
    "Sequential",
    "MSELoss",
    "L1Loss",
    "BCELoss",
    "BCEWithLogitsLoss",
    "CrossEntropyLoss",
    "NLLLoss",
] + _activations

"""cgrad.nn: modules, layers, losses, init and the functional forms (torch.nn's names)."""

from . import functional, init
from .module import Module, Parameter
from .layers import Linear, Identity, Flatten, Dropout, Sequential
from .activation import *  # noqa: F401,F403  (one module per op-table row with a module)
from .activation import __all__ as _activations
from .loss import MSELoss, L1Loss, BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, NLLLoss

__all__ = ["functional", "init", "Module", "Parameter", "Linear", "Identity", "Flatten",
           "Dropout", "Sequential", "MSELoss", "L1Loss", "BCELoss", "BCEWithLogitsLoss",
           "CrossEntropyLoss", "NLLLoss"] + _activations

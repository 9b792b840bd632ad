"""cgrad.nn: modules, layers, losses, init and the functional forms (torch.nn's names)."""

from . import functional, init
from .module import Module, Parameter
from .layers import (Linear, Identity, Flatten, Dropout, ReLU, LeakyReLU, Sigmoid, Tanh,
                     Softplus, GELU, Softmax, LogSoftmax, Sequential)
from .loss import MSELoss, L1Loss, BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, NLLLoss

__all__ = ["functional", "init", "Module", "Parameter", "Linear", "Identity", "Flatten",
           "Dropout", "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Softplus", "GELU", "Softmax",
           "LogSoftmax", "Sequential", "MSELoss", "L1Loss", "BCELoss", "BCEWithLogitsLoss",
           "CrossEntropyLoss", "NLLLoss"]

"""``nesy.nn``: modules, layers, losses and initialisation, with PyTorch's names.

>>> import nesy
>>> net = nesy.nn.MLP([4, 16, 3])
>>> sum(p.numel() for p in net.parameters())
131
"""

from . import functional, init
from .activations import ELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Softplus, Tanh
from .containers import ModuleDict, ModuleList, Sequential
from .layers import Dropout, Embedding, Flatten, Identity, Linear
from .loss_modules import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
)
from .mlp import MLP
from .module import IncompatibleKeys, Module
from .parameter import Parameter

__all__ = [
    "functional", "init", "Module", "Parameter", "IncompatibleKeys", "Linear", "Embedding",
    "Identity", "Flatten", "Dropout", "Sequential", "ModuleList", "ModuleDict", "MLP", "ReLU",
    "LeakyReLU", "ELU", "Sigmoid", "Tanh", "Softplus", "Softmax", "LogSoftmax", "MSELoss",
    "L1Loss", "BCELoss", "BCEWithLogitsLoss", "NLLLoss", "CrossEntropyLoss",
]

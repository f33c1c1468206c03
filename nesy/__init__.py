"""nesy: neuro-symbolic expert systems.

Rules become differentiable losses, neural networks learn to respect them, and the rules can
be queried, explained and run forward like an expert system. ``nesy.tensor`` is the autograd
engine everything runs on; its public names are re-exported here, PyTorch-style
(``nesy.tensor(...)``, ``nesy.exp``, ``nesy.no_grad()``).
"""

from .tensor import *  # noqa: F403
from .tensor.dtypes import bool_ as bool  # noqa: F401  (PyTorch's dtype names)
from .tensor.dtypes import float32 as float  # noqa: F401
from .tensor.dtypes import float64 as double  # noqa: F401
from .tensor.dtypes import int32 as int  # noqa: F401
from .tensor.dtypes import int64 as long  # noqa: F401

__version__ = "0.1.0"


def __getattr__(name):
    # Submodules that pull in more than the engine load on first use, keeping import fast.
    if name in ("nn", "optim", "logic", "cuda"):
        import importlib

        return importlib.import_module(f"nesy.{name}")
    if name in ("save", "load"):
        from . import serialization

        return getattr(serialization, name)
    if name == "train":
        from .logic.training import train

        return train
    if name == "gradcheck":
        from .tensor.gradcheck import gradcheck

        return gradcheck
    raise AttributeError(f"module 'nesy' has no attribute {name!r}")

"""``Parameter``: a tensor that a :class:`~nesy.nn.Module` registers as learnable.

Assigning a ``Parameter`` as a module attribute adds it to ``parameters()`` and to
``state_dict()``; a plain tensor attribute is not registered (use ``register_buffer``).
"""

from __future__ import annotations

import numpy as np

from ..tensor import Tensor, tensor
from ..tensor.dtypes import DEFAULT_FLOAT
from ..tensor.tensor import _init


class Parameter(Tensor):
    """A leaf tensor that requires grad by default, as ``torch.nn.Parameter``.

    Wrapping a tensor shares its storage (no copy); array-likes are converted.

    >>> import nesy
    >>> w = nesy.nn.Parameter(nesy.zeros(2))
    >>> w.requires_grad, w.is_leaf
    (True, True)
    """

    def __init__(self, data=None, requires_grad=True):
        device = None
        if data is None:
            arr = np.empty(0, dtype=DEFAULT_FLOAT)
        elif isinstance(data, Tensor):
            arr, device = data._data, data.device
        else:
            arr = tensor(data)._data  # same dtype rules as nesy.tensor (floats -> float32)
        _init(self, arr, requires_grad, None)
        if device is not None:
            self.device = device

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


def clear_grads(params, set_to_none=True):
    """Reset each parameter's gradient: to None (free it), or to zeros in place."""
    for p in params:
        if p.grad is None:
            continue
        if set_to_none:
            p.grad = None
        else:
            p.grad._data[...] = 0

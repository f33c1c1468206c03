"""Functions that make tensors: ``tensor``, ``zeros``, ``arange``, ``rand``, ``from_numpy``...

Random numbers come from one seedable generator per process (``manual_seed``), so
``nesy.manual_seed(0)`` makes initialisation and sampling reproducible, as in PyTorch.
"""

from __future__ import annotations

import numpy as np

from . import dtypes
from .device import CPU, Device
from .tensor import Tensor, _init

_generator = np.random.default_rng()


def manual_seed(seed: int):
    """Seed the generator behind ``rand``, ``randn``, parameter init and dropout."""
    global _generator
    _generator = np.random.default_rng(int(seed))
    return _generator


def generator() -> np.random.Generator:
    """The current generator (for library code that needs random numbers)."""
    return _generator


def _make(arr, requires_grad=False, device=None):
    t = object.__new__(Tensor)
    _init(t, arr, requires_grad, device)
    return t


def _size(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(int(s) for s in shape)


def tensor(data, dtype=None, requires_grad=False, device=None):
    """A new tensor copying ``data`` (nested lists, numbers, arrays or tensors).

    Python floats give float32; NumPy arrays keep their dtype; integers give int64.
    """
    if isinstance(data, Tensor):
        data = data._backend().to_numpy(data._data)
    dtype = dtypes.as_dtype(dtype) or dtypes.infer(data)
    try:
        arr = np.array(data, dtype=dtype)
    except (ValueError, TypeError) as e:
        raise TypeError(f"tensor: cannot make a tensor of {dtype} from the given data: {e}") \
            from None
    return _make(arr, requires_grad, device)


def as_tensor(data, dtype=None, device=None):
    """Like :func:`tensor` but shares memory with a NumPy array when it can."""
    if isinstance(data, Tensor) and dtype is None and device is None:
        return data
    if isinstance(data, np.ndarray) and (dtype is None or np.dtype(dtype) == data.dtype):
        return _make(data, False, device)
    return tensor(data, dtype=dtype, device=device)


def from_numpy(arr):
    """A tensor sharing memory with the NumPy array ``arr``."""
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(arr).__name__}")
    return _make(arr)


def _filled(fill, shape, dtype, requires_grad, device):
    dtype = dtypes.as_dtype(dtype) or dtypes.DEFAULT_FLOAT
    return _make(fill(_size(shape), dtype), requires_grad, device)


def zeros(*shape, dtype=None, requires_grad=False, device=None):
    return _filled(np.zeros, shape, dtype, requires_grad, device)


def ones(*shape, dtype=None, requires_grad=False, device=None):
    return _filled(np.ones, shape, dtype, requires_grad, device)


def empty(*shape, dtype=None, requires_grad=False, device=None):
    return _filled(np.zeros, shape, dtype, requires_grad, device)


def full(shape, fill_value, dtype=None, requires_grad=False, device=None):
    if dtype is None:
        dtype = dtypes.infer(fill_value)
    return _filled(lambda s, d: np.full(s, fill_value, d), (shape,), dtype, requires_grad, device)


def eye(n, m=None, dtype=None, requires_grad=False, device=None):
    return _filled(lambda s, d: np.eye(n, m, dtype=d), (), dtype, requires_grad, device)


def arange(start, end=None, step=1, dtype=None, requires_grad=False, device=None):
    if end is None:
        start, end = 0, start
    if dtype is None:
        dtype = dtypes.infer([start, end, step])
    arr = np.arange(start, end, step, dtype=dtypes.as_dtype(dtype))
    return _make(arr, requires_grad, device)


def linspace(start, end, steps, dtype=None, requires_grad=False, device=None):
    dtype = dtypes.as_dtype(dtype) or dtypes.DEFAULT_FLOAT
    return _make(np.linspace(start, end, int(steps), dtype=dtype), requires_grad, device)


def rand(*shape, dtype=None, requires_grad=False, device=None):
    """Uniform samples in [0, 1)."""
    dtype = dtypes.as_dtype(dtype) or dtypes.DEFAULT_FLOAT
    return _make(_generator.random(_size(shape)).astype(dtype), requires_grad, device)


def randn(*shape, dtype=None, requires_grad=False, device=None):
    """Standard normal samples."""
    dtype = dtypes.as_dtype(dtype) or dtypes.DEFAULT_FLOAT
    return _make(_generator.standard_normal(_size(shape)).astype(dtype), requires_grad, device)


def randint(low, high=None, size=(), dtype=None, device=None):
    if high is None:
        low, high = 0, low
    dtype = dtypes.as_dtype(dtype) or dtypes.DEFAULT_INT
    return _make(_generator.integers(low, high, size=tuple(size)).astype(dtype), False, device)


def randperm(n, device=None):
    return _make(_generator.permutation(int(n)).astype(np.int64), False, device)


def _like(fill):
    def like(t, dtype=None, requires_grad=False, device=None):
        return fill(t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad,
                    device=device or t.device)

    like.__name__ = f"{fill.__name__}_like"
    return like


zeros_like = _like(zeros)
ones_like = _like(ones)
empty_like = _like(empty)
rand_like = _like(rand)
randn_like = _like(randn)


def full_like(t, fill_value, dtype=None, requires_grad=False, device=None):
    return full(t.shape, fill_value, dtype=dtype or t.dtype, requires_grad=requires_grad,
                device=device or t.device)


def device(spec="cpu"):
    return Device(spec)


__all__ = ["CPU"]

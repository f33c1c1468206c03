"""Data types: NumPy dtypes under PyTorch's names, and PyTorch's promotion rules.

``nesy.float32`` is the default for float data. Promotion follows PyTorch, not NumPy: an
integer tensor combined with a float gives the float's dtype (NumPy would pick float64). A
0-dim tensor or Python number of the same category (bool < int < float) as a dimensioned
tensor leaves its dtype alone; of a higher category, a 0-dim tensor brings its own dtype and
a Python number the default one (int tensor * 2.5 is float32).
"""

from __future__ import annotations

import numpy as np

float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
float16 = np.dtype(np.float16)
int64 = np.dtype(np.int64)
int32 = np.dtype(np.int32)
int16 = np.dtype(np.int16)
int8 = np.dtype(np.int8)
uint8 = np.dtype(np.uint8)
bool_ = np.dtype(np.bool_)

DEFAULT_FLOAT = float32
DEFAULT_INT = int64
_ALIASES = {
    "float": float32, "float32": float32, "double": float64, "float64": float64,
    "half": float16, "float16": float16, "long": int64, "int64": int64, "int": int32,
    "int32": int32, "int16": int16, "short": int16, "int8": int8, "uint8": uint8,
    "bool": bool_,
}


def as_dtype(dtype):
    """A NumPy dtype from a dtype, a NumPy type, a Python type or a name such as 'float'."""
    if dtype is None:
        return None
    if isinstance(dtype, str):
        try:
            return _ALIASES[dtype]
        except KeyError:
            raise TypeError(f"unknown dtype {dtype!r}") from None
    if dtype is float:
        return DEFAULT_FLOAT
    if dtype is int:
        return DEFAULT_INT
    if dtype is bool:
        return bool_
    return np.dtype(dtype)


def is_floating(dtype) -> bool:
    return dtype.kind == "f"


def category(dtype) -> int:
    """0 for bool, 1 for integers, 2 for floats."""
    return 2 if dtype.kind == "f" else (0 if dtype.kind == "b" else 1)


def promote(a_dtype, a_ndim, b_dtype, b_ndim):
    """PyTorch's result dtype for a binary op between two tensors."""
    if a_dtype == b_dtype:
        return a_dtype
    ca, cb = category(a_dtype), category(b_dtype)
    if ca == cb:
        if a_ndim == 0 and b_ndim > 0:
            return b_dtype
        if b_ndim == 0 and a_ndim > 0:
            return a_dtype
        return np.promote_types(a_dtype, b_dtype)
    # A higher category wins with its own dtype, even from a 0-dim tensor: int64 tensor *
    # 0-dim float64 tensor is float64. (Python numbers, which give the default dtype
    # instead, never reach here: the ops keep them as scalars.)
    return a_dtype if ca > cb else b_dtype


def infer(data):
    """The dtype ``nesy.tensor(data)`` gives: NumPy arrays keep theirs, Python floats -> float32."""
    if isinstance(data, np.ndarray):
        return data.dtype
    if isinstance(data, np.generic):
        return data.dtype
    arr = np.asarray(data)
    if arr.dtype.kind == "f":
        return DEFAULT_FLOAT
    if arr.dtype.kind in "iu":
        return DEFAULT_INT
    return arr.dtype

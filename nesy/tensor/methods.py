"""Operators and methods of :class:`Tensor`, bound to the functions of :mod:`.api`.

Kept apart from the class so that ``tensor.py`` holds state and conversion only; every
method here is a one-line forward to a function that is also public as ``nesy.<name>``.
"""

from __future__ import annotations

from . import api
from .tensor import Tensor


def _reflected(fn):
    return lambda self, other: fn(other, self)


def _check_matmul_operand(fn):
    def matmul(self, other):
        return fn(self, api.as_tensor(other, self))

    return matmul


def _direct(fn, name):
    """The binary operator without the keyword layer of ``api.add``/``api.sub`` (hot path)."""
    binary = api._binary
    return lambda a, b: binary(fn, name, a, b)


OPERATORS = {
    "__add__": _direct(api.ops.Add, "add"),
    "__radd__": _reflected(api.add),
    "__sub__": _direct(api.ops.Sub, "sub"),
    "__rsub__": _reflected(api.sub),
    "__mul__": _direct(api.ops.Mul, "mul"),
    "__rmul__": _reflected(api.mul),
    "__truediv__": api.div,
    "__rtruediv__": _reflected(api.div),
    "__pow__": api.pow,
    "__rpow__": _reflected(api.pow),
    "__matmul__": _check_matmul_operand(api.matmul),
    "__rmatmul__": lambda self, other: api.matmul(api.as_tensor(other, self), self),
    "__neg__": api.neg,
    "__pos__": lambda self: self,
    "__abs__": api.abs,
    "__lt__": api.lt,
    "__le__": api.le,
    "__gt__": api.gt,
    "__ge__": api.ge,
    "__eq__": api.eq,
    "__ne__": api.ne,
    "__and__": api.logical_and,
    "__or__": api.logical_or,
    "__xor__": api.logical_xor,
    "__invert__": api.logical_not,
    "__getitem__": api.getitem,
    "__setitem__": api.setitem,
}

METHODS = [
    "add", "sub", "mul", "div", "pow", "neg", "maximum", "minimum", "exp", "log", "log1p",
    "sqrt", "rsqrt", "abs", "sigmoid", "tanh", "relu", "softplus", "clamp", "square",
    "reciprocal", "log_sigmoid", "sum", "mean", "prod", "amax", "amin", "max", "min", "argmax",
    "argmin", "logsumexp", "softmax", "log_softmax", "var", "std", "norm", "all", "any",
    "reshape", "flatten", "permute", "transpose", "t", "unsqueeze", "squeeze", "expand",
    "expand_as", "broadcast_to", "gather", "masked_fill", "matmul", "dot", "outer", "lt", "le",
    "gt", "ge", "eq", "ne", "isnan", "isinf", "isfinite", "logical_not", "logical_and",
    "logical_or", "sign", "floor", "ceil", "round", "clone", "allclose", "equal",
]

ALIASES = {
    "view": "reshape", "clip": "clamp", "mm": "matmul", "multiply": "mul", "subtract": "sub",
    "divide": "div", "true_divide": "div", "negative": "neg", "absolute": "abs",
}


def bind_methods():
    for name, fn in OPERATORS.items():
        setattr(Tensor, name, fn)
    for name in METHODS:
        setattr(Tensor, name, getattr(api, name))
    for alias, name in ALIASES.items():
        setattr(Tensor, alias, getattr(api, name))
    Tensor.clamp_min = lambda self, min: api.clamp(self, min=min)
    Tensor.clamp_max = lambda self, max: api.clamp(self, max=max)
    Tensor.view_as = lambda self, other: api.reshape(self, other.shape)
    Tensor.where = lambda self, condition, other: api.where(condition, self, other)
    Tensor.__hash__ = object.__hash__

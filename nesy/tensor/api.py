"""The public operations on tensors: checking, dtype promotion, and composites.

Each function turns its arguments into what a primitive expects (axes normalised, Python
numbers kept as scalars, dtypes promoted as PyTorch does) and applies it. Composite ops
(``mean``, ``square``, ``var``, ``stack``, ...) are written here in terms of primitives and
get their gradients from them. :func:`bind_methods` attaches them to :class:`Tensor`.
"""

from __future__ import annotations

import builtins
import math
import operator
from collections import namedtuple

import numpy as np

from . import dtypes, linalg, ops, reductions, shape_ops
from .tensor import Tensor

_NUMBER = (int, float, bool, np.number, np.bool_)
MinMax = namedtuple("MinMax", ["values", "indices"])


# --- operand preparation -----------------------------------------------------------------
def as_tensor(x, like=None):
    if isinstance(x, Tensor):
        return x
    dtype = like.dtype if like is not None and isinstance(x, _NUMBER) else None
    t = Tensor._from_op(np.asarray(x, dtype=dtype or dtypes.infer(x)), None, _cpu())
    return t if like is None or like.device == t.device else to_device(t, like.device)


def _cpu():
    from .device import CPU

    return CPU


def _floating(t):
    """Tensors of integer or bool dtype become float32 before float-valued ops."""
    return t if t._data.dtype.kind == "f" else cast(t, dtypes.DEFAULT_FLOAT)


def _binary(fn, name, a, b):
    """Apply a binary primitive with PyTorch's promotion; Python numbers stay scalars."""
    if isinstance(a, Tensor):
        if isinstance(b, Tensor):
            if a._data.dtype is b._data.dtype:
                try:
                    return fn.apply(a, b)
                except ValueError as e:
                    raise RuntimeError(f"{name}: shapes {_shape(a)} and {_shape(b)} cannot be "
                                       f"broadcast together ({e})") from None
        elif type(b) is float and a._data.dtype.kind == "f":  # x * 0.5: the common scalar case
            return fn.apply(a, b)
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        da, db = a._data.dtype, b._data.dtype
        if da != db:
            dt = dtypes.promote(da, a._data.ndim, db, b._data.ndim)
            a = a if da == dt else cast(a, dt)
            b = b if db == dt else cast(b, dt)
    elif isinstance(a, Tensor):
        a, b = _with_scalar(a, b)
    elif isinstance(b, Tensor):
        b, a = _with_scalar(b, a)
    else:
        raise TypeError(f"{name}: expected a tensor argument")
    try:
        return fn.apply(a, b)
    except ValueError as e:
        raise RuntimeError(
            f"{name}: shapes {_shape(a)} and {_shape(b)} cannot be broadcast together ({e})"
        ) from None


def _with_scalar(t, x):
    if isinstance(x, (bool, np.bool_)) and t.dtype.kind != "b":
        x = int(x)
    if isinstance(x, (float, np.floating)) and t.dtype.kind != "f":
        return cast(t, dtypes.DEFAULT_FLOAT), float(x)
    if isinstance(x, _NUMBER):
        return t, x
    other = as_tensor(x, t) if isinstance(x, np.ndarray) else as_tensor(x)
    dt = dtypes.promote(t.dtype, t.ndim, other.dtype, other.ndim)
    t = t if t.dtype == dt else cast(t, dt)
    return t, (other if other.dtype == dt else cast(other, dt))


def _shape(x):
    return tuple(x.shape) if isinstance(x, Tensor) else ()


def axes(dim, ndim, name="op"):
    """Normalise ``dim`` (None, int or sequence) to a sorted tuple of axes, checked."""
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
    if not dims:
        return tuple(range(ndim))
    bound = builtins.max(ndim, 1)
    out = set()
    for d in dims:
        if not -bound <= d < bound:
            raise IndexError(
                f"{name}: dimension {d} out of range for a tensor with {ndim} dimensions "
                f"(expected in [{-bound}, {bound - 1}])"
            )
        out.add(d % bound)
    return tuple(sorted(a for a in out if a < ndim))


def _axis(dim, ndim, name):
    (a,) = axes(int(dim), ndim, name) or (0,)
    return a


# --- conversion ----------------------------------------------------------------------------
def cast(x, dtype):
    dtype = dtypes.as_dtype(dtype)
    if x.dtype == dtype:
        return x
    if x.requires_grad and dtype.kind == "f":
        return ops.Cast.apply(x, dtype=dtype)
    return Tensor._from_op(x._backend().astype(x._data, dtype), None, x.device)


def to_device(x, device):
    from .backends import backend_for

    src, dst = x._backend(), backend_for(device)
    if x.requires_grad:
        out = _DeviceCopy.apply(x, device=device)
        out.device = device  # apply_raw labels outputs with the inputs' device
        return out
    data = dst.from_numpy(np.asarray(src.to_numpy(x._data), order="C"))
    return Tensor._from_op(data, None, device)


class _DeviceCopy(ops.Primitive):
    """Copy to another device; the gradient is copied back."""

    def forward(ctx, x, device=None):
        from .backends import backend_for

        ctx.saved = (ctx.backend,)
        dst = backend_for(device)
        ctx.backend = dst
        return dst.from_numpy(np.asarray(ctx.saved[0].to_numpy(x), order="C"))

    def backward(ctx, g):
        return (ctx.saved[0].from_numpy(np.asarray(ctx.backend.to_numpy(g), order="C")),)


# --- arithmetic ----------------------------------------------------------------------------
def add(a, b, alpha=1):
    return _binary(ops.Add, "add", a, b if alpha == 1 else mul(b, alpha))


def sub(a, b, alpha=1):
    return _binary(ops.Sub, "sub", a, b if alpha == 1 else mul(b, alpha))


def mul(a, b):
    return _binary(ops.Mul, "mul", a, b)


def div(a, b):
    if isinstance(a, Tensor) and a.dtype.kind != "f":
        a = _floating(a)
    if isinstance(b, Tensor) and b.dtype.kind != "f":
        b = _floating(b)
    return _binary(ops.Div, "div", a, b)


def pow(a, b):
    if isinstance(a, Tensor) and a.dtype.kind != "f" and isinstance(b, Tensor):
        a = _floating(a)
    return _binary(ops.Pow, "pow", a, b)


def neg(x):
    return ops.Neg.apply(x)


def maximum(a, b):
    return _binary(ops.Maximum, "maximum", a, b)


def minimum(a, b):
    return _binary(ops.Minimum, "minimum", a, b)


def where(condition, x, y):
    """Elements of ``x`` where ``condition`` holds, else of ``y`` (a mask, no copies of x)."""
    like = x if isinstance(x, Tensor) else (y if isinstance(y, Tensor) else None)
    cond = as_tensor(condition, like)
    if cond.dtype != dtypes.bool_:
        cond = cast(cond, dtypes.bool_)
    if not isinstance(x, Tensor) and not isinstance(y, Tensor):
        x = as_tensor(x, None)
    if isinstance(x, Tensor) and isinstance(y, Tensor) and x.dtype != y.dtype:
        dt = dtypes.promote(x.dtype, x.ndim, y.dtype, y.ndim)
        x, y = cast(x, dt), cast(y, dt)
    elif isinstance(x, Tensor) and not isinstance(y, Tensor):
        x, y = _with_scalar(x, y)
    elif isinstance(y, Tensor) and not isinstance(x, Tensor):
        y, x = _with_scalar(y, x)
    try:
        return ops.Where.apply(cond, x, y)
    except ValueError as e:
        raise RuntimeError(
            f"where: shapes {_shape(cond)}, {_shape(x)} and {_shape(y)} cannot be broadcast ({e})"
        ) from None


def _unary(fn):
    def op(x):
        return fn.apply(_floating(x))

    op.__name__ = fn.__name__.lower()
    op.__doc__ = fn.__doc__
    return op


exp = _unary(ops.Exp)
log = _unary(ops.Log)
log1p = _unary(ops.Log1p)
sqrt = _unary(ops.Sqrt)
sigmoid = _unary(ops.Sigmoid)
tanh = _unary(ops.Tanh)
softplus = _unary(ops.Softplus)


def abs(x):
    return ops.Abs.apply(x)


def relu(x):
    return ops.Relu.apply(x)


def clamp(x, min=None, max=None):
    """min(max(x, min), max); either bound may be None."""
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        out = x if min is None else maximum(x, min)
        return out if max is None else minimum(out, max)
    if x.dtype.kind != "f" and (isinstance(min, float) or isinstance(max, float)):
        x = _floating(x)
    if x.dtype.kind == "f":
        lo, hi = (-math.inf if min is None else min), (math.inf if max is None else max)
    else:
        info = np.iinfo(x.dtype)
        lo, hi = (info.min if min is None else min), (info.max if max is None else max)
    return ops.Clamp.apply(x, lo, hi)


def square(x):
    return mul(x, x)


def rsqrt(x):
    return div(1.0, sqrt(x))


def reciprocal(x):
    return div(1.0, x)


def log_sigmoid(x):
    """log sigma(x) = min(x, 0) - log(1 + e^-|x|), stable for large |x|.

    Not -softplus(-x): softplus switches to the identity above 20 (as PyTorch's does), which
    would cost log_sigmoid ~1e-9 of accuracy there; PyTorch's logsigmoid has no threshold.
    """
    x = _floating(x)
    return sub(minimum(x, 0.0), log1p(exp(neg(abs(x)))))


# --- reductions ----------------------------------------------------------------------------
def sum(x, dim=None, keepdim=False, dtype=None):
    x = as_tensor(x)
    if dtype is not None:
        x = cast(x, dtype)
    elif x.dtype.kind in "bi" and x.dtype != dtypes.int64:
        x = cast(x, dtypes.int64)
    return reductions.Sum.apply(x, axes=axes(dim, x.ndim, "sum"), keepdim=keepdim)


def mean(x, dim=None, keepdim=False):
    x = _floating(as_tensor(x))
    ax = axes(dim, x.ndim, "mean")
    n = math.prod(x.shape[a] for a in ax)
    return div(reductions.Sum.apply(x, axes=ax, keepdim=keepdim), float(n) if n else math.nan)


def prod(x, dim=None, keepdim=False):
    x = as_tensor(x)
    return reductions.Prod.apply(x, axes=axes(dim, x.ndim, "prod"), keepdim=keepdim)


def amax(x, dim=None, keepdim=False):
    return reductions.Amax.apply(x, axes=axes(dim, x.ndim, "amax"), keepdim=keepdim)


def amin(x, dim=None, keepdim=False):
    return reductions.Amin.apply(x, axes=axes(dim, x.ndim, "amin"), keepdim=keepdim)


def _extremum(x, dim, keepdim, reducer, arg, name):
    if dim is None:
        return reducer(x)
    if x.ndim == 0:  # PyTorch lets dim 0 / -1 address the single element of a 0-dim tensor
        _axis(dim, 0, name)
        values, indices = _extremum(reshape(x, 1), 0, False, reducer, arg, name)
        return MinMax(values, indices)
    indices = _arg_extremum(x, dim, True, arg, name)
    values = gather(x, dim, indices)
    if not keepdim:
        values, indices = squeeze(values, dim), squeeze(indices, dim)
    return MinMax(values, indices)


def max(x, dim=None, keepdim=False):
    """The maximum; with ``dim``, ``(values, indices)`` and the gradient to the argmax."""
    if isinstance(dim, Tensor):
        return maximum(x, dim)
    return _extremum(x, dim, keepdim, amax, "argmax", "max")


def min(x, dim=None, keepdim=False):
    if isinstance(dim, Tensor):
        return minimum(x, dim)
    return _extremum(x, dim, keepdim, amin, "argmin", "min")


def _arg_extremum(x, dim, keepdim, kind, name):
    """The index of the first max/min (``kind``), over everything or along ``dim``."""
    whole = dim is None or x.ndim == 0  # a 0-dim tensor has one element, at index 0
    ax = None if dim is None else _axis(dim, x.ndim, name)
    if (x.numel() == 0) if whole else x.shape[ax] == 0:
        raise RuntimeError(
            f"{name}(): expected a non-empty reduction, got shape {tuple(x.shape)} "
            f"reduced over {'all dims' if dim is None else f'dim {dim}'}"
        )
    data = x._data.reshape(-1) if whole else x._data
    out = getattr(x._backend(), kind)(data, None if whole else ax, keepdim and not whole)
    return Tensor._from_op(out.astype(np.int64), None, x.device)


def argmax(x, dim=None, keepdim=False):
    return _arg_extremum(x, dim, keepdim, "argmax", "argmax")


def argmin(x, dim=None, keepdim=False):
    return _arg_extremum(x, dim, keepdim, "argmin", "argmin")


def logsumexp(x, dim=None, keepdim=False):
    """log sum_i exp(x_i), stable (the max is subtracted first)."""
    x = _floating(x)
    return reductions.LogSumExp.apply(x, axes=axes(dim, x.ndim, "logsumexp"), keepdim=keepdim)


def _along_one_axis(fn, x, dim, name):
    """Apply an axis-wise primitive; a 0-dim tensor counts as one element (as in PyTorch)."""
    x = _floating(x)
    ax = _axis(dim, x.ndim, name)
    if x.ndim == 0:
        return reshape(fn.apply(reshape(x, 1), axis=0), ())
    return fn.apply(x, axis=ax)


def softmax(x, dim=-1):
    """e^x_i / sum_j e^x_j along ``dim``."""
    return _along_one_axis(reductions.Softmax, x, dim, "softmax")


def log_softmax(x, dim=-1):
    """x_i - log sum_j e^x_j along ``dim``."""
    return _along_one_axis(reductions.LogSoftmax, x, dim, "log_softmax")


def var(x, dim=None, keepdim=False, unbiased=True, correction=None):
    """Variance with Bessel's correction by default (as in PyTorch)."""
    x = _floating(x)
    ax = axes(dim, x.ndim, "var")
    n = math.prod(x.shape[a] for a in ax)
    ddof = (1 if unbiased else 0) if correction is None else correction
    centred = sub(x, mean(x, ax, keepdim=True))
    return div(sum(mul(centred, centred), ax, keepdim), float(builtins.max(n - ddof, 0)))


def std(x, dim=None, keepdim=False, unbiased=True, correction=None):
    """sqrt(var x); its gradient is 0 where all values are equal (as in PyTorch), not NaN."""
    return _root_flat_at_zero(var(x, dim, keepdim, unbiased, correction), sqrt)


def norm(x, p=2, dim=None, keepdim=False):
    """The p-norm (sum |x|^p)^(1/p); p = inf gives the max norm. Gradient 0 at x = 0."""
    x = _floating(x)
    if p == math.inf:
        return amax(abs(x), dim, keepdim)
    if p == 1:
        return sum(abs(x), dim, keepdim)
    if p == 2:
        return _root_flat_at_zero(sum(mul(x, x), dim, keepdim), sqrt)
    return _root_flat_at_zero(sum(pow(abs(x), p), dim, keepdim), lambda s: pow(s, 1.0 / p))


def _root_flat_at_zero(s, root):
    """root(s), with gradient 0 where s == 0 (PyTorch's subgradient for norm and std there).

    The root's slope is infinite at 0 and would meet the zero slope of s as inf * 0 = NaN;
    so the root is taken of a stand-in 1 at those places and its value replaced by 0.
    """
    zero = eq(s, 0)
    return where(zero, 0.0, root(where(zero, 1.0, s)))


def all(x, dim=None, keepdim=False):
    ax = axes(dim, x.ndim, "all")
    return Tensor._from_op(np.all(x._data, axis=ax, keepdims=keepdim), None, x.device)


def any(x, dim=None, keepdim=False):
    ax = axes(dim, x.ndim, "any")
    return Tensor._from_op(np.any(x._data, axis=ax, keepdims=keepdim), None, x.device)


# --- shapes ----------------------------------------------------------------------------------
def _shape_args(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(int(s) for s in shape)


def reshape(x, *shape):
    shape = _shape_args(shape)
    if shape == x.shape:
        return x
    return shape_ops.Reshape.apply(x, shape=shape)


def flatten(x, start_dim=0, end_dim=-1):
    if x.ndim == 0:
        return reshape(x, 1)
    s, e = _axis(start_dim, x.ndim, "flatten"), _axis(end_dim, x.ndim, "flatten")
    return reshape(x, x.shape[:s] + (math.prod(x.shape[s : e + 1]),) + x.shape[e + 1 :])


def permute(x, *dims):
    dims = _shape_args(dims)
    if len(dims) != x.ndim:
        raise RuntimeError(f"permute: got {len(dims)} dims for a tensor with {x.ndim} dimensions")
    dims = tuple(_axis(d, x.ndim, "permute") for d in dims)
    if len(set(dims)) != len(dims):
        raise RuntimeError(f"permute: repeated dim in {dims}")
    return shape_ops.Permute.apply(x, dims=dims)


def transpose(x, dim0, dim1):
    if x.ndim < 2 and dim0 in (0, -1) and dim1 in (0, -1):
        return x
    perm = list(range(x.ndim))
    a, b = _axis(dim0, x.ndim, "transpose"), _axis(dim1, x.ndim, "transpose")
    perm[a], perm[b] = perm[b], perm[a]
    return shape_ops.Permute.apply(x, dims=tuple(perm))


def t(x):
    if x.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, got {x.ndim}")
    return transpose(x, 0, 1) if x.ndim == 2 else x


def unsqueeze(x, dim):
    bound = x.ndim + 1
    if not -bound <= dim < bound:
        raise IndexError(f"unsqueeze: dimension {dim} out of range [{-bound}, {bound - 1}]")
    d = dim % bound
    return reshape(x, x.shape[:d] + (1,) + x.shape[d:])


def squeeze(x, dim=None):
    if dim is None:
        return reshape(x, tuple(s for s in x.shape if s != 1))
    ax = axes(dim, x.ndim, "squeeze")
    return reshape(x, tuple(s for i, s in enumerate(x.shape) if not (i in ax and s == 1)))


def expand(x, *shape):
    shape = _shape_args(shape)
    lead = len(shape) - x.ndim
    if lead < 0:
        raise RuntimeError(f"expand: target {shape} has fewer dims than the tensor {x.shape}")
    full = tuple(x.shape[i - lead] if s == -1 else s for i, s in enumerate(shape))
    if full == x.shape:
        return x
    return shape_ops.Expand.apply(x, shape=full)


def expand_as(x, other):
    return expand(x, other.shape)


def broadcast_to(x, shape):
    return expand(x, tuple(shape))


def cat(tensors, dim=0):
    tensors = [as_tensor(t) for t in tensors]
    if not tensors:
        raise RuntimeError("cat: expected a non-empty list of tensors")
    dt = tensors[0].dtype
    for t_ in tensors[1:]:
        dt = dtypes.promote(dt, 1, t_.dtype, 1)
    tensors = [cast(t_, dt) for t_ in tensors]
    nd = tensors[0].ndim
    if nd == 0:
        raise RuntimeError("cat: zero-dimensional tensors cannot be concatenated")
    ax = _axis(dim, nd, "cat")
    for i, t_ in enumerate(tensors):
        if t_.ndim != nd or builtins.any(
            t_.shape[k] != tensors[0].shape[k] for k in range(nd) if k != ax
        ):
            raise RuntimeError(
                f"cat: tensor {i} has shape {tuple(t_.shape)}, which does not match "
                f"{tuple(tensors[0].shape)} outside dim {ax}"
            )
    return shape_ops.Cat.apply(*tensors, axis=ax)


def stack(tensors, dim=0):
    tensors = [as_tensor(t_) for t_ in tensors]
    if not tensors:
        raise RuntimeError("stack: expected a non-empty list of tensors")
    first = tensors[0].shape
    for i, t_ in enumerate(tensors):
        if t_.shape != first:
            raise RuntimeError(
                f"stack: expects each tensor to be equal size, but got {tuple(first)} at entry "
                f"0 and {tuple(t_.shape)} at entry {i}"
            )
    bound = len(first) + 1
    if not -bound <= dim < bound:
        raise IndexError(f"stack: dimension {dim} out of range [{-bound}, {bound - 1}]")
    return cat([unsqueeze(t_, dim % bound) for t_ in tensors], dim % bound)


def getitem(x, index):
    """``x[index]`` for ints, slices, None, Ellipsis, integer arrays and boolean masks."""
    index = _convert_index(index)
    return shape_ops.Index.apply(x, index=index)


def _convert_index(index):
    if isinstance(index, tuple):
        return tuple(_convert_index_item(i) for i in index)
    return _convert_index_item(index)


def _convert_index_item(i):
    if isinstance(i, Tensor):
        arr = i._backend().to_numpy(i._data)
        if arr.dtype.kind not in "biu":
            raise IndexError(f"tensors used as indices must be integer or bool, not {arr.dtype}")
        return arr
    if isinstance(i, list):
        arr = np.asarray(i)
        return arr if arr.dtype.kind in "biu" else i
    return i


def gather(x, dim, index):
    """out[i][j] = x[i][index[i][j]] along ``dim`` (as ``torch.gather``)."""
    ax = _axis(dim, x.ndim, "gather")
    idx = index._data if isinstance(index, Tensor) else np.asarray(index)
    grids = list(np.ogrid[tuple(slice(n) for n in idx.shape)])
    grids[ax] = idx
    return shape_ops.Index.apply(x, index=tuple(grids))


def masked_fill(x, mask, value):
    return where(mask, value, x)


def setitem(x, index, value):
    """In-place ``x[index] = value``, allowed outside the graph (masks, tables, init)."""
    from .grad_mode import is_grad_enabled

    if x.requires_grad and (x._node is not None or is_grad_enabled()):
        raise RuntimeError(
            "in-place assignment to a tensor that requires grad; build a new tensor with "
            "nesy.where or do it under nesy.no_grad()"
        )
    v = value._data if isinstance(value, Tensor) else value
    try:
        x._data[_convert_index(index)] = v
    except IndexError as e:
        raise IndexError(f"index: {e} (indexing a tensor of shape {tuple(x.shape)})") from None


# --- products ------------------------------------------------------------------------------
def matmul(a, b):
    a, b = as_tensor(a), as_tensor(b)
    if a.dtype != b.dtype:
        dt = dtypes.promote(a.dtype, 1, b.dtype, 1)
        a, b = cast(a, dt), cast(b, dt)
    return linalg.MatMul.apply(a, b)


def einsum(equation, *operands):
    """Einstein summation, e.g. ``nesy.einsum("bij,bjk->bik", a, b)``."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    operands = [as_tensor(o) for o in operands]
    dt = operands[0].dtype
    for o in operands[1:]:
        dt = dtypes.promote(dt, 1, o.dtype, 1)
    return linalg.Einsum.apply(*[cast(o, dt) for o in operands], equation=equation)


def outer(a, b):
    return mul(unsqueeze(a, -1), b)


def dot(a, b):
    if a.ndim != 1 or b.ndim != 1:
        raise RuntimeError(f"dot: expects 1-D tensors, got {a.ndim}-D and {b.ndim}-D")
    return matmul(a, b)


# --- comparisons and predicates (no gradient) -----------------------------------------------
def _compare(op, name):
    def compare(a, b):
        x = a._data if isinstance(a, Tensor) else a
        y = b._data if isinstance(b, Tensor) else b
        dev = a.device if isinstance(a, Tensor) else b.device
        try:
            return Tensor._from_op(_array(op(x, y)), None, dev)
        except ValueError as e:
            raise RuntimeError(f"{name}: shapes {_shape(a)} and {_shape(b)} differ ({e})") from None

    compare.__name__ = name
    return compare


lt = _compare(operator.lt, "lt")
le = _compare(operator.le, "le")
gt = _compare(operator.gt, "gt")
ge = _compare(operator.ge, "ge")
eq = _compare(operator.eq, "eq")
ne = _compare(operator.ne, "ne")
logical_and = _compare(np.logical_and, "logical_and")
logical_or = _compare(np.logical_or, "logical_or")
logical_xor = _compare(np.logical_xor, "logical_xor")


def _array(r):
    """A result as an array: NumPy scalars and device arrays pass (``_from_op`` wraps them)."""
    return r if hasattr(r, "shape") else np.asarray(r)


def _no_grad_unary(fn, name):
    def op(x):
        return Tensor._from_op(_array(fn(x._data)), None, x.device)

    op.__name__ = name
    return op


isnan = _no_grad_unary(np.isnan, "isnan")
isinf = _no_grad_unary(np.isinf, "isinf")
isfinite = _no_grad_unary(np.isfinite, "isfinite")
logical_not = _no_grad_unary(np.logical_not, "logical_not")
sign = _no_grad_unary(np.sign, "sign")
floor = _no_grad_unary(np.floor, "floor")
ceil = _no_grad_unary(np.ceil, "ceil")
round = _no_grad_unary(np.round, "round")


def allclose(a, b, rtol=1e-5, atol=1e-8, equal_nan=False):
    return bool(np.allclose(_host(as_tensor(a)), _host(as_tensor(b)), rtol, atol, equal_nan))


def equal(a, b):
    return a.shape == b.shape and bool(np.array_equal(_host(a), _host(b)))


def _host(t):
    """The values of ``t`` on the host (a copy from a GPU: these ops return a Python bool)."""
    return t._backend().to_numpy(t._data)


def clone(x):
    return ops.Clone.apply(x)

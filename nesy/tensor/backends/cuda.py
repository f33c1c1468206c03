"""The CUDA backend: the CPU backend's methods over :class:`~.cuda_array.CudaArray` data.

Every method runs a ``numba.cuda`` kernel from :mod:`.cuda_kernels` (elementwise ops compiled
from the same scalar functions as the CPU's); an operation without one raises
``NotImplementedError`` naming it, never falls back to the host. Only ``to_numpy`` /
``from_numpy`` (the device copies) and the index arithmetic of advanced indexing, which
NumPy's indexing rules define, run on the host.
"""

from __future__ import annotations

import contextlib
import math
import warnings

import numpy as np
from numba import cuda

from .. import scalar
from . import cuda_kernels as K
from .cpu import CpuBackend, coalesce
from .cuda_array import CudaArray, contiguous_steps
from .cuda_indexing import basic_view, positions
from .elementwise_numpy import TABLE

_REDUCE = {"sum": (scalar.add, 0), "prod": (scalar.mul, 1), "amax": (scalar.maximum, None),
           "amin": (scalar.minimum, None)}
_UFUNCS = {
    np.isnan: "isnan", np.isinf: "isinf", np.isfinite: "isfinite",
    np.logical_not: "logical_not", np.logical_and: "logical_and", np.logical_or: "logical_or",
    np.logical_xor: "logical_xor", np.equal: "eq", np.not_equal: "ne", np.less: "lt",
    np.less_equal: "le", np.greater: "gt", np.greater_equal: "ge",
}
_UFUNC_ROUNDING = {np.sign: "sign", np.floor: "floor", np.ceil: "ceil", np.rint: "rint"}
_UFUNC_MAP = {np.add: "add", np.subtract: "sub", np.multiply: "mul", np.true_divide: "div",
              np.negative: "neg", np.power: "power", np.maximum: "maximum",
              np.minimum: "minimum", np.exp: "exp", np.log: "log", np.log1p: "log1p",
              np.sqrt: "sqrt", np.absolute: "abs", np.tanh: "tanh"}


@contextlib.contextmanager
def _quiet():
    """The simulator evaluates kernels with NumPy scalars, which warn on 1/0 (a GPU does not)."""
    if not K.SIMULATOR:
        yield
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def broadcast_steps(x, shape):
    """``x``'s element steps viewed at the broadcast ``shape`` (0 along broadcast axes)."""
    lead = len(shape) - x.ndim
    if lead < 0:
        raise ValueError(f"operands could not be broadcast: {x.shape} to {tuple(shape)}")
    out = [0] * lead
    for i, (n, s) in enumerate(zip(x.shape, x.steps)):
        if n == shape[lead + i]:
            out.append(s if n != 1 else 0)
        elif n == 1:
            out.append(0)
        else:
            raise ValueError(f"operands could not be broadcast together: {x.shape} to "
                             f"{tuple(shape)}")
    return out


class CudaBackend:
    """Array operations for tensors on an NVIDIA GPU (``device='cuda'``)."""

    name = "cuda"
    sum_to_shape = CpuBackend.sum_to_shape  # device-agnostic: self.sum and reshape only

    def __init__(self, device):
        self.device = device
        self._kernels = {}
        self._dummies = {}

    # --- creation and copies -----------------------------------------------------------------
    def new(self, shape, dtype):
        dtype = np.dtype(dtype)
        base = cuda.device_array(max(math.prod(shape), 1), dtype)
        return CudaArray(base, shape)

    def from_numpy(self, a):
        a = np.asarray(a, order="C")  # ascontiguousarray would make 0-d arrays 1-d
        flat = a.reshape(-1) if a.size else np.zeros(1, a.dtype)
        return CudaArray(cuda.to_device(flat), a.shape)

    def to_numpy(self, a):
        if not isinstance(a, CudaArray):
            return np.asarray(a)
        c = a if a.is_contiguous else self.copy(a)
        if c.size == 0:
            return np.zeros(c.shape, dtype=c.base.dtype)
        return _flat(c).copy_to_host().reshape(c.shape)  # the view's elements only

    def asarray(self, data, dtype=None):
        if isinstance(data, CudaArray):
            return data if dtype is None or np.dtype(dtype) == data.dtype \
                else self.astype(data, dtype)
        if hasattr(data, "__cuda_array_interface__"):
            dev = cuda.as_cuda_array(data)
            return self.from_device(dev, dtype)
        return self.from_numpy(np.asarray(data, dtype=dtype))

    def from_device(self, dev, dtype=None):
        """Copy a C-contiguous ``numba.cuda`` (or ``__cuda_array_interface__``) array."""
        if not dev.is_c_contiguous():
            raise NotImplementedError("CUDA: importing a non-contiguous device array")
        out = self.new(dev.shape, dev.dtype)
        if out.size:
            out.base[: out.size].copy_to_device(dev.reshape(dev.size))
        return out if dtype is None else self.astype(out, dtype)

    def zeros(self, shape, dtype):
        return self.full(shape, 0, dtype)

    def ones(self, shape, dtype):
        return self.full(shape, 1, dtype)

    def empty(self, shape, dtype):
        return self.new(tuple(shape), dtype)

    def full(self, shape, value, dtype):
        out = self.new(tuple(shape), dtype)
        self.map_into(out, "_identity", value)
        return out

    def arange(self, start, stop, step, dtype):
        n = max(0, math.ceil((stop - start) / step))
        out = self.new((n,), dtype)
        if n:
            K.arange_fill[K.blocks_for(n), K.THREADS](out.base, start, step)
        return out

    # --- elementwise ----------------------------------------------------------------------------
    def _kernel(self, name, fn, arity):
        kernel = self._kernels.get(name)
        if kernel is None:
            kernel = self._kernels[name] = K.elementwise(fn, arity)
        return kernel

    def map(self, name, *xs):
        """Apply the elementwise op ``name`` (see ``elementwise_numpy.TABLE``) to ``xs``."""
        try:
            _, fn, arity = TABLE[name]
        except KeyError:
            raise NotImplementedError(f"no CUDA kernel for elementwise op {name!r}") from None
        typed = xs[1:] if name == "where" else xs
        dtype = _result_type(typed)
        out = self.new(_broadcast_shape(xs), dtype)
        self._launch(self._kernel(name, fn, arity), out, xs, dtype)
        return out

    def map_into(self, out, name, *xs):
        """``out[...] = op(*xs)`` in place (``out`` may be a strided view)."""
        if name == "_identity":
            fn, arity = K.IDENTITY, 1
        else:
            _, fn, arity = TABLE[name]
        self._launch(self._kernel(name, fn, arity), out, xs, out.dtype)

    def predicate(self, name, *xs, bool_only=None):
        """A bool array: comparisons and logical ops (``==``, ``&``, ``isnan``, ...)."""
        if bool_only and any(isinstance(x, CudaArray) and x.dtype != np.bool_ for x in xs):
            raise NotImplementedError(f"CUDA arrays support {bool_only} on bool arrays only")
        fn, arity = K.PREDICATES[name]
        dtype = _result_type(xs)
        out = self.new(_broadcast_shape(xs), np.bool_)
        self._launch(self._kernel(name, fn, arity), out, xs, dtype)
        return out

    def map_rounding(self, name, x):
        out = self.new(x.shape, x.dtype)
        self._launch(self._kernel(name, K.ROUNDING[name], 1), out, (x,), x.dtype)
        return out

    def _launch(self, kernel, out, xs, dtype):
        n = out.size
        if n == 0:
            return
        arrays = [x for x in xs if isinstance(x, CudaArray)]
        steps = [broadcast_steps(x, out.shape) for x in arrays]
        shape, merged = coalesce(out.shape, [list(out.steps)] + steps)
        args = [n, shape, out.base, out.offset, merged[0]]
        k = 1
        for x in xs:
            if isinstance(x, CudaArray):
                args += [x.base, x.offset, merged[k], x.dtype.type(0), False]
                k += 1
            else:
                value = _scalar(x, dtype)
                args += [self._dummy(value.dtype), 0, merged[0], value, True]
        with _quiet():
            kernel[K.blocks_for(n), K.THREADS](*args)

    def _dummy(self, dtype):
        """A 1-element buffer standing in for the array slot of a scalar operand."""
        d = self._dummies.get(dtype)
        if d is None:
            d = self._dummies[dtype] = cuda.device_array(1, dtype)
        return d

    def ufunc(self, ufunc, method, inputs, kwargs):
        if method != "__call__" or kwargs.get("out") is not None:
            raise NotImplementedError(f"CUDA arrays do not support np.{ufunc.__name__}.{method}"
                                      " or out=")
        for x in inputs:
            if isinstance(x, np.ndarray) and x.ndim:
                raise TypeError(f"np.{ufunc.__name__}: cannot mix a NumPy array with a CUDA "
                                "array; move it to the device first")
        xs = [x.item() if isinstance(x, np.ndarray) else x for x in inputs]
        if ufunc in _UFUNCS:
            return self.predicate(_UFUNCS[ufunc], *xs)
        if ufunc in _UFUNC_ROUNDING:
            return self.map_rounding(_UFUNC_ROUNDING[ufunc], *xs)
        if ufunc in _UFUNC_MAP:
            return self.map(_UFUNC_MAP[ufunc], *xs)
        raise NotImplementedError(f"no CUDA kernel for np.{ufunc.__name__}")

    # --- reductions ----------------------------------------------------------------------------
    def sum(self, x, axes, keepdims=False):
        return self._reduce("sum", x, axes, keepdims)

    def amax(self, x, axes, keepdims=False):
        return self._reduce("amax", x, axes, keepdims)

    def amin(self, x, axes, keepdims=False):
        return self._reduce("amin", x, axes, keepdims)

    def prod(self, x, axes, keepdims=False):
        return self._reduce("prod", x, axes, keepdims)

    def _reduce(self, name, x, axes, keepdims):
        axes = tuple(range(x.ndim)) if axes is None else tuple(a % max(x.ndim, 1) for a in (
            (axes,) if isinstance(axes, int) else axes))
        kept = [i for i in range(x.ndim) if i not in axes]
        shape = tuple(1 if i in axes else n for i, n in enumerate(x.shape)) if keepdims \
            else tuple(x.shape[i] for i in kept)
        out = self.new(shape, x.dtype)
        m, r = out.size, math.prod(x.shape[i] for i in axes)
        combine, init = _REDUCE[name]
        if init is None:
            init = _extreme(x.dtype, name == "amin")
        if m == 0:
            return out
        if r == 0:
            self.map_into(out, "_identity", init)
            return out
        kshape, (ksteps,) = coalesce([x.shape[i] for i in kept], [[x.steps[i] for i in kept]])
        rshape, (rsteps,) = coalesce([x.shape[i] for i in axes], [[x.steps[i] for i in axes]])
        key = ("reduce", name, x.dtype)
        pair = self._kernels.get(key)
        if pair is None:
            pair = self._kernels[key] = K.reduction(combine, name, x.dtype)
        args = (x.base, x.offset, m, kshape, ksteps, rshape, rsteps, r, x.dtype.type(init),
                out.base)
        with _quiet():
            if r <= K.SERIAL_REDUCTION_MAX:
                pair[0][K.blocks_for(m), K.THREADS](*args)
            else:
                pair[1][min(m, K.MAX_BLOCKS), K.THREADS](*args)
        return out

    def _lines(self, x, axis):
        """Kept-axes shape/steps and the line length/step for a scan or arg-reduction."""
        axis %= max(x.ndim, 1)
        kept = [i for i in range(x.ndim) if i != axis]
        kshape, (ksteps,) = coalesce([x.shape[i] for i in kept], [[x.steps[i] for i in kept]])
        return kshape, ksteps, x.shape[axis] if x.ndim else 1, x.steps[axis] if x.ndim else 0

    def cumprod(self, x, axis):
        out = self.new(x.shape, x.dtype)
        if out.size == 0:
            return out
        kshape, ksteps, r, rstep = self._lines(x, axis)
        oshape, osteps, _, ostep = self._lines(out, axis)
        m = out.size // r
        with _quiet():
            K.cumprod_lines[K.blocks_for(m), K.THREADS](x.base, x.offset, m, kshape, ksteps, r,
                                                        rstep, out.base, oshape, osteps, ostep)
        return out

    def _arg(self, x, axis, keepdims, sign):
        if axis is None:
            x, axis = x.reshape(-1), 0
        axis %= max(x.ndim, 1)
        shape = tuple(1 if i == axis else n for i, n in enumerate(x.shape)) if keepdims \
            else tuple(n for i, n in enumerate(x.shape) if i != axis)
        out = self.new(shape, np.int64)
        kshape, ksteps, r, rstep = self._lines(x, axis)
        if out.size:
            K.arg_extremum[K.blocks_for(out.size), K.THREADS](
                x.base, x.offset, out.size, kshape, ksteps, r, rstep, sign, out.base)
        return out

    def argmax(self, x, axis, keepdims):
        return self._arg(x, axis, keepdims, 1)

    def argmin(self, x, axis, keepdims):
        return self._arg(x, axis, keepdims, -1)

    def all_any(self, x, kind, axis, keepdims, out=None):
        if out is not None:
            raise NotImplementedError("CUDA arrays: all/any with out=")
        axes = None if axis is None else ((axis,) if isinstance(axis, int) else tuple(axis))
        counts = self.sum(self.astype(self.predicate("ne", x, 0), np.int64), axes, keepdims)
        if kind == "any":
            return self.predicate("gt", counts, 0)
        n = math.prod(x.shape) // max(counts.size, 1) if x.size else 0
        return self.predicate("eq", counts, n)

    # --- linear algebra ------------------------------------------------------------------------
    def matmul(self, a, b):
        from .cuda_linalg import matmul

        return matmul(self, a, b)

    def einsum(self, equation, *xs):
        from .cuda_linalg import einsum

        return einsum(self, equation, *xs)

    # --- shapes and indexing -------------------------------------------------------------------
    def reshape(self, x, shape):
        return x.reshape(shape)

    def transpose(self, x, axes):
        return x.transpose(axes)

    def swapaxes(self, x, a, b):
        axes = list(range(x.ndim))
        axes[a], axes[b] = axes[b], axes[a]
        return x.transpose(axes)

    def broadcast_to(self, x, shape):
        shape = tuple(shape)
        return x.view_as(shape, broadcast_steps(x, shape), x.offset)

    def concatenate(self, xs, axis):
        axis %= xs[0].ndim
        shape = list(xs[0].shape)
        shape[axis] = sum(x.shape[axis] for x in xs)
        out = self.new(tuple(shape), np.result_type(*[x.dtype for x in xs]))
        start = 0
        for x in xs:
            index = (slice(None),) * axis + (slice(start, start + x.shape[axis]),)
            self.map_into(basic_view(out, index), "_identity", x)
            start += x.shape[axis]
        return out

    def getitem(self, x, index):
        view = basic_view(x, index)
        if view is not None:
            return view
        pos = positions(x, index)
        out = self.new(pos.shape, x.dtype)
        if out.size:
            K.gather[K.blocks_for(out.size), K.THREADS](x.base, self.from_numpy(pos).base,
                                                        out.base)
        return out

    def setitem(self, x, index, value):
        if isinstance(value, np.ndarray) and value.ndim:
            value = self.from_numpy(value)
        elif isinstance(value, np.ndarray):
            value = value.item()
        view = basic_view(x, index)
        if view is not None:
            if not (isinstance(value, CudaArray) and value.base is view.base and
                    value.offset == view.offset and value.steps == view.steps):
                self.map_into(view, "_identity", value)
            return
        pos = positions(x, index)
        if pos.size:
            v = value if isinstance(value, CudaArray) else self.full((), value, x.dtype)
            vshape, (vsteps,) = coalesce(pos.shape, [broadcast_steps(v, pos.shape)])
            K.scatter_set[K.blocks_for(pos.size), K.THREADS](
                x.base, self.from_numpy(pos.reshape(-1)).base, v.base, v.offset, vshape, vsteps)

    def index_add(self, shape, dtype, index, g, unique):
        """A zero array of ``shape`` with ``g`` added at ``index`` (repeats accumulate)."""
        out = self.zeros(shape, dtype)
        view = basic_view(out, index) if unique else None
        if view is not None:
            self.map_into(view, "_identity", g)
            return out
        pos = positions(out, index)
        if pos.size:
            gshape, (gsteps,) = coalesce(pos.shape, [broadcast_steps(g, pos.shape)])
            with _quiet():
                K.scatter_add[K.blocks_for(pos.size), K.THREADS](
                    out.base, self.from_numpy(pos.reshape(-1)).base, g.base, g.offset, gshape,
                    gsteps)
        return out

    def diagonal_view(self, x, equation):
        from .cuda_linalg import diagonal

        sub, _, unique = equation.partition("->")
        return diagonal(x, sub, unique)

    def astype(self, x, dtype):
        out = self.new(x.shape, dtype)
        self.map_into(out, "_identity", x)
        return out

    def copy(self, x):
        return self.astype(x, x.dtype)

    # --- optimizers ----------------------------------------------------------------------------
    def sgd_step(self, param, grad, buf, lr, weight_decay, momentum, dampening, nesterov,
                 maximize, first):
        sgd, _ = K.optimizer_kernels()
        p, g = _flat(param), _flat(grad)
        b = _flat(buf) if buf is not None else p
        sgd[K.blocks_for(p.size), K.THREADS](p, g, b, lr, weight_decay, momentum, dampening,
                                             nesterov, maximize, first)

    def adam_step(self, param, grad, m, v, v_max, lr, beta1, beta2, eps, weight_decay,
                  decoupled, amsgrad, maximize, bias_correction1, bias_correction2_sqrt):
        _, adam = K.optimizer_kernels()
        p = _flat(param)
        vm = _flat(v_max) if v_max is not None else p
        adam[K.blocks_for(p.size), K.THREADS](
            p, _flat(grad), _flat(m), _flat(v), vm, beta1, beta2, eps, weight_decay,
            decoupled, amsgrad, maximize, lr / bias_correction1, 1.0 - lr * weight_decay,
            bias_correction2_sqrt)


def _flat(a):
    """The device buffer slice holding contiguous ``a``."""
    if not a.is_contiguous:
        raise NotImplementedError("CUDA optimizer step on a non-contiguous array")
    return a.base[a.offset : a.offset + a.size]


def _broadcast_shape(xs):
    return np.broadcast_shapes(*[x.shape for x in xs if isinstance(x, CudaArray)])


def _result_type(xs):
    arrays = [x.dtype for x in xs if isinstance(x, CudaArray)]
    others = [x for x in xs if not isinstance(x, CudaArray)]
    return np.result_type(*arrays, *others)


def _scalar(x, dtype):
    if isinstance(x, (bool, np.bool_)):
        return np.bool_(x)
    return np.dtype(dtype).type(x)


def _extreme(dtype, high):
    if dtype.kind == "f":
        return math.inf if high else -math.inf
    if dtype.kind == "b":
        return high
    info = np.iinfo(dtype)
    return info.max if high else info.min


__all__ = ["CudaBackend", "CudaArray", "contiguous_steps"]

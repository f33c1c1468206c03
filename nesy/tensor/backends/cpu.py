"""The CPU backend: NumPy arrays, with Numba kernels taking over on large arrays.

Small arrays go to NumPy, whose per-call overhead (about half a microsecond) is far below
a parallel kernel launch; from :data:`KERNEL_THRESHOLD` elements on, float arrays go to the
parallel kernels built from :mod:`nesy.tensor.scalar`. ``kernel_threshold(0)`` forces the
kernel path (the test-suite runs every op both ways).
"""

from __future__ import annotations

import contextlib
import math

import numpy as np

from ..device import CPU
from .elementwise_numpy import FLOAT32_KERNELS, QUIET, SIMD_IN_NUMPY, TABLE
from .threads import run_blocked, run_row_groups

KERNEL_THRESHOLD = 1 << 15
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


@contextlib.contextmanager
def kernel_threshold(n: int):
    """Temporarily route arrays of at least ``n`` elements to the Numba kernels."""
    global KERNEL_THRESHOLD
    previous, KERNEL_THRESHOLD = KERNEL_THRESHOLD, n
    try:
        yield
    finally:
        KERNEL_THRESHOLD = previous


class CpuBackend:
    """Array operations for tensors on the CPU (``device='cpu'``)."""

    name = "cpu"

    def __init__(self, device=CPU):
        self.device = device
        self._kernels = {}
        self._reducers = {}

    # --- creation -----------------------------------------------------------------------
    def asarray(self, data, dtype=None):
        return np.asarray(data, dtype=dtype)

    def zeros(self, shape, dtype):
        return np.zeros(shape, dtype)

    def ones(self, shape, dtype):
        return np.ones(shape, dtype)

    def full(self, shape, value, dtype):
        return np.full(shape, value, dtype)

    def empty(self, shape, dtype):
        return np.empty(shape, dtype)

    def arange(self, start, stop, step, dtype):
        return np.arange(start, stop, step, dtype=dtype)

    def to_numpy(self, a):
        return a

    def from_numpy(self, a):
        return a

    # --- elementwise ----------------------------------------------------------------------
    def map(self, name, *xs):
        """Apply the elementwise op ``name`` (see ``elementwise_numpy.TABLE``) to ``xs``."""
        for x in xs:
            if type(x) is np.ndarray and x.size >= KERNEL_THRESHOLD and x.dtype in _FLOATS:
                return self._map_kernel(name, xs)
        if name in QUIET:
            with np.errstate(all="ignore"):
                return TABLE[name][0](*xs)
        return TABLE[name][0](*xs)

    def _map_kernel(self, name, xs):
        arrays = [x for x in xs if type(x) is np.ndarray and x.dtype != np.bool_]
        dtype = np.result_type(*arrays, *[x for x in xs if type(x) is not np.ndarray])
        if dtype not in _FLOATS:
            with np.errstate(all="ignore"):
                return TABLE[name][0](*xs)
        shape = np.broadcast_shapes(*[np.shape(x) for x in xs])
        args = [_prepare(x, dtype, shape) for x in xs]
        out = np.empty(shape, dtype)
        same_shape = all(not isinstance(a, np.ndarray) or a.shape == shape for a in args)
        if same_shape and dtype == np.float32 and name in FLOAT32_KERNELS:
            flat, _ = self._kernel(name, np.float32)
            flat(out.reshape(-1), *[_ravel(a) for a in args])
            return out
        if name in SIMD_IN_NUMPY:
            if not same_shape:
                with np.errstate(all="ignore"):
                    return TABLE[name][0](*xs)
            run_blocked(TABLE[name][0], out.reshape(-1), [_ravel(a) for a in args])
            return out
        flat, strided = self._kernel(name)
        if same_shape:
            flat(out.reshape(-1), *[_ravel(a) for a in args])
            return out
        views = _coalesce3(out, [np.broadcast_to(a, shape) for a in args])
        if views is None:
            with np.errstate(all="ignore"):
                return TABLE[name][0](*xs)
        strided(*views)
        return out

    def _kernel(self, name, dtype=None):
        """The ``(flat, strided)`` kernels of ``name``, cached under ``name``; with
        ``dtype=np.float32``, those of its ``FLOAT32_KERNELS`` form, cached under the pair."""
        key = name if dtype is None else (name, dtype)
        pair = self._kernels.get(key)
        if pair is None:
            from .. import kernels

            _, fn, arity = TABLE[name]
            flags = ()
            if dtype is not None:
                fn, flags = FLOAT32_KERNELS[name]
            pair = self._kernels[key] = kernels.elementwise(fn, arity, flags)
        return pair

    # --- reductions -----------------------------------------------------------------------
    def sum(self, x, axes, keepdims=False):
        return self._reduce("sum", np.sum, x, axes, keepdims)

    def amax(self, x, axes, keepdims=False):
        return self._reduce("amax", np.amax, x, axes, keepdims)

    def amin(self, x, axes, keepdims=False):
        return self._reduce("amin", np.amin, x, axes, keepdims)

    def prod(self, x, axes, keepdims=False):
        return np.prod(x, axis=axes, keepdims=keepdims)

    def cumprod(self, x, axis):
        return np.cumprod(x, axis=axis)

    def _reduce(self, name, numpy_fn, x, axes, keepdims):
        if not (
            x.size >= KERNEL_THRESHOLD and x.dtype in _FLOATS and x.flags.c_contiguous and axes
        ):
            return numpy_fn(x, axis=axes, keepdims=keepdims)
        lo, hi = min(axes), max(axes)
        if hi - lo + 1 != len(axes):  # not one contiguous block of axes
            return numpy_fn(x, axis=axes, keepdims=keepdims)
        p = math.prod(x.shape[:lo])
        n = math.prod(x.shape[lo : hi + 1])
        q = math.prod(x.shape[hi + 1 :])
        if n == 0 or p * q == 0:  # the kernels start from the first element: none to start from
            return numpy_fn(x, axis=axes, keepdims=keepdims)
        middle, rows = self._reducer(name)
        threads = numba_threads()
        if q > 1:
            out = np.empty((p, q), x.dtype)
            middle(x.reshape(p, n, q), np.empty((p, min(threads, n), q), x.dtype), out)
        else:
            if p == 1:  # a full reduction: equal chunks become rows, the tail is folded after
                chunks = threads * 16
                m = n // chunks
                if m == 0:  # fewer elements than chunks (only when the threshold is lowered)
                    return numpy_fn(x, axis=axes, keepdims=keepdims)
                flat = x.reshape(-1)
                head = flat[: chunks * m].reshape(chunks, m)
                part = self._reduce_rows(name, rows, numpy_fn, head)
                out = np.asarray(numpy_fn(np.concatenate([part, flat[chunks * m :]])), x.dtype)
            else:
                out = self._reduce_rows(name, rows, numpy_fn, x.reshape(p, n))
        kept = tuple(1 if i in axes else s for i, s in enumerate(x.shape))
        if keepdims:
            return out.reshape(kept)
        return out.reshape(tuple(s for i, s in enumerate(x.shape) if i not in axes))

    def _reducer(self, name):
        pair = self._reducers.get(name)
        if pair is None:
            from .. import kernels

            pair = self._reducers[name] = kernels.reduction(kernels.REDUCTIONS[name], name)
        return pair

    def _reduce_rows(self, name, rows, numpy_fn, x2):
        """Reduce each row of ``x2``: the sum kernel, or NumPy's SIMD max/min on row groups.

        A NaN-propagating max does not vectorize in Numba (3 ms on 2048 x 2048 against
        0.4 ms for NumPy's), so amax/amin run NumPy's loop on row groups in threads.
        """
        out = np.empty(x2.shape[0], x2.dtype)
        if name == "sum":
            rows(x2, out)
        else:
            run_row_groups(lambda lo, hi: numpy_fn(x2[lo:hi], axis=1, out=out[lo:hi]),
                           x2.shape[0])
        return out

    def sum_to_shape(self, g, shape, opname="op"):
        """Sum ``g`` over the axes along which an input of ``shape`` was broadcast."""
        lead = g.ndim - len(shape)
        if lead < 0:
            return g.reshape(shape)
        axes = tuple(range(lead)) + tuple(
            lead + i for i, s in enumerate(shape) if s == 1 and g.shape[lead + i] != 1
        )
        if axes:
            g = self.sum(g, axes, keepdims=False)
        try:
            return g.reshape(shape)
        except ValueError:
            raise RuntimeError(
                f"{opname}: gradient of shape {g.shape} does not fit input shape {shape}"
            ) from None

    # --- linear algebra, shape and indexing -------------------------------------------------
    def matmul(self, a, b):
        return np.matmul(a, b)

    def einsum(self, equation, *xs):
        return np.einsum(equation, *xs, optimize=len(xs) > 2)

    def reshape(self, x, shape):
        return x.reshape(shape)

    def transpose(self, x, axes):
        return x.transpose(axes)

    def swapaxes(self, x, a, b):
        return np.swapaxes(x, a, b)

    def broadcast_to(self, x, shape):
        return np.broadcast_to(x, shape)

    def concatenate(self, xs, axis):
        return np.concatenate(xs, axis=axis)

    def getitem(self, x, index):
        return x[index]

    def index_add(self, shape, dtype, index, g, unique):
        """A zero array of ``shape`` with ``g`` added at ``index`` (repeats accumulate)."""
        out = np.zeros(shape, dtype)
        if unique:
            out[index] = g
        else:
            np.add.at(out, index, g)
        return out

    def diagonal_view(self, x, equation):
        return np.einsum(equation, x)

    def astype(self, x, dtype):
        return x.astype(dtype)

    def copy(self, x):
        return x.copy()

    def argmax(self, x, axis, keepdims):
        return np.argmax(x, axis=axis, keepdims=keepdims)

    def argmin(self, x, axis, keepdims):
        return np.argmin(x, axis=axis, keepdims=keepdims)


def numba_threads():
    import numba

    return numba.get_num_threads()


def _prepare(x, dtype, shape):
    if type(x) is not np.ndarray:
        return dtype.type(x) if not isinstance(x, (bool, np.bool_)) else x
    if x.dtype == np.bool_:
        if x.size == 1 and shape != x.shape:
            return bool(x.reshape(-1)[0])
        return x
    if x.dtype != dtype:
        x = x.astype(dtype)
    if x.size == 1 and shape != x.shape:
        return x.reshape(-1)[0]
    return x


def _ravel(a):
    if not isinstance(a, np.ndarray):
        return a
    return np.ascontiguousarray(a).reshape(-1)


def coalesce(shape, step_lists):
    """Drop size-1 axes (their steps are arbitrary) and merge adjacent axes that every
    operand walks contiguously: ``(shape, steps per operand)``, never empty. Shared with
    the CUDA backend, which steps in elements where NumPy strides in bytes."""
    keep = [i for i, n in enumerate(shape) if n != 1]
    dims = [shape[i] for i in keep]
    steps = [[s[i] for i in keep] for s in step_lists]
    i = len(dims) - 1
    while i > 0:
        if all(s[i - 1] == s[i] * dims[i] for s in steps):
            dims[i - 1] *= dims[i]
            del dims[i]
            for s in steps:
                s[i - 1] = s[i]
                del s[i]
        i -= 1
    if not dims:
        return (1,), [(0,) for _ in step_lists]
    return tuple(dims), [tuple(s) for s in steps]


def _coalesce3(out, views):
    """Merge adjacent axes where every operand is laid out contiguously across them.

    Returns 3-D views of ``out`` and each operand, or None when more than 3 axes remain.
    """
    arrays = [out] + views
    shape, strides = coalesce(out.shape, [a.strides for a in arrays])
    if len(shape) > 3:
        return None
    pad = 3 - len(shape)
    shape = [1] * pad + list(shape)
    as_strided = np.lib.stride_tricks.as_strided
    return [
        as_strided(a, shape, [0] * pad + list(s), writeable=(k == 0))
        for k, (a, s) in enumerate(zip(arrays, strides))
    ]

"""``CudaArray``: a strided view of a flat ``numba.cuda`` device buffer.

numba's own device arrays support few views (no broadcasting, no negative steps, no
arithmetic), so the CUDA backend wraps a flat buffer with a shape, element steps and an
offset, as NumPy does with bytes. Transposes, broadcasts, diagonals and basic slices are
views; everything else runs a kernel through the backend. The class answers the small part
of the ndarray protocol the engine relies on (``shape``, ``reshape``, ``astype``, ``copy``,
``+``, ``==``, ``|``, ``x[...]``, ``x[...] = v`` and a few NumPy ufuncs), like CuPy's arrays.

Nothing converts silently to the host: ``np.asarray(cuda_array)`` raises; copy back with
``Tensor.cpu()`` / ``.numpy()``.
"""

from __future__ import annotations

import math

import numpy as np


class _Flags:
    __slots__ = ("c_contiguous",)
    writeable = True

    def __init__(self, c_contiguous):
        self.c_contiguous = c_contiguous


def contiguous_steps(shape):
    steps, acc = [], 1
    for n in reversed(shape):
        steps.append(acc)
        acc *= max(n, 1)
    return tuple(reversed(steps))


class CudaArray:
    """An array on the GPU: ``base`` (1-D device buffer), ``shape``, ``steps``, ``offset``."""

    __slots__ = ("base", "shape", "steps", "offset", "dtype", "__weakref__")
    __array_priority__ = 2000

    def __init__(self, base, shape, steps=None, offset=0):
        self.base = base
        self.shape = tuple(int(n) for n in shape)
        self.steps = contiguous_steps(self.shape) if steps is None else tuple(steps)
        self.offset = int(offset)
        self.dtype = base.dtype

    # --- attributes -------------------------------------------------------------------------
    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        return math.prod(self.shape)

    @property
    def itemsize(self):
        return self.dtype.itemsize

    @property
    def nbytes(self):
        return self.size * self.itemsize

    @property
    def strides(self):
        return tuple(s * self.itemsize for s in self.steps)

    @property
    def is_contiguous(self):
        return all(n == 1 or s == c for n, s, c in
                   zip(self.shape, self.steps, contiguous_steps(self.shape))) or self.size == 0

    @property
    def flags(self):
        return _Flags(self.is_contiguous)

    @property
    def T(self):
        return self.transpose(tuple(reversed(range(self.ndim))))

    @property
    def __cuda_array_interface__(self):
        data = self.base.__cuda_array_interface__["data"][0] + self.offset * self.itemsize
        return {"shape": self.shape, "typestr": self.dtype.str, "version": 3,
                "strides": None if self.is_contiguous else self.strides,
                "data": (data, False)}

    def __len__(self):
        if not self.shape:
            raise TypeError("len() of a 0-d array")
        return self.shape[0]

    def __repr__(self):
        return f"CudaArray(shape={self.shape}, dtype={self.dtype})"

    def __array__(self, dtype=None, copy=None):
        raise TypeError(
            "a CUDA array cannot be converted to a NumPy array implicitly; copy it to the host "
            "with tensor.cpu() or tensor.numpy()"
        )

    def __bool__(self):
        raise TypeError("the truth value of a CUDA array needs a copy to the host; use .item()")

    # --- views ------------------------------------------------------------------------------
    def view_as(self, shape, steps, offset):
        return CudaArray(self.base, shape, steps, offset)

    def reshape(self, *shape, order="C"):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        shape = _resolve_shape(tuple(int(s) for s in shape), self.size)
        if shape == self.shape:
            return self
        src = self if self.is_contiguous else self.copy()
        return CudaArray(src.base, shape, None, src.offset)

    def transpose(self, *axes):
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        if not axes:
            axes = tuple(reversed(range(self.ndim)))
        axes = tuple(int(a) % max(self.ndim, 1) for a in axes)
        return self.view_as([self.shape[a] for a in axes], [self.steps[a] for a in axes],
                            self.offset)

    def __getitem__(self, index):
        return _backend().getitem(self, index)

    def __setitem__(self, index, value):
        _backend().setitem(self, index, value)

    # --- conversion -------------------------------------------------------------------------
    def copy(self):
        return _backend().copy(self)

    def astype(self, dtype, copy=True):
        dtype = np.dtype(dtype)
        if dtype == self.dtype and not copy:
            return self
        return _backend().astype(self, dtype)

    def copy_to_host(self):
        return _backend().to_numpy(self)

    def round(self, decimals=0, out=None):
        if decimals != 0 or out is not None:
            raise NotImplementedError("CUDA arrays round to integers only (decimals=0)")
        return _backend().map_rounding("rint", self)

    def all(self, axis=None, out=None, keepdims=False):
        return _backend().all_any(self, "all", axis, keepdims, out)

    def any(self, axis=None, out=None, keepdims=False):
        return _backend().all_any(self, "any", axis, keepdims, out)

    # --- arithmetic, comparisons, logic ------------------------------------------------------
    def __add__(self, other):
        return _backend().map("add", self, other)

    def __radd__(self, other):
        return _backend().map("add", other, self)

    def __sub__(self, other):
        return _backend().map("sub", self, other)

    def __rsub__(self, other):
        return _backend().map("sub", other, self)

    def __mul__(self, other):
        return _backend().map("mul", self, other)

    def __rmul__(self, other):
        return _backend().map("mul", other, self)

    def __truediv__(self, other):
        return _backend().map("div", self, other)

    def __rtruediv__(self, other):
        return _backend().map("div", other, self)

    def __pow__(self, other):
        return _backend().map("power", self, other)

    def __rpow__(self, other):
        return _backend().map("power", other, self)

    def __neg__(self):
        return _backend().map("neg", self)

    def __iadd__(self, other):
        _backend().map_into(self, "add", self, other)
        return self

    def __eq__(self, other):
        return _backend().predicate("eq", self, other)

    def __ne__(self, other):
        return _backend().predicate("ne", self, other)

    def __lt__(self, other):
        return _backend().predicate("lt", self, other)

    def __le__(self, other):
        return _backend().predicate("le", self, other)

    def __gt__(self, other):
        return _backend().predicate("gt", self, other)

    def __ge__(self, other):
        return _backend().predicate("ge", self, other)

    def __and__(self, other):
        return _backend().predicate("logical_and", self, other, bool_only="&")

    def __or__(self, other):
        return _backend().predicate("logical_or", self, other, bool_only="|")

    def __xor__(self, other):
        return _backend().predicate("logical_xor", self, other, bool_only="^")

    def __invert__(self):
        return _backend().predicate("logical_not", self, bool_only="~")

    __hash__ = None

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        """NumPy ufuncs with a kernel here (isnan, logical_and, floor, ...); others raise."""
        return _backend().ufunc(ufunc, method, inputs, kwargs)


def _resolve_shape(shape, size):
    if shape.count(-1) > 1:
        raise ValueError("can only specify one unknown dimension")
    if -1 in shape:
        known = math.prod(s for s in shape if s != -1)
        if known == 0 or size % known:
            raise ValueError(f"cannot reshape array of size {size} into shape {shape}")
        shape = tuple(size // known if s == -1 else s for s in shape)
    if math.prod(shape) != size or any(s < 0 for s in shape):
        raise ValueError(f"cannot reshape array of size {size} into shape {shape}")
    return shape


def _backend():
    from . import get_backend

    return get_backend("cuda")

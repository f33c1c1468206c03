"""``Tensor``: an array with an optional gradient and the operation that produced it.

The class holds state and conversions; the operations themselves live in
:mod:`nesy.tensor.api` (argument checking, dtype promotion, composites) and the primitives
in :mod:`nesy.tensor.ops`. Operators and methods follow PyTorch's names and semantics.
"""

from __future__ import annotations

from copy import deepcopy

import numpy as np

from . import autograd, dtypes
from .device import CPU, Device
from .grad_mode import no_grad


class Tensor:
    """An n-dimensional array that can record operations for automatic differentiation.

    >>> import nesy
    >>> x = nesy.tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> (x * x).sum().backward()
    >>> x.grad
    tensor([2., 4., 6.])
    """

    __slots__ = ("_data", "_requires_grad", "grad", "_node", "_output_index", "device",
                 "__weakref__", "__dict__")
    __array_priority__ = 1000  # make ndarray <op> Tensor defer to Tensor's reflected op

    def __init__(self, data=(), dtype=None, requires_grad=False, device=None):
        dtype = dtypes.as_dtype(dtype) or dtypes.DEFAULT_FLOAT
        if isinstance(data, Tensor):
            data = data._data
        _init(self, np.array(data, dtype=dtype), requires_grad, device)

    @staticmethod
    def _from_op(data, node, device):
        """Wrap an op's output array (fast path: no copies, no checks)."""
        t = object.__new__(Tensor)
        if isinstance(data, np.generic):
            data = np.asarray(data)
        t._data = data
        t._node = node
        t._requires_grad = node is not None
        t.grad = None
        t._output_index = 0
        t.device = device
        return t

    # --- attributes ---------------------------------------------------------------------
    @property
    def shape(self):
        return self._data.shape

    @property
    def dtype(self):
        return self._data.dtype

    @property
    def ndim(self):
        return self._data.ndim

    @property
    def is_leaf(self):
        return self._node is None

    @property
    def grad_fn(self):
        """The node that produced this tensor (None for leaves)."""
        return self._node

    @property
    def requires_grad(self):
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag):
        self.requires_grad_(flag)

    def requires_grad_(self, flag=True):
        if flag and not dtypes.is_floating(self.dtype):
            raise RuntimeError(
                f"only tensors of floating point dtype can require gradients, got {self.dtype}"
            )
        if not flag and self._node is not None:
            raise RuntimeError(
                "you can only change requires_grad flags of leaf tensors; use .detach()"
            )
        self._requires_grad = bool(flag)
        return self

    @property
    def data(self):
        """A tensor sharing this one's storage, outside the graph (as in PyTorch)."""
        return Tensor._from_op(self._data, None, self.device)

    @data.setter
    def data(self, value):
        self._data = value._data if isinstance(value, Tensor) else np.asarray(value)

    @property
    def T(self):
        return self.permute(*reversed(range(self.ndim)))

    @property
    def mT(self):
        return self.transpose(-2, -1)

    def size(self, dim=None):
        return self.shape if dim is None else self.shape[dim]

    def dim(self):
        return self._data.ndim

    def numel(self):
        return self._data.size

    def element_size(self):
        return self._data.itemsize

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.shape[0]))

    __hash__ = object.__hash__

    # --- conversion -------------------------------------------------------------------
    def numpy(self, force=False):
        """The data as a NumPy array (shared memory on the CPU)."""
        if self._requires_grad and not force:
            raise RuntimeError(
                "can't call numpy() on a tensor that requires grad; use tensor.detach().numpy()"
            )
        return self._backend().to_numpy(self._data)

    def __array__(self, dtype=None, copy=None):
        arr = self.numpy()
        return arr if dtype is None else arr.astype(dtype)

    def item(self):
        if self._data.size != 1:
            raise RuntimeError(
                f"a tensor with {self._data.size} elements cannot be converted to a Python number"
            )
        return self._backend().to_numpy(self._data).reshape(-1)[0].item()

    def tolist(self):
        return self._backend().to_numpy(self._data).tolist()

    def detach(self):
        return Tensor._from_op(self._data, None, self.device)

    def detach_(self):
        self._node = None
        self._requires_grad = False
        return self

    def to(self, *args, dtype=None, device=None, copy=False):
        """Convert dtype and/or device: ``t.to("cuda")``, ``t.to(nesy.float64)``."""
        for a in args:
            if isinstance(a, Tensor):
                dtype, device = a.dtype, a.device
            elif isinstance(a, (str, Device)) and _looks_like_device(a):
                device = a
            else:
                dtype = a
        out = self
        if dtype is not None and dtypes.as_dtype(dtype) != self.dtype:
            from .api import cast

            out = cast(out, dtypes.as_dtype(dtype))
        if device is not None and Device(device) != self.device:
            from .api import to_device

            out = to_device(out, Device(device))
        if copy and out is self:
            out = self.clone()
        return out

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=None):
        return self.to("cuda" if device is None else f"cuda:{device}")

    def float(self):
        return self.to(dtypes.float32)

    def double(self):
        return self.to(dtypes.float64)

    def half(self):
        return self.to(dtypes.float16)

    def long(self):
        return self.to(dtypes.int64)

    def int(self):
        return self.to(dtypes.int32)

    def bool(self):
        return self.to(dtypes.bool_)

    def type(self, dtype=None):
        return str(self.dtype) if dtype is None else self.to(dtypes.as_dtype(dtype))

    def type_as(self, other):
        return self.to(other.dtype)

    def _backend(self):
        from .backends import backend_for

        return backend_for(self.device)

    # --- autograd -----------------------------------------------------------------------
    def backward(self, gradient=None, retain_graph=False, create_graph=False, inputs=None):
        """Accumulate the gradient of this tensor into ``.grad`` of every leaf it depends on.

        A non-scalar tensor needs ``gradient`` (the vector in the vector-Jacobian product).
        The graph's saved values are freed unless ``retain_graph=True``.
        """
        if create_graph:
            raise RuntimeError(
                "create_graph=True (higher-order gradients) is not supported by nesy yet"
            )
        root = _root_gradient(self, gradient)
        if inputs is not None:
            grads = autograd.backward([self], [root], retain_graph, inputs=_as_sequence(inputs))
            for t, g in zip(_as_sequence(inputs), grads):
                if g is not None:
                    autograd._deliver_leaf(t, g, None)
            return
        autograd.backward([self], [root], retain_graph)

    def retain_grad(self):
        """Keep this non-leaf tensor's gradient in ``.grad`` after ``backward``."""
        if self._node is not None:
            autograd.retain(self)

    def zero_(self):
        return self._inplace(0)

    def fill_(self, value):
        return self._inplace(value.item() if isinstance(value, Tensor) else value)

    def copy_(self, src):
        if isinstance(src, Tensor):
            src = (src if src.device == self.device else src.to(self.device))._data
        else:
            src = np.asarray(src)
        if src.shape != self.shape and np.broadcast_shapes(src.shape, self.shape) != self.shape:
            raise ValueError(f"copy_: shape {tuple(src.shape)} does not broadcast to "
                             f"{tuple(self.shape)}")
        return self._inplace(src)

    def _inplace(self, new):
        """Replace the values in place (only outside the graph, as for optimizer steps)."""
        from .grad_mode import is_grad_enabled

        if is_grad_enabled() and (self._requires_grad and self._node is None):
            raise RuntimeError(
                "a leaf tensor that requires grad is used in an in-place operation; "
                "wrap it in `with nesy.no_grad():`"
            )
        self._data[...] = new
        return self

    # --- display ------------------------------------------------------------------------
    def __repr__(self):
        arr = self._backend().to_numpy(self._data)
        body = np.array2string(arr, separator=", ", prefix="tensor(", precision=4)
        extras = []
        if arr.dtype not in (dtypes.float32, dtypes.int64, dtypes.bool_):
            extras.append(f"dtype={arr.dtype}")
        if arr.size == 0:
            extras.append(f"size={tuple(arr.shape)}")
        if self.device != CPU:
            extras.append(f"device='{self.device}'")
        if self._node is not None:
            extras.append(f"grad_fn=<{type(self._node).__name__}Backward>")
        elif self._requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"

    def __format__(self, spec):
        if self.ndim == 0 and spec:
            return format(self.item(), spec)
        return repr(self)

    def __bool__(self):
        if self._data.size != 1:
            raise RuntimeError(
                f"the truth value of a tensor with {self._data.size} elements is ambiguous"
            )
        return bool(self.item())

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self.dtype.kind not in "iu":
            raise TypeError("only integer tensors of a single element can be used as an index")
        return int(self.item())

    def __reduce__(self):
        raise TypeError("nesy tensors are not pickled; save state with nesy.save(dict, path)")

    def __copy__(self):
        """A shallow copy sharing the data (as ``copy.copy`` of a NumPy array view would),
        detached from the graph: matplotlib and other libraries copy what they plot."""
        twin = object.__new__(type(self))
        _init(twin, self._data, False, None)
        twin.device = self.device
        twin._requires_grad = self._requires_grad
        for k, v in getattr(self, "__dict__", {}).items():
            setattr(twin, k, v)
        return twin

    def __deepcopy__(self, memo):
        """A leaf copy with its own data (and grad), keeping ``requires_grad`` and the class."""
        twin = object.__new__(type(self))
        memo[id(self)] = twin
        _init(twin, self._data.copy(), False, None)
        twin.device = self.device
        twin._requires_grad = self._requires_grad
        if self.grad is not None:
            twin.grad = self.grad.__deepcopy__(memo)
        for k, v in getattr(self, "__dict__", {}).items():
            setattr(twin, k, deepcopy(v, memo))
        return twin


def _init(t, arr, requires_grad, device):
    t._data = arr
    t._node = None
    t.grad = None
    t._output_index = 0
    t.device = CPU
    t._requires_grad = False
    if requires_grad:
        t.requires_grad_(True)
    if device is not None and Device(device) != CPU:
        from .api import to_device

        moved = to_device(t.detach(), Device(device))
        t._data, t.device = moved._data, moved.device


def _looks_like_device(a):
    if isinstance(a, Device):
        return True
    return a.split(":")[0] in ("cpu", "cuda")


def _as_sequence(x):
    if isinstance(x, Tensor):
        return [x]
    return list(x)


def _root_gradient(t, gradient):
    """The gradient array that starts a backward pass from ``t``."""
    if not t.requires_grad:
        raise RuntimeError(
            "element 0 of tensors does not require grad and does not have a grad_fn"
        )
    be = t._backend()
    if gradient is None:
        if t._data.size != 1:
            raise RuntimeError(
                f"backward: grad can be implicitly created only for scalar outputs, but the "
                f"tensor has shape {tuple(t.shape)}; pass gradient=... of that shape"
            )
        return be.ones(t.shape, t.dtype)
    g = gradient._data if isinstance(gradient, Tensor) else be.asarray(gradient, t.dtype)
    if tuple(g.shape) != tuple(t.shape):
        raise RuntimeError(
            f"backward: gradient has shape {tuple(g.shape)} but the tensor has shape "
            f"{tuple(t.shape)}"
        )
    return be.astype(g, t.dtype) if g.dtype != t.dtype else g


__all__ = ["Tensor", "no_grad"]

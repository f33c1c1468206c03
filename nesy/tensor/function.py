"""Differentiable operations: the ``Function`` base class and its context.

Every operation that can appear in a graph is a subclass of :class:`Function`. Applying it
creates one instance, which is both the context that ``forward`` saves into and the graph
node that ``backward`` is later called on (as in PyTorch's ``autograd.Function``).

Two kinds share this machinery:

* primitives (``nesy.tensor.ops``) set ``raw = True``: ``forward`` and ``backward`` receive
  and return backend arrays, which keeps per-op overhead to a few microseconds;
* user functions (the default, ``raw = False``) receive and return :class:`Tensor` objects,
  exactly like ``torch.autograd.Function``::

        >>> import nesy
        >>> class Cube(nesy.Function):
        ...     @staticmethod
        ...     def forward(ctx, x):
        ...         ctx.save_for_backward(x)
        ...         return x ** 3
        ...     @staticmethod
        ...     def backward(ctx, grad):
        ...         (x,) = ctx.saved_tensors
        ...         return grad * 3 * x ** 2
        >>> x = nesy.tensor([2.0], requires_grad=True)
        >>> Cube.apply(x).backward(nesy.ones(1))
        >>> x.grad.tolist()
        [12.0]
"""

from __future__ import annotations

from .autograd import freed_error
from .backends import backend_for, get_backend
from .grad_mode import _state as _grad_state
from .grad_mode import is_grad_enabled, no_grad
from .tensor import Tensor


class Function:
    """Base class of all differentiable operations; subclass and call ``apply``.

    ``forward(ctx, *args)`` computes the outputs and may call ``ctx.save_for_backward``;
    ``backward(ctx, *grad_outputs)`` returns one gradient (or ``None``) per ``forward``
    argument. ``ctx.needs_input_grad[i]`` tells whether argument ``i`` needs one.
    """

    raw = False
    # Per-node state. Class-level defaults keep creating a node to one object allocation;
    # an instance attribute is set only when a node needs a value other than the default.
    inputs = ()
    needs_input_grad = ()
    saved = ()
    backend = None
    n_outputs = 1
    output_meta = None
    retained = None
    released = False
    outputs_by_id = None

    # --- the context API used inside forward/backward -------------------------------------
    def save_for_backward(self, *values):
        """Keep values (tensors or arrays) for ``backward``; freed after the backward pass."""
        self.saved = values

    @property
    def saved_tensors(self):
        if self.released:
            raise freed_error(self)
        return self.saved

    def mark_non_differentiable(self, *outputs):
        """Accepted for PyTorch compatibility; outputs of integer dtype never need grads."""

    # --- application ---------------------------------------------------------------------
    @classmethod
    def apply(cls, *args, **kwargs):
        """Run ``forward`` on ``args`` and record a graph node when any input needs a grad."""
        if cls.raw:
            return apply_raw(cls, *args, **kwargs)
        ctx = cls()
        tensors = [a for a in args if isinstance(a, Tensor)]
        ctx.backend = _common_backend(cls, tensors)
        record = is_grad_enabled() and any(t.requires_grad for t in tensors)
        if record:
            ctx.inputs = args
            ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        with no_grad():
            result = cls.forward(ctx, *args, **kwargs)
        return _wrap_user_outputs(ctx, result, record)

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise RuntimeError("a Function subclass must define forward(ctx, ...)")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise RuntimeError("a Function subclass must define backward(ctx, *grads)")

    # --- used by the engine ------------------------------------------------------------
    def run_backward(self, grads):
        """Call a user ``backward`` with output grads (arrays); return input grads (arrays).

        Primitives (``raw``) are called directly by the engine; this wraps arrays in tensors
        for user functions and checks they return one gradient per forward argument.
        """
        device = self.backend.device
        with no_grad():
            wrapped = (Tensor._from_op(g, None, device) for g in grads)
            result = type(self).backward(self, *wrapped)
        if not isinstance(result, tuple):
            result = (result,)
        if len(result) != len(self.inputs):
            raise RuntimeError(
                f"{type(self).__name__}.backward returned {len(result)} gradients, "
                f"expected {len(self.inputs)} (one per forward argument)"
            )
        return tuple(r._data if isinstance(r, Tensor) else r for r in result)

    def release(self):
        """Drop saved values after a backward pass without ``retain_graph``."""
        self.saved = ()
        self.released = True




def apply_raw(cls, *args, **kwargs):
    """The hot path for primitives: arrays in, arrays out, one node when recording."""
    device = None
    record = False
    values = []
    needs = []
    for a in args:
        if type(a) is Tensor or isinstance(a, Tensor):
            d = a.device
            if device is None:
                device = d
            elif d is not device and d != device:
                raise RuntimeError(
                    f"{cls.__name__}: expected all tensors on the same device, "
                    f"found {device} and {d}"
                )
            rg = a._requires_grad
            record = record or rg
            needs.append(rg)
            values.append(a._data)
        else:
            needs.append(False)
            values.append(a)
    ctx = cls()
    ctx.backend = device.backend or backend_for(device)
    if record and _grad_state.enabled:
        ctx.inputs = args
        ctx.needs_input_grad = needs
        return Tensor._from_op(cls.forward(ctx, *values, **kwargs), ctx, device)
    return Tensor._from_op(cls.forward(ctx, *values, **kwargs), None, device)


def _common_backend(cls, tensors):
    if not tensors:
        return get_backend("cpu")
    device = tensors[0].device
    for t in tensors[1:]:
        if t.device != device:
            raise RuntimeError(
                f"{cls.__name__}: expected all tensors on the same device, "
                f"found {device} and {t.device}"
            )
    return backend_for(device)


def _wrap_user_outputs(ctx, result, record):
    single = not isinstance(result, tuple)
    outputs = (result,) if single else result
    ctx.n_outputs = len(outputs)
    ctx.output_meta = [(o.shape, o.dtype) for o in outputs]
    wrapped = []
    for i, out in enumerate(outputs):
        data = out._data if isinstance(out, Tensor) else out
        floating = getattr(data, "dtype", None) is not None and data.dtype.kind == "f"
        differentiable = record and floating
        t = Tensor._from_op(data, ctx if differentiable else None, ctx.backend.device)
        t._output_index = i
        wrapped.append(t)
    return wrapped[0] if single else tuple(wrapped)

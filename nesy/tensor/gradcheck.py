"""Check analytical gradients against central finite differences, in float64.

Use it for your own :class:`nesy.Function` subclasses exactly as ``torch.autograd.gradcheck``::

    >>> import nesy
    >>> x = nesy.rand(3, dtype=nesy.float64, requires_grad=True)
    >>> nesy.gradcheck(lambda x: (x.sigmoid() * x).sum(), x)
    True

For each input ``x`` and output ``y`` the Jacobian dy/dx is built twice: column by column from
``(f(x + eps e_j) - f(x - eps e_j)) / 2 eps``, and row by row from backward passes with unit
output gradients. They must agree within ``atol + rtol * |numerical|``.
"""

from __future__ import annotations

import numpy as np

from .autograd import grad as autograd_grad
from .grad_mode import no_grad
from .tensor import Tensor


class GradcheckError(AssertionError):
    """The analytical and numerical Jacobians differ; the message says where."""


def gradcheck(fn, *inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True):
    """True when ``fn``'s gradients match finite differences for every input needing one."""
    inputs = [x if isinstance(x, Tensor) else x for x in inputs]
    checked = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input requires grad")
    for i in checked:
        if inputs[i].dtype != np.float64:
            raise ValueError(
                f"gradcheck: input {i} is {inputs[i].dtype}; finite differences need float64 "
                "(create it with dtype=nesy.float64)"
            )
    outputs = _outputs(fn, inputs)
    for k, out in enumerate(outputs):
        for i in checked:
            analytical = _analytical(fn, inputs, k, i, out)
            numerical = _numerical(fn, inputs, k, i, eps)
            bad = np.abs(analytical - numerical) > atol + rtol * np.abs(numerical)
            if bad.any():
                if not raise_exception:
                    return False
                r, c = np.argwhere(bad)[0]
                raise GradcheckError(
                    f"gradcheck: Jacobian mismatch for output {k} with respect to input {i} at "
                    f"(output element {r}, input element {c}): analytical "
                    f"{analytical[r, c]:.8g}, numerical {numerical[r, c]:.8g}\n"
                    f"analytical:\n{analytical}\nnumerical:\n{numerical}"
                )
    return True


def _outputs(fn, inputs):
    out = fn(*inputs)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    return [o for o in outs if isinstance(o, Tensor)]


def _analytical(fn, inputs, k, i, out):
    x = inputs[i]
    jac = np.zeros((max(out.numel(), 1), max(x.numel(), 1)))
    if out.numel() == 0 or x.numel() == 0:
        return jac
    if not out.requires_grad:
        return jac
    for r in range(out.numel()):
        y = _outputs(fn, inputs)[k]
        seed = np.zeros(out.numel())
        seed[r] = 1.0
        (g,) = autograd_grad(y, [x], grad_outputs=[Tensor._from_op(
            seed.reshape(y.shape).astype(y.dtype), None, y.device)], allow_unused=True)
        if g is not None:
            jac[r] = g.numpy().reshape(-1)
    return jac


def _numerical(fn, inputs, k, i, eps):
    x = inputs[i]
    n_out = _outputs(fn, inputs)[k].numel()
    jac = np.zeros((max(n_out, 1), max(x.numel(), 1)))
    data = x._data  # perturbed in place, element by element (works for any strides)
    with no_grad():
        for c in range(x.numel()):
            at = np.unravel_index(c, x.shape)
            orig = data[at]
            data[at] = orig + eps
            plus = _outputs(fn, inputs)[k]._data.astype(np.float64).reshape(-1).copy()
            data[at] = orig - eps
            minus = _outputs(fn, inputs)[k]._data.astype(np.float64).reshape(-1).copy()
            data[at] = orig
            jac[: plus.size, c] = (plus - minus) / (2 * eps)
    return jac

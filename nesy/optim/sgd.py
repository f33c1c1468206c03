"""Stochastic gradient descent with momentum, dampening, Nesterov and weight decay."""

from __future__ import annotations

import numpy as np

from .optimizer import Optimizer, state_tensor


class SGD(Optimizer):
    """PyTorch's SGD. For each parameter p with gradient g:

    g = g + wd p;  b = g (first step) or momentum b + (1 - dampening) g;
    d = g + momentum b if nesterov else b (d = g when momentum = 0);  p = p - lr d.

    >>> import nesy
    >>> w = nesy.nn.Parameter(nesy.tensor([1.0]))
    >>> opt = nesy.optim.SGD([w], lr=0.1)
    >>> (w * w).sum().backward(); opt.step()
    >>> w.tolist()
    [0.800000011920929]
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0,
                 nesterov=False, *, maximize=False, fused=None):
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize,
                        fused=fused)
        super().__init__(params, defaults)

    def _step_group(self, group):
        lr, momentum = float(group["lr"]), float(group["momentum"])
        dampening, wd = float(group["dampening"]), float(group["weight_decay"])
        nesterov, maximize = bool(group["nesterov"]), bool(group["maximize"])
        for p in group["params"]:
            if p.grad is None:
                continue
            grad = p.grad._data
            state = self.state[p]
            first = momentum != 0 and state.get("momentum_buffer") is None
            if momentum != 0 and first:
                state["momentum_buffer"] = state_tensor(p)
            buf = state["momentum_buffer"]._data if momentum != 0 else None
            if not isinstance(p._data, np.ndarray):  # on a GPU: the backend's fused kernel
                p._backend().sgd_step(p._data, grad, buf, lr, wd, momentum, dampening, nesterov,
                                      maximize, first)
            elif self._use_kernel(p, grad, group["fused"]):
                from . import kernels

                flat_buf = buf.reshape(-1) if buf is not None else np.empty(0, p.dtype)
                kernels.sgd_step(p._data.reshape(-1), np.ascontiguousarray(grad).reshape(-1),
                                 flat_buf, lr, wd, momentum, dampening, nesterov, maximize,
                                 first)
            else:
                sgd_numpy(p._data, grad, buf, lr, wd, momentum, dampening, nesterov, maximize,
                          first)


def sgd_numpy(param, grad, buf, lr, weight_decay, momentum, dampening, nesterov, maximize,
              first):
    """The SGD update in place with NumPy, in PyTorch's operation order (small parameters)."""
    g = -grad if maximize else grad
    if weight_decay != 0:
        g = g + weight_decay * param
    if momentum != 0:
        if first:
            buf[...] = g
        else:
            buf *= momentum
            buf += (1 - dampening) * g
        g = g + momentum * buf if nesterov else buf
    param -= lr * g

"""Adam and AdamW (decoupled weight decay), with PyTorch's update and bias correction."""

from __future__ import annotations

import math

import numpy as np

from .optimizer import Optimizer, state_tensor


class Adam(Optimizer):
    """PyTorch's Adam. At step t, for each parameter p with gradient g:

    g = g + wd p;  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
    (amsgrad: v_max = max(v_max, v), used in place of v);
    p = p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).

    >>> import nesy
    >>> w = nesy.nn.Parameter(nesy.tensor([1.0]))
    >>> opt = nesy.optim.Adam([w], lr=0.1)
    >>> (w * w).sum().backward(); opt.step()
    >>> round(w.item(), 4)
    0.9
    """

    decoupled = False  # AdamW decays the parameter itself instead of adding wd p to g

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, maximize=False, fused=None):
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if eps < 0.0:
            raise ValueError(f"Invalid epsilon value: {eps}")
        for i, beta in enumerate(betas):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"Invalid beta parameter at index {i}: {beta}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize, fused=fused)
        super().__init__(params, defaults)

    def _step_group(self, group):
        lr, eps, wd = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
        beta1, beta2 = (float(b) for b in group["betas"])
        amsgrad, maximize = bool(group["amsgrad"]), bool(group["maximize"])
        for p in group["params"]:
            if p.grad is None:
                continue
            grad = p.grad._data
            state = self._state_for(p, amsgrad)
            state["step"] += 1
            step = state["step"]
            # Python floats, as PyTorch's single-tensor path computes them.
            bias_correction1 = 1 - beta1**step
            bias_correction2_sqrt = math.sqrt(1 - beta2**step)
            m, v = state["exp_avg"]._data, state["exp_avg_sq"]._data
            v_max = state["max_exp_avg_sq"]._data if amsgrad else None
            if not isinstance(p._data, np.ndarray):  # on a GPU: the backend's fused kernel
                p._backend().adam_step(p._data, grad, m, v, v_max, lr, beta1, beta2, eps, wd,
                                       self.decoupled, amsgrad, maximize, bias_correction1,
                                       bias_correction2_sqrt)
            elif self._use_kernel(p, grad, group["fused"]):
                from . import kernels

                flat_max = v_max.reshape(-1) if amsgrad else np.empty(0, p.dtype)
                kernels.adam_step(
                    p._data.reshape(-1), np.ascontiguousarray(grad).reshape(-1),
                    m.reshape(-1), v.reshape(-1), flat_max, lr, beta1, beta2, eps, wd,
                    self.decoupled, amsgrad, maximize, bias_correction1, bias_correction2_sqrt,
                )
            else:
                adam_numpy(p._data, grad, m, v, v_max, lr, beta1, beta2, eps, wd,
                           self.decoupled, maximize, bias_correction1, bias_correction2_sqrt)

    def _state_for(self, p, amsgrad):
        state = self.state[p]
        if not state:
            state["step"] = 0
            state["exp_avg"] = state_tensor(p)
            state["exp_avg_sq"] = state_tensor(p)
        if amsgrad and "max_exp_avg_sq" not in state:
            state["max_exp_avg_sq"] = state_tensor(p)
        return state


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov and Hutter): first p = p (1 - lr wd),
    then the Adam step without wd in the gradient. Default ``weight_decay=1e-2``.
    """

    decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         fused=fused)


def adam_numpy(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, lr, beta1, beta2, eps,
               weight_decay, decoupled, maximize, bias_correction1, bias_correction2_sqrt):
    """The Adam/AdamW update in place with NumPy, in PyTorch's operation order.

    ``max_exp_avg_sq`` is None without amsgrad.
    """
    g = -grad if maximize else grad
    if weight_decay != 0:
        if decoupled:
            param *= 1 - lr * weight_decay
        else:
            g = g + weight_decay * param
    exp_avg += (1 - beta1) * (g - exp_avg)  # torch's lerp_(g, 1 - b1) for a weight < 0.5
    exp_avg_sq *= beta2
    exp_avg_sq += (1 - beta2) * g * g
    if max_exp_avg_sq is not None:
        np.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
        exp_avg_sq = max_exp_avg_sq
    denom = np.sqrt(exp_avg_sq)
    denom /= bias_correction2_sqrt
    denom += eps
    param -= (lr / bias_correction1) * (exp_avg / denom)

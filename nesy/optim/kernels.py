"""Fused optimizer updates: one parallel Numba loop per step of a large parameter.

Each kernel reads param, grad and state once and writes them once, where the NumPy form
makes about eight passes with temporaries. Importing this module imports Numba, so the
optimizers import it on first use only; ``cache=True`` keeps the machine code between runs.
The per-element bodies are plain functions, compiled here for the CPU and by the CUDA
backend (``cuda.jit(device=True)``) for the GPU.

Arguments are flat C-contiguous arrays of one dtype (float32 or float64) and Python floats
and bools. Arithmetic is done in float64 (``float(x[i])``), so the compiled kernel and its
``.py_func`` compute the same values. Where PyTorch rounds an intermediate to the array's
dtype by storing it (decayed parameter, moments, momentum buffer), the kernel stores it too
and reads the stored value back, so float32 results track PyTorch's to about an ulp.
"""

from __future__ import annotations

import math

import numba
from numba import prange

from nesy.tensor import numba_setup  # noqa: F401  (before the first parallel launch)

JIT = dict(parallel=True, cache=True, nogil=True)


def sgd_element(param, grad, buf, i, lr, weight_decay, momentum, dampening, nesterov,
                maximize, first):
    """PyTorch's SGD on element ``i`` (one definition for the CPU loop and the CUDA kernel):

    g = grad + wd p;  b = g on the first step, else momentum b + (1 - dampening) g;
    d = g + momentum b (nesterov) or b;  p = p - lr d.  ``buf`` is unused when momentum = 0.
    """
    p = float(param[i])
    g = float(grad[i])
    if maximize:
        g = -g
    if weight_decay != 0.0:
        g = g + weight_decay * p
    if momentum != 0.0:
        if first:
            b = g
        else:
            b = momentum * float(buf[i]) + (1.0 - dampening) * g
        buf[i] = b
        b = float(buf[i])
        if nesterov:
            g = g + momentum * b
        else:
            g = b
    param[i] = p - lr * g


def adam_element(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, i, beta1, beta2, eps,
                 weight_decay, decoupled, amsgrad, maximize, step_size, decay,
                 bias_correction2_sqrt):
    """PyTorch's Adam / AdamW on element ``i`` (see :func:`adam_step`)."""
    p = float(param[i])
    g = float(grad[i])
    if maximize:
        g = -g
    if weight_decay != 0.0:
        if decoupled:
            param[i] = p * decay
            p = float(param[i])
        else:
            g = g + weight_decay * p
    m = float(exp_avg[i])
    m = m + (1.0 - beta1) * (g - m)
    v = beta2 * float(exp_avg_sq[i]) + (1.0 - beta2) * g * g
    exp_avg[i] = m
    exp_avg_sq[i] = v
    m = float(exp_avg[i])
    v = float(exp_avg_sq[i])
    if amsgrad:
        v = max(float(max_exp_avg_sq[i]), v)
        max_exp_avg_sq[i] = v
    param[i] = p - step_size * (m / (math.sqrt(v) / bias_correction2_sqrt + eps))


_sgd_element = numba.njit(inline="always", cache=True)(sgd_element)
_adam_element = numba.njit(inline="always", cache=True)(adam_element)


@numba.njit(**JIT)
def sgd_step(param, grad, buf, lr, weight_decay, momentum, dampening, nesterov, maximize,
             first):
    """PyTorch's SGD over flat arrays, element by element (:func:`sgd_element`)."""
    for i in prange(param.shape[0]):
        _sgd_element(param, grad, buf, i, lr, weight_decay, momentum, dampening, nesterov,
                     maximize, first)


@numba.njit(**JIT)
def adam_step(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, lr, beta1, beta2, eps,
              weight_decay, decoupled, amsgrad, maximize, bias_correction1,
              bias_correction2_sqrt):
    """PyTorch's Adam (``decoupled=False``) and AdamW (``decoupled=True``):

    AdamW: p = p (1 - lr wd);  Adam: g = g + wd p;
    m = m + (1 - b1)(g - m);  v = b2 v + (1 - b2) g^2;  (amsgrad: v_max = max(v_max, v))
    p = p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).
    ``max_exp_avg_sq`` is unused unless ``amsgrad``.
    """
    step_size = lr / bias_correction1
    decay = 1.0 - lr * weight_decay
    for i in prange(param.shape[0]):
        _adam_element(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, i, beta1, beta2, eps,
                      weight_decay, decoupled, amsgrad, maximize, step_size, decay,
                      bias_correction2_sqrt)

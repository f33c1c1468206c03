"""Scalar definitions of every elementwise op and of its fused backward.

Each function is the math for one element, written once in plain Python. The kernel
factories in :mod:`nesy.tensor.kernels` compile these for the CPU (a ``prange`` loop under
``numba.njit``) and a GPU backend compiles the same functions with ``cuda.jit(device=True)``;
no twin sources are kept in sync. Semantics follow PyTorch, NaN propagation included.

Each function calls only ``math`` (never another function here), so Numba can compile any
of them on its own.
"""

import math

SOFTPLUS_THRESHOLD = 20.0  # PyTorch's softplus(x) = x above this (beta = 1)


def add(a, b):
    return a + b


def sub(a, b):
    return a - b


def mul(a, b):
    return a * b


def div(a, b):
    return a / b


def neg(a):
    return -a


def maximum(a, b):
    """max(a, b), NaN if either is NaN."""
    if a > b or a != a:
        return a
    return b


def minimum(a, b):
    """min(a, b), NaN if either is NaN."""
    if a < b or a != a:
        return a
    return b


def exp(x):
    return math.exp(x)


def log(x):
    return math.log(x) if x > 0 else (-math.inf if x == 0 else math.nan)


def log1p(x):
    return math.log1p(x) if x > -1 else (-math.inf if x == -1 else math.nan)


def sqrt(x):
    return math.sqrt(x) if x >= 0 else math.nan


def abs_(x):
    return abs(x)


def tanh(x):
    return math.tanh(x)


def sigmoid(x):
    """sigma(x) = 1 / (1 + e^-x), evaluated without overflow on either side."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def relu(x):
    """max(x, 0), NaN kept."""
    return x if (x > 0 or x != x) else 0.0


def softplus(x):
    """log(1 + e^x), linear above the threshold as in PyTorch."""
    return x if x > SOFTPLUS_THRESHOLD else math.log1p(math.exp(x))


def clamp(x, lo, hi):
    """min(max(x, lo), hi): NaN kept, in x or in a bound; hi wins when lo > hi (as PyTorch)."""
    y = lo if (x < lo or lo != lo) else x
    return hi if (y > hi or hi != hi) else y


def where(c, a, b):
    return a if c else b


def power(a, b):
    return a**b


# --- fused backward forms: gradient of the op given the incoming gradient g ---------------
def sigmoid_grad(g, y):
    """d sigma = sigma (1 - sigma), from the saved output y."""
    return g * y * (1.0 - y)


def tanh_grad(g, y):
    """d tanh = 1 - tanh^2, from the saved output y."""
    return g * (1.0 - y * y)


def relu_grad(g, x):
    return g if x > 0 else 0.0


def softplus_grad(g, x):
    """g * sigma(x), with sigma evaluated stably; g above the threshold."""
    if x > SOFTPLUS_THRESHOLD:
        return g
    if x >= 0:
        return g / (1.0 + math.exp(-x))
    z = math.exp(x)
    return g * z / (1.0 + z)


def sqrt_grad(g, y):
    return g / (2.0 * y)


def abs_grad(g, x):
    """g * sign(x), with sign(0) = 0 as in PyTorch."""
    if x > 0:
        return g
    if x < 0:
        return -g
    return 0.0


def log1p_grad(g, x):
    return g / (1.0 + x)


def div_grad_b(g, a, b):
    """d(a / b)/db = -a / b^2."""
    return -g * a / (b * b)


def pow_grad_base(g, a, b):
    """d(a^b)/da = b a^(b-1); zero when b == 0 (PyTorch's convention)."""
    if b == 0:
        return 0.0
    return g * b * a ** (b - 1.0)


def pow_grad_exponent(g, a, b):
    """d(a^b)/db = a^b log(a); zero where a == 0 and b >= 0 (PyTorch's convention)."""
    if a == 0 and b >= 0:
        return 0.0
    if a < 0:
        return math.nan  # log of a negative base
    return g * a**b * math.log(a)


def maximum_grad_a(g, a, b):
    """Ties split the gradient in half, as in PyTorch."""
    if a == b:
        return g / 2.0
    return 0.0 if a < b else g


def maximum_grad_b(g, a, b):
    if a == b:
        return g / 2.0
    return 0.0 if a > b else g


def minimum_grad_a(g, a, b):
    if a == b:
        return g / 2.0
    return 0.0 if a > b else g


def minimum_grad_b(g, a, b):
    if a == b:
        return g / 2.0
    return 0.0 if a < b else g


def clamp_grad(g, x, lo, hi):
    """The gradient passes where lo <= x <= hi (bounds inclusive, as in PyTorch)."""
    return g if (x >= lo and x <= hi) else 0.0

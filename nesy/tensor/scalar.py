"""Scalar definitions of every elementwise op and of its fused backward.

Each function is the math for one element, written once in plain Python. The kernel
factories in :mod:`nesy.tensor.kernels` compile these for the CPU (a ``prange`` loop under
``numba.njit``) and a GPU backend compiles the same functions with ``cuda.jit(device=True)``;
no twin sources are kept in sync. Semantics follow PyTorch, NaN propagation included.

Each function calls only ``math``, so Numba can compile any of them on its own; the one
exception is :func:`int_as_float`, which the float32 variants (``*_f32``) use together with
NumPy float32 arithmetic so that Numba vectorizes them (:mod:`nesy.tensor.bits` compiles it
to a single bitcast).
"""

import math

import numpy as np

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


_F = np.float32
_LOG2E, _LN2_HI, _LN2_LO = _F(1.44269504088896341), _F(0.693359375), _F(-2.12194440e-4)
_SIGMOID_ZERO = _F(-88.72283935546875)  # -log(FLT_MAX): here PyTorch's e^-x overflows, sigma = 0
_TWO_M64 = _F(2.0**-64)


def int_as_float(i):
    """The float32 whose bits are those of the int32 ``i``.

    The one helper the functions here may call: compiled, :mod:`nesy.tensor.bits` replaces it
    by a single bitcast (so loops around it vectorize); interpreted, NumPy's ``view`` does it.
    """
    return np.int32(i).view(np.float32)


def sigmoid_f32(x):
    """sigma(x) for float32 x, vectorizable: e = e^-|x|, 1 / (1 + e) for x >= 0, else e / (1 + e).

    e^z (z = -|x|, clamped at -104) is Cephes' float32 exp: n = round(z / ln 2),
    r = z - n ln 2 (ln 2 split hi + lo), e^r from a degree-7 polynomial, times 2^n built from
    its bits in two steps, 2^(n + 64) * 2^-64, so denormal results (z < -87.3) stay right.
    As in PyTorch, sigma(x) = 0 for x <= -log(FLT_MAX) and NaN stays NaN.
    """
    z = -abs(x)
    z = z if z > _F(-104.0) else _F(-104.0)  # NaN becomes -104 too (no NaN -> int cast)
    n = np.floor(z * _LOG2E + _F(0.5))
    r = z - n * _LN2_HI - n * _LN2_LO
    p = _F(1.9875691500e-4)
    p = p * r + _F(1.3981999507e-3)
    p = p * r + _F(8.3334519073e-3)
    p = p * r + _F(4.1665795894e-2)
    p = p * r + _F(1.6666665459e-1)
    p = p * r + _F(5.0000001201e-1)
    p = p * r * r + r + _F(1.0)
    e = p * int_as_float((np.int32(n) + np.int32(127 + 64)) << np.int32(23)) * _TWO_M64
    s = _F(1.0) / (_F(1.0) + e)
    y = s if x >= _F(0.0) else e * s
    y = y if x > _SIGMOID_ZERO else _F(0.0)
    return y if x == x else x


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


# --- predicates and rounding: bool (or same-dtype) results, no gradient --------------------
# The CPU evaluates these with NumPy's operators; the CUDA backend compiles them.
_EXACT = 4503599627370496.0  # 2^52: every float at least this large is an integer


def eq(a, b):
    return a == b


def ne(a, b):
    return a != b


def lt(a, b):
    return a < b


def le(a, b):
    return a <= b


def gt(a, b):
    return a > b


def ge(a, b):
    return a >= b


def logical_and(a, b):
    return (a != 0) and (b != 0)


def logical_or(a, b):
    return (a != 0) or (b != 0)


def logical_xor(a, b):
    return (a != 0) != (b != 0)


def logical_not(a):
    return a == 0


def isnan(x):
    return x != x


def isinf(x):
    return x == math.inf or x == -math.inf


def isfinite(x):
    return x == x and x != math.inf and x != -math.inf


def sign(x):
    """-1, 0 or 1; NaN stays NaN (as NumPy's sign)."""
    if x > 0:
        return 1
    if x < 0:
        return -1
    return x  # 0 (its sign kept) or NaN


def floor(x):
    """floor(x); NaN, infinities and floats beyond 2^52 (already integers) pass through."""
    if not abs(x) < _EXACT:
        return x
    return float(math.floor(x))


def ceil(x):
    if not abs(x) < _EXACT:
        return x
    return float(math.ceil(x))


def rint(x):
    """Round half to even (NumPy's round)."""
    if not abs(x) < _EXACT:
        return x
    r = float(math.floor(x))
    d = x - r  # exact below 2^52
    if d > 0.5 or (d == 0.5 and r - 2.0 * math.floor(r / 2.0) != 0.0):
        r += 1.0
    return r

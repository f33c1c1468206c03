"""NumPy forms of the elementwise ops in :mod:`nesy.tensor.scalar`, for small arrays.

Below the kernel threshold a NumPy ufunc call costs far less than launching a parallel
Numba kernel, so the CPU backend evaluates these instead. Each must agree with its scalar
twin (tested element by element).
"""

import numpy as np

from .. import scalar

T = scalar.SOFTPLUS_THRESHOLD


def sigmoid(x):
    """1 / (1 + e^-x): e^-x overflowing to inf gives the right limit, 0 (run quietly)."""
    return 1 / (1 + np.exp(-x))


def softplus(x):
    return np.where(x > T, x, np.log1p(np.exp(np.minimum(x, T))))


def relu(x):
    return np.maximum(x, 0)


def clamp(x, lo, hi):
    return np.minimum(np.maximum(x, lo), hi)


def where(c, a, b):
    return np.where(c, a, b)


def sigmoid_grad(g, y):
    return g * y * (1 - y)


def tanh_grad(g, y):
    return g * (1 - y * y)


def relu_grad(g, x):
    return np.where(x > 0, g, 0)


def softplus_grad(g, x):
    return np.where(x > T, g, g * sigmoid(x))  # sigmoid needs the quiet errstate


def sqrt_grad(g, y):
    return g / (2 * y)


def abs_grad(g, x):
    return np.where(x > 0, g, np.where(x < 0, -g, 0))


def log1p_grad(g, x):
    return g / (1 + x)


def div_grad_b(g, a, b):
    return -g * a / (b * b)


def pow_grad_base(g, a, b):
    return np.where(b == 0, 0, g * b * np.power(a, b - 1))


def pow_grad_exponent(g, a, b):
    return np.where((a == 0) & (b >= 0), 0, g * np.power(a, b) * np.log(a))


def maximum_grad_a(g, a, b):
    return np.where(a == b, g / 2, np.where(a < b, 0, g))


def maximum_grad_b(g, a, b):
    return np.where(a == b, g / 2, np.where(a > b, 0, g))


def minimum_grad_a(g, a, b):
    return np.where(a == b, g / 2, np.where(a > b, 0, g))


def minimum_grad_b(g, a, b):
    return np.where(a == b, g / 2, np.where(a < b, 0, g))


def clamp_grad(g, x, lo, hi):
    return np.where((x >= lo) & (x <= hi), g, 0)


# name -> (NumPy form, scalar form, number of arguments)
TABLE = {
    "add": (np.add, scalar.add, 2),
    "sub": (np.subtract, scalar.sub, 2),
    "mul": (np.multiply, scalar.mul, 2),
    "div": (np.true_divide, scalar.div, 2),
    "neg": (np.negative, scalar.neg, 1),
    "power": (np.power, scalar.power, 2),
    "maximum": (np.maximum, scalar.maximum, 2),
    "minimum": (np.minimum, scalar.minimum, 2),
    "exp": (np.exp, scalar.exp, 1),
    "log": (np.log, scalar.log, 1),
    "log1p": (np.log1p, scalar.log1p, 1),
    "sqrt": (np.sqrt, scalar.sqrt, 1),
    "abs": (np.abs, scalar.abs_, 1),
    "tanh": (np.tanh, scalar.tanh, 1),
    "sigmoid": (sigmoid, scalar.sigmoid, 1),
    "relu": (relu, scalar.relu, 1),
    "softplus": (softplus, scalar.softplus, 1),
    "clamp": (clamp, scalar.clamp, 3),
    "where": (where, scalar.where, 3),
    "sigmoid_grad": (sigmoid_grad, scalar.sigmoid_grad, 2),
    "tanh_grad": (tanh_grad, scalar.tanh_grad, 2),
    "relu_grad": (relu_grad, scalar.relu_grad, 2),
    "softplus_grad": (softplus_grad, scalar.softplus_grad, 2),
    "sqrt_grad": (sqrt_grad, scalar.sqrt_grad, 2),
    "abs_grad": (abs_grad, scalar.abs_grad, 2),
    "log1p_grad": (log1p_grad, scalar.log1p_grad, 2),
    "div_grad_b": (div_grad_b, scalar.div_grad_b, 3),
    "pow_grad_base": (pow_grad_base, scalar.pow_grad_base, 3),
    "pow_grad_exponent": (pow_grad_exponent, scalar.pow_grad_exponent, 3),
    "maximum_grad_a": (maximum_grad_a, scalar.maximum_grad_a, 3),
    "maximum_grad_b": (maximum_grad_b, scalar.maximum_grad_b, 3),
    "minimum_grad_a": (minimum_grad_a, scalar.minimum_grad_a, 3),
    "minimum_grad_b": (minimum_grad_b, scalar.minimum_grad_b, 3),
    "clamp_grad": (clamp_grad, scalar.clamp_grad, 4),
}

# Ops whose NumPy form can warn (log 0, 0/0, overflow) where PyTorch is silent; only these pay
# for an errstate block (about 1.5 us), the rest run bare.
QUIET = frozenset({
    "div", "power", "exp", "log", "log1p", "sqrt", "sqrt_grad", "log1p_grad", "div_grad_b",
    "pow_grad_base", "pow_grad_exponent", "softplus", "softplus_grad", "sigmoid",
})

# Ops built on exp/log/tanh/pow. Numba compiles these through scalar libm calls that do not
# vectorize (no SVML in the pip build), while NumPy's own loops are SIMD-vectorized (AVX2 /
# AVX-512): on 4M float32, tanh took 1.5 ms in NumPy against 33 ms in the scalar kernel. Large
# arrays of these run NumPy's form over cache-sized blocks on a thread pool instead.
SIMD_IN_NUMPY = frozenset({
    "exp", "log", "log1p", "tanh", "sigmoid", "softplus", "softplus_grad", "power",
    "pow_grad_base", "pow_grad_exponent",
})

# Float32 scalar forms that Numba vectorizes (exp from a polynomial and bit-built powers of 2):
# on large same-shape float32 arrays these kernels replace the NumPy form above. Each comes with
# the fast-math flags it tolerates: fused multiply-adds and reciprocals ("contract", "arcp") took
# sigmoid from 1.20 to 0.94 ms on 4M float32 at unchanged accuracy (2.4e-7 vs PyTorch).
FLOAT32_KERNELS = {
    "sigmoid": (scalar.sigmoid_f32, {"contract", "arcp"}),
}


def register_elementwise(name, numpy_form, scalar_form, arity, quiet=False):
    """Add the elementwise op ``name`` for every backend: ``scalar_form`` is the math for
    one element (plain arithmetic and ``math``, compiled by the kernel factories),
    ``numpy_form`` the same on arrays (often the same function). ``quiet``: silence NumPy's
    floating-point warnings (as PyTorch is silent). Registering a name again replaces it."""
    if arity not in (1, 2, 3, 4):
        raise ValueError(f"elementwise ops take 1 to 4 arguments, got arity {arity}")
    TABLE[name] = (numpy_form, scalar_form, arity)
    if quiet:
        QUIET = globals()["QUIET"]  # noqa: N806 (a frozenset is replaced, not mutated)
        globals()["QUIET"] = QUIET | {name}

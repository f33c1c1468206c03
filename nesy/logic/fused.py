"""One-pass kernels for the stable product logic, LTN's default and ours.

Composed from primitives, the stable Reichenbach implication
``I(a, c) = 1 - pi_0(a) + pi_0(a) pi_1(c)`` builds five temporaries the size of the
grounding and keeps three of them for the backward pass; over the N^3 groundings of a
transitivity rule that is most of the memory. Here each connective is one elementwise op
(the scalar math written once below, compiled by :mod:`nesy.tensor.kernels` like every
other elementwise op) with a hand-written backward that keeps only its inputs, and the
quantifiers' p-means reduce without keeping ``(1 - x)^p``. The operations run in the same
order as the composed forms, so values agree with LTNtorch to rounding.
"""

from __future__ import annotations

import numpy as np

import nesy
from nesy.tensor import Tensor
from nesy.tensor.backends.elementwise_numpy import register_elementwise
from nesy.tensor.ops import Primitive

EPS = 1e-4  # LTNtorch's epsilon, defined once here: pi_0(x) = K x + EPS, pi_1(x) = K x

# NumPy float64 scalars, so that the scalar forms compute in float64 whether compiled (as
# Numba does with float64 constants) or interpreted on float32 values (where a Python float
# would keep float32): both paths then round the same way.
K = np.float64(1.0 - EPS)  # pi_0(x) = K x + EPS, pi_1(x) = K x
E = np.float64(EPS)


# --- scalar forms: the math for one element, in float64 whatever the array dtype -----------
def and_prod_stable(a, b):
    """T(a, b) = pi_0(a) pi_0(b)"""
    return (K * a + E) * (K * b + E)


def and_prod_stable_grad(g, other):
    """dT/da = pi_0(b) K (and symmetrically)"""
    return g * (K * other + E) * K


def or_probsum_stable(a, b):
    """S(a, b) = x + y - x y with x, y = pi_1(a), pi_1(b)"""
    x = K * a
    y = K * b
    return x + y - x * y


def or_probsum_stable_grad(g, other):
    """dS/da = (1 - pi_1(b)) K"""
    return g * (1.0 - K * other) * K


def implies_reichenbach_stable(a, c):
    """I(a, c) = 1 - x + x y with x = pi_0(a), y = pi_1(c)"""
    x = K * a + E
    return 1.0 - x + x * (K * c)


def implies_reichenbach_stable_grad_a(g, c):
    """dI/da = (pi_1(c) - 1) K"""
    return g * (K * c - 1.0) * K


def implies_reichenbach_stable_grad_c(g, a):
    """dI/dc = pi_0(a) K"""
    return g * (K * a + E) * K


def error_power(x, p):
    """(1 - pi_1(x))^p, a term of the stable pmean_error"""
    v = 1.0 - K * x
    return v * v if p == 2.0 else v**p


def error_power_grad(x, coef, p):
    """coef K (1 - pi_1(x))^(p-1): the gradient of pmean_error given coef = g s^(1/p-1) / n"""
    v = 1.0 - K * x
    return coef * K * (v if p == 2.0 else v ** (p - 1.0))


def power_stable(x, p):
    """pi_0(x)^p, a term of the stable pmean"""
    v = K * x + E
    return v * v if p == 2.0 else v**p


def power_stable_grad(x, coef, p):
    """coef K pi_0(x)^(p-1): the gradient of pmean given coef = g s^(1/p-1) / n"""
    v = K * x + E
    return coef * K * (v if p == 2.0 else v ** (p - 1.0))


# NumPy forms of the p-mean terms: the same math with the p == 2 branch taken per element
def _error_power_np(x, p):
    v = 1.0 - K * x
    return np.where(p == 2.0, v * v, v**p)


def _error_power_grad_np(x, coef, p):
    v = 1.0 - K * x
    return coef * K * np.where(p == 2.0, v, v ** (p - 1.0))


def _power_stable_np(x, p):
    v = K * x + E
    return np.where(p == 2.0, v * v, v**p)


def _power_stable_grad_np(x, coef, p):
    v = K * x + E
    return coef * K * np.where(p == 2.0, v, v ** (p - 1.0))


def _numpy_twin(form):
    """A NumPy form computed in float64, as the compiled kernel does (its constants are
    float64), then rounded to the inputs' dtype."""

    def twin(*xs):
        dtype = np.result_type(*[x for x in xs if isinstance(x, np.ndarray)], np.float32)
        return np.asarray(form(*[np.asarray(x, np.float64) for x in xs]), dtype)

    return twin


_FORMS = {  # scalar form -> NumPy form (the connectives are plain arithmetic: the same)
    and_prod_stable: and_prod_stable,
    and_prod_stable_grad: and_prod_stable_grad,
    or_probsum_stable: or_probsum_stable,
    or_probsum_stable_grad: or_probsum_stable_grad,
    implies_reichenbach_stable: implies_reichenbach_stable,
    implies_reichenbach_stable_grad_a: implies_reichenbach_stable_grad_a,
    implies_reichenbach_stable_grad_c: implies_reichenbach_stable_grad_c,
    error_power: _error_power_np,
    error_power_grad: _error_power_grad_np,
    power_stable: _power_stable_np,
    power_stable_grad: _power_stable_grad_np,
}
for _fn, _form in _FORMS.items():
    register_elementwise(
        "logic." + _fn.__name__, _numpy_twin(_form), _fn, _fn.__code__.co_argcount, quiet=True
    )


# --- the ops -----------------------------------------------------------------------------
class _Connective(Primitive):
    """A binary connective as one elementwise op; backward from two gradient ops."""

    op = grad_a = grad_b = ""

    @classmethod
    def forward(cls, ctx, a, b):
        ctx.saved = (a, b)
        return ctx.backend.map(cls.op, a, b)

    @classmethod
    def backward(cls, ctx, g):
        a, b = ctx.saved
        need_a, need_b = ctx.needs_input_grad
        m = ctx.backend.map
        return (m(cls.grad_a, g, b) if need_a else None), (m(cls.grad_b, g, a) if need_b else None)


class AndProdStable(_Connective):
    op = "logic.and_prod_stable"
    grad_a = grad_b = "logic.and_prod_stable_grad"


class OrProbsumStable(_Connective):
    op = "logic.or_probsum_stable"
    grad_a = grad_b = "logic.or_probsum_stable_grad"


class ImpliesReichenbachStable(_Connective):
    op = "logic.implies_reichenbach_stable"
    grad_a = "logic.implies_reichenbach_stable_grad_a"
    grad_b = "logic.implies_reichenbach_stable_grad_c"


class _PMean(Primitive):
    """A stable p-mean over ``dims`` (kept as size 1): s = mean(term(x)), out = f(s^(1/p))."""

    term = term_grad = ""
    sign = 1.0  # pmean: out = s^(1/p); pmean_error: out = 1 - s^(1/p)

    @classmethod
    def forward(cls, ctx, x, dims, p):
        be = ctx.backend
        n = int(np.prod([x.shape[d] for d in dims], dtype=np.int64))
        s = be.sum(be.map(cls.term, x, p), dims, keepdims=True) / n
        zero = s == 0  # be.map, not np.where: s may live on a GPU
        root = be.map("where", zero, 0.0, be.map("where", zero, 1.0, s) ** (1.0 / p)).astype(
            x.dtype)
        ctx.saved = (x, s, n, p)
        return root if cls.sign > 0 else (1.0 - root).astype(x.dtype)

    @classmethod
    def backward(cls, ctx, g):
        x, s, n, p = ctx.saved
        if not ctx.needs_input_grad[0]:
            return None, None, None
        # d s^(1/p) / ds = s^(1/p - 1) / p; times d s / dx = p term'(x) / n; 0 where s = 0
        m, zero = ctx.backend.map, s == 0
        safe = m("where", zero, 1.0, s)
        coef = m("where", zero, 0.0, g * safe ** (1.0 / p - 1.0) / n).astype(x.dtype)
        return ctx.backend.map(cls.term_grad, x, coef, p), None, None


class PMeanErrorStable(_PMean):
    term, term_grad, sign = "logic.error_power", "logic.error_power_grad", -1.0


class PMeanStable(_PMean):
    term, term_grad, sign = "logic.power_stable", "logic.power_stable_grad", 1.0


def connective(op, x, y):
    """``op`` applied to two truth values, at least one a Tensor (a float is promoted)."""
    if not isinstance(x, Tensor) and not isinstance(y, Tensor):
        x = nesy.as_tensor(x)
    return op.apply(x, y)


def pmean_error_stable(xs, dims, p):
    """1 - (mean (1 - pi_1(x))^p)^(1/p) over ``dims`` (kept), in one pass."""
    return PMeanErrorStable.apply(xs, tuple(dims), float(p))


def pmean_stable(xs, dims, p):
    """(mean pi_0(x)^p)^(1/p) over ``dims`` (kept), in one pass."""
    return PMeanStable.apply(xs, tuple(dims), float(p))

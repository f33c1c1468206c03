"""Elementwise ops against PyTorch (values and gradients) and finite differences.

Binary arithmetic with broadcasting and reflected forms, unary functions, where, maximum and
minimum, and comparisons (bool results, no gradient). Each row runs in float32 and float64,
on the NumPy path and on the Numba-kernel path (the ``path`` fixture).
"""

import numpy as np
import pytest
import torch
from opcheck import (
    Op,
    check_gradcheck,
    check_op,
    random_pairs,
    random_shape,
    same,
    table_tests,
)

F = torch.nn.functional

# Broadcasting pairs: equal shapes, size-1 axes, 0-dim operands, empty axes, and random ones.
BINARY = [
    ((3, 4), (3, 4)),
    ((2, 1, 4), (3, 1)),
    ((), (2, 3)),
    ((4,), ()),
    ((0, 3), (1, 3)),
    ((2, 0, 1), (4,)),
    ((1,), (1, 1)),
] + [tuple(p) for p in random_pairs(seed=0, k=3)]

_rng = np.random.default_rng(0)
UNARY = [((),), ((5,),), ((3, 4),), ((2, 1, 3),), ((0, 3),)] + [
    (random_shape(_rng, 3),) for _ in range(2)
]
POSITIVE = (0.2, 3.0)
NP_ROW = np.array([0.5, -1.0, 2.0, 0.25])  # an ndarray operand on the left of the operator
NP_SHAPES = [((4,),), ((3, 4),), ((2, 1, 4),), ((0, 4),)]


def _mask(*tensors, seed=7):
    """A fixed random boolean mask of the inputs' broadcast shape, as a numpy array."""
    shape = np.broadcast_shapes(*[tuple(t.shape) for t in tensors])
    return np.random.default_rng(seed).random(shape) > 0.5


ARITHMETIC = [
    same("add", lambda m, a, b: a + b, BINARY),
    same("sub", lambda m, a, b: a - b, BINARY),
    same("mul", lambda m, a, b: a * b, BINARY),
    same("div", lambda m, a, b: a / b, BINARY, domain=[(-2, 2), "nonzero"]),
    same("pow", lambda m, a, b: a**b, BINARY, domain=[POSITIVE, (-2, 2)]),
    same("add_fn_alpha", lambda m, a, b: m.add(a, b, alpha=2), BINARY[:3]),
    same("sub_fn", lambda m, a, b: m.sub(a, b), BINARY[:3]),
    same("mul_fn", lambda m, a, b: m.mul(a, b), BINARY[:3]),
    same("div_fn", lambda m, a, b: m.div(a, b), BINARY[:3], domain=[(-2, 2), "nonzero"]),
    same("pow_fn", lambda m, a, b: m.pow(a, b), BINARY[:3], domain=[POSITIVE, (-2, 2)]),
    # reflected and scalar forms
    same("radd", lambda m, x: 2.5 + x, UNARY),
    same("add_scalar", lambda m, x: x + 2.5, UNARY),
    same("rsub", lambda m, x: 2.5 - x, UNARY),
    same("sub_scalar", lambda m, x: x - 2.5, UNARY),
    same("rmul", lambda m, x: 2.5 * x, UNARY),
    same("mul_int", lambda m, x: x * 3, UNARY),
    same("rdiv", lambda m, x: 2.5 / x, UNARY, domain="nonzero"),
    same("div_scalar", lambda m, x: x / 2.5, UNARY),
    same("rpow", lambda m, x: 2.0**x, UNARY),
    same("pow_float", lambda m, x: x**2.5, UNARY, domain=POSITIVE),
    same("pow_int", lambda m, x: x**2, UNARY),
    same("pow_int3_negative_base", lambda m, x: x**3, UNARY),
    same("pow_negative", lambda m, x: x**-1.5, UNARY, domain=POSITIVE),
    same("pow_zero", lambda m, x: x**0, UNARY),
    # ndarray <op> tensor defers to the tensor's reflected op (PyTorch needs a tensor there)
    Op("radd_ndarray", lambda x: NP_ROW + x, lambda x: torch.tensor(NP_ROW) + x, NP_SHAPES),
    Op("rsub_ndarray", lambda x: NP_ROW - x, lambda x: torch.tensor(NP_ROW) - x, NP_SHAPES),
    Op("rmul_ndarray", lambda x: NP_ROW * x, lambda x: torch.tensor(NP_ROW) * x, NP_SHAPES),
    Op("rdiv_ndarray", lambda x: NP_ROW / x, lambda x: torch.tensor(NP_ROW) / x, NP_SHAPES,
       domain="nonzero"),
]

UNARY_OPS = [
    same("neg", lambda m, x: -x, UNARY),
    same("neg_fn", lambda m, x: m.neg(x), UNARY),
    same("exp", lambda m, x: m.exp(x), UNARY, domain=(-3, 3)),
    same("log", lambda m, x: m.log(x), UNARY, domain=POSITIVE),
    same("log1p", lambda m, x: m.log1p(x), UNARY, domain=(-0.5, 3)),
    same("sqrt", lambda m, x: m.sqrt(x), UNARY, domain=POSITIVE),
    same("abs", lambda m, x: m.abs(x), UNARY, domain="nonzero"),
    same("abs_operator", lambda m, x: abs(x), UNARY, domain="nonzero"),
    same("sigmoid", lambda m, x: m.sigmoid(x), UNARY, domain=(-8, 8)),
    same("tanh", lambda m, x: m.tanh(x), UNARY, domain=(-3, 3)),
    same("relu", lambda m, x: m.relu(x), UNARY, domain="nonzero"),
    Op("softplus", lambda x: x.softplus(), F.softplus, UNARY, domain=(-25, 25)),
    Op("log_sigmoid", lambda x: x.log_sigmoid(), F.logsigmoid, UNARY, domain=(-25, 25)),
    same("square", lambda m, x: m.square(x), UNARY),
    same("rsqrt", lambda m, x: m.rsqrt(x), UNARY, domain=POSITIVE),
    same("reciprocal", lambda m, x: m.reciprocal(x), UNARY, domain="nonzero"),
    same("clamp", lambda m, x: m.clamp(x, -0.5, 0.7), UNARY),
    same("clamp_min", lambda m, x: m.clamp(x, min=-0.5), UNARY),
    same("clamp_max", lambda m, x: m.clamp(x, max=0.3), UNARY),
    same("clamp_method", lambda m, x: x.clamp(-1, 1), UNARY),
    same("clamp_min_above_max", lambda m, x: m.clamp(x, 0.5, -0.5), UNARY),  # max wins
    same(
        "clamp_tensor_bounds",
        lambda m, x, lo, hi: m.clamp(x, lo, hi),
        [((3, 4), (4,), (3, 1)), ((2, 3), (), (2, 3))],
        domain=[(-2, 2), (-1.5, -0.2), (0.2, 1.5)],
    ),
]

SELECTION = [
    same("where", lambda m, a, b: m.where(m.tensor(_mask(a, b)), a, b), BINARY),
    same("where_scalar_other", lambda m, a: m.where(m.tensor(_mask(a)), a, 0.5), UNARY),
    same("where_scalar_input", lambda m, a: m.where(m.tensor(_mask(a)), -1.5, a), UNARY),
    same("maximum", lambda m, a, b: m.maximum(a, b), BINARY),
    same("minimum", lambda m, a, b: m.minimum(a, b), BINARY),
    same("max_of_two", lambda m, a, b: m.max(a, b), BINARY[:4]),
    same("min_of_two", lambda m, a, b: m.min(a, b), BINARY[:4]),
    # ties share the gradient equally, as in PyTorch
    same("maximum_ties", lambda m, a, b: m.maximum(a, b), BINARY[:4], domain="ints",
         gradcheck=False),
    same("minimum_ties", lambda m, a, b: m.minimum(a, b), BINARY[:4], domain="ints",
         gradcheck=False),
]

COMPARE = [
    same(name, fn, BINARY, domain="ints", gradcheck=False)
    for name, fn in [
        ("lt", lambda m, a, b: a < b),
        ("le", lambda m, a, b: a <= b),
        ("gt", lambda m, a, b: a > b),
        ("ge", lambda m, a, b: a >= b),
        ("eq", lambda m, a, b: a == b),
        ("ne", lambda m, a, b: a != b),
        ("lt_fn", lambda m, a, b: m.lt(a, b)),
        ("eq_fn", lambda m, a, b: m.eq(a, b)),
        ("gt_scalar", lambda m, a, b: (a > 0.5) | (b > 0.5)),
        ("reflected_lt_scalar", lambda m, a, b: (0.5 < a) & (b <= 1)),
    ]
]

TABLE = ARITHMETIC + UNARY_OPS + SELECTION + COMPARE

test_matches_torch, test_gradcheck = table_tests(TABLE)


# --- the harness itself must be able to fail -------------------------------------------------
def test_check_op_catches_wrong_values():
    with pytest.raises(AssertionError, match="output 0 values"):
        check_op(lambda x: x.exp(), lambda x: x.exp() * (1 + 1e-4), [(3,)], "float64")


def test_check_op_catches_wrong_gradients():
    def leaky(x):  # right values, gradient scaled by 0.5
        return x.detach() * 0.5 + x * 0.5

    with pytest.raises(AssertionError, match="gradient of input 0"):
        check_op(leaky, lambda x: x * 1.0, [(3,)], "float32")


def test_check_op_catches_wrong_dtype():
    with pytest.raises(AssertionError, match="dtype"):
        check_op(lambda x: x.double(), lambda x: x * 1.0, [(3,)], "float32")


def test_gradcheck_helper_catches_a_wrong_gradient():
    def leaky(x):
        return x.detach() * 0.5 + x * 0.5

    with pytest.raises(AssertionError):
        check_gradcheck(leaky, [(3,)])

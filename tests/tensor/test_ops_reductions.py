"""Reductions against PyTorch (values and gradients) and finite differences.

sum, mean, prod, amax, amin, logsumexp over ``dim`` given as an int, a tuple or None, with
and without ``keepdim``; softmax and log_softmax; var, std and norm; max/min with ``dim``
returning ``(values, indices)``. Empty tensors are included wherever PyTorch accepts them.
"""

import math

import numpy as np
import pytest
import torch
from opcheck import Op, table_tests

import nesy

SINGLE_DIM_SHAPES = [(), (5,), (3, 4), (2, 1, 3), (0, 3), (3, 0)]
TUPLE_DIM_SHAPES = [(2, 3, 4), (2, 1, 3), (1, 3, 1), (0, 2, 3), (2, 3, 0), (3, 2, 2, 1)]
DIMS = [None, 0, -1, (0, 2), (-1, 0), (-2, -1)]  # (-2, -1): one block, the kernels' case


def _shapes_for(dim, nonempty_reduction=False):
    """Shapes on which reducing over ``dim`` is valid (for amax: no empty reduced axis)."""
    shapes = SINGLE_DIM_SHAPES if dim is None or isinstance(dim, int) else TUPLE_DIM_SHAPES
    if nonempty_reduction:
        shapes = [s for s in shapes if _reduced_size(s, dim) > 0]
    return [(s,) for s in shapes]


def _reduced_dims(ndim, dim):
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, int) else dim
    return tuple(sorted(d % max(ndim, 1) for d in dims))


def _reduced_size(shape, dim):
    return math.prod(shape[d] for d in _reduced_dims(len(shape), dim) if d < len(shape))


def torch_reduce(name, x, dim, keepdim):
    """PyTorch's reduction with nesy's ``dim`` conventions (None = all, tuples everywhere)."""
    if x.ndim == 0:
        dim = 0 if dim is None or not isinstance(dim, int) else dim
    if name == "prod" and not isinstance(dim, int):
        dims = _reduced_dims(x.ndim, dim)
        rest = [d for d in range(x.ndim) if d not in dims]
        moved = x.permute(*rest, *dims)
        lead = moved.shape[: len(rest)]
        out = moved.reshape(*lead, math.prod(moved.shape[len(rest):])).prod(-1)
        if keepdim:
            out = out.reshape([1 if d in dims else s for d, s in enumerate(x.shape)])
        return out
    if dim is None:
        dim = () if name in ("amax", "amin") else tuple(range(x.ndim))
    return getattr(torch, name)(x, dim=dim, keepdim=keepdim)


def reduction(name, dim, keepdim, domain=(-2.0, 2.0), nonempty=False, tag=""):
    return Op(
        f"{name}{tag}[dim={dim},keepdim={keepdim}]",
        lambda x: getattr(x, name)(dim=dim, keepdim=keepdim),
        lambda x: torch_reduce(name, x, dim, keepdim),
        _shapes_for(dim, nonempty),
        domain=domain,
    )


REDUCTIONS = [
    reduction(name, dim, keepdim, domain, nonempty)
    for name, domain, nonempty in [
        ("sum", (-2, 2), False),
        ("mean", (-2, 2), False),
        ("prod", (0.5, 1.5), False),
        ("amax", "distinct", True),
        ("amin", "distinct", True),
        ("logsumexp", (-3, 3), False),
    ]
    for dim in DIMS
    for keepdim in (False, True)
] + [
    # exact gradients of prod where some factors are zero (one zero, two zeros)
    reduction("prod", dim, False, domain="ints", tag="_with_zeros") for dim in (0, -1)
] + [
    # ties: amax/amin (and max/min without dim) share the gradient equally, like PyTorch
    Op(f"{name}_ties[dim={dim}]", fn, tfn, [((4, 5),), ((3, 2, 4),)], domain="ints",
       gradcheck=False)
    for dim in (None, 1)
    for name, fn, tfn in [
        ("amax", lambda x, d=dim: x.amax(d), lambda x, d=dim: torch_reduce("amax", x, d, False)),
        ("amin", lambda x, d=dim: x.amin(d), lambda x, d=dim: torch_reduce("amin", x, d, False)),
    ]
] + [
    Op("max_all_ties", lambda x: x.max(), lambda x: x.max(), [((4, 5),)], domain="ints",
       gradcheck=False),
    # with dim, ties go to the first index (PyTorch documents the same)
    Op("max_ties[dim=1]", lambda x: x.max(1), lambda x: x.max(1), [((4, 5),), ((3, 2, 4),)],
       domain="ints", gradcheck=False),
    Op("min_ties[dim=0]", lambda x: x.min(0), lambda x: x.min(0), [((4, 5),), ((3, 2, 4),)],
       domain="ints", gradcheck=False),
    Op("min_all_ties", lambda x: x.min(), lambda x: x.min(), [((4, 5),)], domain="ints",
       gradcheck=False),
    Op("sum_fn", lambda x: nesy.sum(x, 1), lambda x: torch.sum(x, 1), [((3, 4),)]),
    Op("mean_fn", lambda x: nesy.mean(x), lambda x: torch.mean(x), [((3, 4),), ((0, 2),)]),
]

SOFTMAX_SHAPES = [((),), ((5,),), ((3, 4),), ((2, 1, 3),), ((0, 3),), ((3, 0),)]
SOFTMAX = [
    Op(f"{name}[dim={dim}]", lambda x, n=name, d=dim: getattr(nesy, n)(x, dim=d),
       lambda x, n=name, d=dim: getattr(torch, n)(x, dim=d), SOFTMAX_SHAPES, domain=(-4, 4))
    for name in ("softmax", "log_softmax")
    for dim in (0, -1)
] + [
    Op("softmax_method[dim=1]", lambda x: x.softmax(1), lambda x: x.softmax(1),
       [((3, 4),), ((2, 3, 2),)]),
    Op("log_softmax_method[dim=1]", lambda x: x.log_softmax(1), lambda x: x.log_softmax(1),
       [((3, 4),), ((2, 3, 2),)]),
    # large logits: the max is subtracted first
    Op("softmax_large", lambda x: nesy.softmax(x * 100, -1), lambda x: torch.softmax(x * 100, -1),
       [((3, 4),)], rtol={"float32": 1e-4}),
    Op("log_softmax_large", lambda x: nesy.log_softmax(x * 100, -1),
       lambda x: torch.log_softmax(x * 100, -1), [((3, 4),)], rtol={"float32": 1e-4}),
]

VAR_SHAPES = {None: [((5,),), ((3, 4),), ((2, 3, 2),)], 1: [((3, 4),), ((2, 3, 2),), ((1, 2),)],
              (0, 2): [((2, 3, 2),), ((3, 1, 2),)]}
STATISTICS = [
    Op(f"{name}[dim={dim},keepdim={keepdim},correction={c}]",
       lambda x, n=name, d=dim, k=keepdim, c=c: getattr(x, n)(dim=d, keepdim=k, correction=c),
       lambda x, n=name, d=dim, k=keepdim, c=c: getattr(torch, n)(x, dim=d, keepdim=k,
                                                                  correction=c),
       shapes)
    for name in ("var", "std")
    for dim, shapes in VAR_SHAPES.items()
    for keepdim in (False, True)
    for c in (1, 0)
] + [
    Op("var_unbiased_false", lambda x: nesy.var(x, 1, unbiased=False),
       lambda x: torch.var(x, 1, unbiased=False), [((3, 4),)]),
    Op("std_default", lambda x: x.std(), lambda x: x.std(), [((3, 4),)]),
] + [
    Op(f"norm[p={p},dim={dim},keepdim={keepdim}]",
       lambda x, p=p, d=dim, k=keepdim: x.norm(p=p, dim=d, keepdim=k),
       lambda x, p=p, d=dim, k=keepdim: torch.norm(x, p=p, dim=d, keepdim=k),
       [((5,),), ((3, 4),), ((2, 3, 2),)] if dim is None else [((3, 4),), ((2, 3, 2),)],
       domain="nonzero" if p in (1, math.inf) else (-2, 2))
    for p in (2, 1, math.inf, 3)
    for dim in (None, 1)
    for keepdim in (False, True)
]

EXTREMA = [
    Op(f"{name}[dim={dim},keepdim={keepdim}]",
       lambda x, n=name, d=dim, k=keepdim: getattr(x, n)(dim=d, keepdim=k),
       lambda x, n=name, d=dim, k=keepdim: getattr(x, n)(dim=d, keepdim=k),
       _shapes_for(dim, nonempty_reduction=True), domain="distinct")
    for name in ("max", "min")
    for dim in (0, -1)
    for keepdim in (False, True)
] + [
    Op("max_fn[dim=1]", lambda x: nesy.max(x, 1), lambda x: torch.max(x, 1),
       [((3, 4),), ((2, 3, 2),)], domain="distinct"),
    Op("min_fn[dim=1]", lambda x: nesy.min(x, 1), lambda x: torch.min(x, 1),
       [((3, 4),), ((2, 3, 2),)], domain="distinct"),
    Op("max_all", lambda x: x.max(), lambda x: x.max(), [((),), ((3, 4),)], domain="distinct"),
    Op("min_all", lambda x: x.min(), lambda x: x.min(), [((),), ((3, 4),)], domain="distinct"),
    Op("argmax[dim=1]", lambda x: x.argmax(1), lambda x: x.argmax(1), [((3, 4),)],
       domain="distinct", gradcheck=False),
    Op("argmin[dim=0,keepdim]", lambda x: x.argmin(0, keepdim=True),
       lambda x: x.argmin(0, keepdim=True), [((3, 4),)], domain="distinct", gradcheck=False),
    Op("argmax_all", lambda x: x.argmax(), lambda x: x.argmax(), [((3, 4),)],
       domain="distinct", gradcheck=False),
]

TABLE = REDUCTIONS + SOFTMAX + STATISTICS + EXTREMA

test_matches_torch, test_gradcheck = table_tests(TABLE)


def test_max_with_dim_is_a_named_pair():
    x = nesy.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])
    values, indices = x.max(dim=1)
    assert values.tolist() == [5.0, 7.0] and indices.tolist() == [1, 0]
    out = x.min(dim=0)
    assert out.values.tolist() == [1.0, 0.0, 2.0] and out.indices.tolist() == [0, 1, 0]
    assert out.indices.dtype == np.int64


def test_max_with_dim_sends_the_gradient_to_the_argmax_only():
    x = nesy.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]], requires_grad=True)
    x.max(dim=1).values.sum().backward()
    assert x.grad.tolist() == [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]


@pytest.mark.parametrize("p", [2, 1, 3, math.inf])
def test_norm_of_zeros_has_zero_gradient_like_torch(p, path):
    data = np.array([[0.0, 0.0, 0.0], [3.0, -4.0, 1.0]])
    x, t = nesy.tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
    x.norm(p=p, dim=1).sum().backward()
    torch.norm(t, p=p, dim=1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-12)


def test_std_of_constant_values_has_zero_gradient_like_torch(path):
    data = np.array([[2.0, 2.0, 2.0], [1.0, 2.0, 4.0]])
    x, t = nesy.tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
    x.std(dim=1).sum().backward()
    t.std(dim=1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-12)

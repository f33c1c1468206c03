"""Helpers for the op tables: run one expression in nesy and in PyTorch and compare.

An :class:`Op` names an expression twice, once for each library (``same`` builds both from one
function taking the module as first argument), and lists the input shapes to try. The tables
in ``test_ops_*.py`` hold one line per op; :func:`check_op` and :func:`check_gradcheck` do
the work. Expected values always come from PyTorch (or finite differences), never from nesy.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numpy as np
import pytest
import torch

import nesy

TOLERANCE = {"float32": 1e-5, "float64": 1e-10}


@dataclass
class Op:
    """One row of an op table: our expression, PyTorch's, and the input shapes to try.

    ``shapes`` is a list of shape tuples, one tuple per call (one shape per input).
    ``domain`` says where inputs are drawn (see :func:`sample`), one per input or shared.
    """

    name: str
    ours: callable
    theirs: callable
    shapes: list
    domain: object = (-2.0, 2.0)
    rtol: dict = field(default_factory=dict)  # per-dtype overrides of TOLERANCE
    gradcheck: bool = True

    def __repr__(self):
        return self.name


def same(name, fn, shapes, **kw):
    """An :class:`Op` whose expression reads the same in both libraries: ``fn(module, *xs)``."""
    return Op(name, functools.partial(fn, nesy), functools.partial(fn, torch), shapes, **kw)


def sample(rng, shape, dtype, domain):
    """Random inputs of ``shape``: uniform on ``(lo, hi)``, or a named domain.

    ``"distinct"``: all values different and well apart (no ties for max/min/sort).
    ``"nonzero"``: |x| in [0.2, 2] with random sign (away from the kinks of abs, relu).
    ``"ints"``: small integers stored as floats (deliberate ties, for comparisons).
    """
    n = math.prod(shape)
    if domain == "distinct":
        values = (rng.permutation(n) + rng.uniform(0.25, 0.75, n)) * (4.0 / max(n, 1)) - 2.0
    elif domain == "nonzero":
        values = rng.uniform(0.2, 2.0, n) * rng.choice([-1.0, 1.0], n)
    elif domain == "ints":
        values = rng.integers(-2, 3, n).astype(np.float64)
    else:
        lo, hi = domain
        values = rng.uniform(lo, hi, n)
    return values.reshape(shape).astype(dtype)


def _domains(domain, k):
    if isinstance(domain, list):
        assert len(domain) == k, "one domain per input"
        return domain
    return [domain] * k


def _as_tuple(out):
    return tuple(out) if isinstance(out, tuple) else (out,)


def _to_numpy(t):
    return t.detach().numpy()  # the same spelling for nesy and PyTorch tensors


def _close(ours, theirs, rtol, what):
    if ours.dtype.kind in "biu" or theirs.dtype.kind in "biu":
        np.testing.assert_array_equal(ours, theirs, err_msg=what)
    else:
        np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=rtol, err_msg=what)


def check_op(ours_fn, theirs_fn, shapes, dtype, domain=(-2.0, 2.0), seed=0, rtol=None,
             device="cpu"):
    """Values, dtypes, shapes and gradients of ``ours_fn`` match ``theirs_fn`` (PyTorch).

    Inputs are drawn with ``np.random.default_rng(seed)``; each float output gets a random
    upstream gradient (the same for both), and every input's gradient is compared.
    ``device``: where our inputs live (``"cuda"`` checks the CUDA backend the same way).
    """
    rtol = TOLERANCE[dtype] if rtol is None else rtol
    rng = np.random.default_rng(seed)
    arrays = [sample(rng, s, dtype, d) for s, d in zip(shapes, _domains(domain, len(shapes)))]
    xs = [nesy.tensor(a, requires_grad=True, device=device) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    ours, theirs = _as_tuple(ours_fn(*xs)), _as_tuple(theirs_fn(*ts))
    where = f"shapes {shapes}, {dtype}"
    assert len(ours) == len(theirs), f"{where}: {len(ours)} outputs, PyTorch has {len(theirs)}"
    for k, (o, t) in enumerate(zip(ours, theirs)):
        assert o.device == device, f"{where}: output {k} on {o.device}, not {device}"
        o_np, t_np = _to_numpy(o), _to_numpy(t)
        assert o_np.shape == t_np.shape, f"{where}: output {k} shape {o_np.shape} != {t_np.shape}"
        assert o_np.dtype == t_np.dtype, f"{where}: output {k} dtype {o_np.dtype} != {t_np.dtype}"
        assert o.requires_grad == t.requires_grad, f"{where}: output {k} requires_grad differs"
        _close(o_np, t_np, rtol, f"{where}: output {k} values")
    pairs = [(o, t) for o, t in zip(ours, theirs) if t.requires_grad]
    if not pairs:
        return
    cots = [rng.standard_normal(t.shape).astype(_to_numpy(t).dtype) for _, t in pairs]
    if len(pairs) == 1:
        pairs[0][0].backward(nesy.tensor(cots[0], device=device))
        ours_grads = [x.grad for x in xs]
    else:
        ours_grads = nesy.autograd.grad(
            [o for o, _ in pairs], xs, [nesy.tensor(c, device=device) for c in cots],
            allow_unused=True,
        )
    theirs_grads = torch.autograd.grad(
        [t for _, t in pairs], ts, [torch.tensor(c) for c in cots], allow_unused=True
    )
    for i, (g, tg, a) in enumerate(zip(ours_grads, theirs_grads, arrays)):
        expected = np.zeros_like(a) if tg is None else tg.numpy()
        assert g is not None or tg is None, f"{where}: no gradient for input {i}"
        got = np.zeros_like(a) if g is None else g.numpy()
        assert g is None or g.device == device, f"{where}: grad {i} on {g.device}"
        assert got.shape == a.shape, f"{where}: grad {i} shape {got.shape} != {a.shape}"
        assert got.dtype == a.dtype, f"{where}: grad {i} dtype {got.dtype} != {a.dtype}"
        _close(got, expected, rtol, f"{where}: gradient of input {i}")


def check_gradcheck(ours_fn, shapes, domain=(-2.0, 2.0), seed=1):
    """``nesy.gradcheck`` passes in float64 on random inputs of ``shapes``."""
    rng = np.random.default_rng(seed)
    arrays = [sample(rng, s, "float64", d) for s, d in zip(shapes, _domains(domain, len(shapes)))]
    xs = [nesy.tensor(a, requires_grad=True) for a in arrays]
    assert nesy.gradcheck(ours_fn, *xs)


def run_row(op, dtype, device="cpu", max_elements=None):
    """Every shape set of ``op`` (of at most ``max_elements`` inputs) against PyTorch."""
    for seed, shapes in enumerate(op.shapes):
        if max_elements is None or sum(math.prod(s) for s in shapes) <= max_elements:
            check_op(op.ours, op.theirs, shapes, dtype, op.domain, seed, op.rtol.get(dtype),
                     device)


def run_gradcheck(op, max_elements=200):
    """Finite differences on the shape sets of ``op`` small enough to be quick."""
    for seed, shapes in enumerate(op.shapes):
        if sum(math.prod(s) for s in shapes) <= max_elements:
            check_gradcheck(op.ours, shapes, op.domain, seed)


# --- shape generators ------------------------------------------------------------------------
def table_tests(table):
    """The two tests every op table gets: values and gradients against torch (both dtypes,
    both paths through the ``path`` fixture), and ``nesy.gradcheck`` in float64.

    Use as ``test_matches_torch, test_gradcheck = table_tests(TABLE)`` in a test module.
    """

    @pytest.mark.parametrize("dtype", ["float32", "float64"])
    @pytest.mark.parametrize("op", table, ids=repr)
    def test_matches_torch(op, dtype, path):
        run_row(op, dtype)

    @pytest.mark.parametrize("op", [op for op in table if op.gradcheck], ids=repr)
    def test_gradcheck(op, path):
        run_gradcheck(op)

    return test_matches_torch, test_gradcheck


def random_shape(rng, ndim, sizes=(0, 1, 2, 3, 4), p_empty=0.1):
    """A shape of ``ndim`` axes; a size is 0 with probability ``p_empty``, else in 1..4."""
    nonzero = [s for s in sizes if s]
    return tuple(
        0 if rng.random() < p_empty else int(rng.choice(nonzero)) for _ in range(ndim)
    )


def broadcast_pair(rng, p_empty=0.1):
    """Two shapes that broadcast: a random shape and a copy with dims dropped or set to 1."""
    a = random_shape(rng, int(rng.integers(0, 4)), p_empty=p_empty)
    lead = int(rng.integers(0, len(a) + 1))
    b = tuple(1 if rng.random() < 0.4 else s for s in a[lead:])
    return (a, b) if rng.random() < 0.5 else (b, a)


def random_pairs(seed, k, p_empty=0.1):
    rng = np.random.default_rng(seed)
    return [broadcast_pair(rng, p_empty) for _ in range(k)]

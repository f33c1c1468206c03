"""Aggregators, the semantics of quantifiers: reductions over the axes of their variables.

An aggregator is ``fn(xs, dims, p=2.0, mask=None, stable=True)``. It reduces the truth values
``xs`` over the axes ``dims``, keeping them with size 1, and returns a tensor of ``xs``'s dtype.
``mask`` (a bool array or tensor broadcastable against ``xs``) keeps only the groundings where a
guard holds; the reduction then runs over the broadcast shape of ``xs`` and ``mask``. Without a
mask nothing is broadcast: an axis of size 1 in ``xs`` (a body that does not depend on that
variable) aggregates to its single value, the aggregate of a constant.

The stability projections ``pi_0`` and ``pi_1`` (LTNtorch's) are defined here, once, and shared
with the connectives of :mod:`nesy.logic.semantics`.

>>> import nesy
>>> xs = nesy.tensor([[0.9, 0.5], [1.0, 1.0]], dtype=nesy.float64)
>>> agg_pmean_error(xs, (1,), p=2.0, stable=False)
tensor([[0.6394],
        [1.    ]], dtype=float64)
"""

from __future__ import annotations

import math

import numpy as np

import nesy
from nesy.tensor import Tensor

from . import fused
from .fused import EPS  # how far the stable variants keep values from 0 and 1 (LTNtorch's)


def pi_0(x):
    """Project [0, 1] into [eps, 1]: pi_0(x) = (1 - eps) x + eps (no exact 0 in a product)."""
    return (1 - EPS) * x + EPS


def pi_1(x):
    """Project [0, 1] into [0, 1 - eps]: pi_1(x) = (1 - eps) x (no exact 0 in 1 - x)."""
    return (1 - EPS) * x


# --- masks, axes and safe reductions --------------------------------------------------------
def _axes(dims, ndim):
    dims = (dims,) if isinstance(dims, (int, np.integer)) else tuple(dims)
    for d in dims:
        if not -ndim <= d < ndim:
            raise ValueError(f"aggregation axis {d} out of range for {ndim}-dimensional values")
    return tuple(sorted({int(d) % ndim for d in dims}))


def _prepare(xs, dims, mask):
    """(mask as a bool tensor with one axis per broadcast axis, broadcast shape, axes)."""
    if mask is None:
        return None, xs.shape, _axes(dims, xs.ndim)
    m = mask if isinstance(mask, Tensor) else nesy.as_tensor(np.asarray(mask), device=xs.device)
    if m.dtype != np.bool_:
        raise ValueError(f"a quantifier's mask must be boolean, got dtype {m.dtype}")
    try:
        shape = np.broadcast_shapes(xs.shape, m.shape)
    except ValueError:
        raise ValueError(
            f"mask of shape {tuple(m.shape)} does not broadcast against truth values of shape "
            f"{tuple(xs.shape)}"
        ) from None
    if m.ndim < len(shape):
        m = m.reshape((1,) * (len(shape) - m.ndim) + tuple(m.shape))
    return m, shape, _axes(dims, len(shape))


def empty_groundings(xs, dims, mask):
    """True where ``mask`` keeps no grounding along ``dims`` (a quantifier over nothing)."""
    m, _, dims = _prepare(xs, dims, mask)
    return nesy.logical_not(nesy.any(m, dims, keepdim=True) if dims else m)


def _sum(x, dims):
    return x.sum(dims, keepdim=True) if dims else x


def _count(m, dims, shape, dtype):
    """How many groundings the mask keeps along dims, counted in the broadcast shape."""
    n = _sum(nesy.cast(m, dtype), dims)
    # a mask axis of size 1 stands for every grounding of a variable the guard ignores
    spread = math.prod(shape[d] for d in dims if m.shape[d] == 1)
    return n if spread == 1 else n * float(spread)


def _nonzero(d):
    """d with its zeros replaced by 1: an empty sum then divides to 0, never to NaN."""
    return nesy.where(d == 0, 1.0, d)


def _mean(t, dims, m=None, shape=None, weights=None):
    """sum t / n over dims, n the kept entries (or their total weight); 0 where none is kept.

    ``weights``, when given, has the shape of ``t``.
    """
    if m is None and weights is None:
        return t.mean(dims, keepdim=True) if dims else t
    kept = t if m is None else nesy.where(m, t, 0.0)
    if weights is None:
        return _sum(kept, dims) / _nonzero(_count(m, dims, shape, t.dtype))
    w = weights if m is None else nesy.where(m, weights, 0.0)
    return _sum(kept * w, dims) / _nonzero(_sum(w, dims))


def _power(x, p, m):
    """x^p; masked-out entries are raised from a stand-in 1, as x^p has an infinite slope at
    0 when p < 1 and the masked-out entries' zero gradient would meet it as 0 * inf = NaN."""
    if m is not None and p < 1:
        x = nesy.where(m, x, 1.0)
    return x**p


def _root(s, p):
    """s^(1/p), with gradient 0 where s = 0 (the root's slope is infinite there)."""
    zero = s == 0
    return nesy.where(zero, 0.0, nesy.where(zero, 1.0, s) ** (1.0 / p))


# --- the aggregators ------------------------------------------------------------------------
def agg_min(xs, dims, p=2.0, mask=None, stable=True):
    """Minimum, Goedel's forall: A(x_1, ..., x_n) = min_i x_i; masked-out entries count as 1."""
    m, _, dims = _prepare(xs, dims, mask)
    kept = xs if m is None else nesy.where(m, xs, 1.0)
    return nesy.amin(kept, dims, keepdim=True) if dims else kept


def agg_max(xs, dims, p=2.0, mask=None, stable=True):
    """Maximum, Goedel's exists: A(x_1, ..., x_n) = max_i x_i; masked-out entries count as 0."""
    m, _, dims = _prepare(xs, dims, mask)
    kept = xs if m is None else nesy.where(m, xs, 0.0)
    return nesy.amax(kept, dims, keepdim=True) if dims else kept


def agg_mean(xs, dims, p=2.0, mask=None, stable=True, weights=None):
    """Arithmetic mean: A(x_1, ..., x_n) = sum_i w_i x_i / sum_i w_i (unit weights: the mean)."""
    m, shape, dims = _prepare(xs, dims, mask)
    return _mean(xs, dims, m, shape, weights)


def agg_pmean(xs, dims, p=2.0, mask=None, stable=True, weights=None):
    """Generalised mean, a smooth exists: A(x_1, ..., x_n) = (1/n sum_i x_i^p)^(1/p).

    Stable: x_i = pi_0(x_i) first, keeping the root's argument away from 0.
    """
    m, shape, dims = _prepare(xs, dims, mask)
    p = float(p)
    if stable and m is None and weights is None:
        return fused.pmean_stable(xs, dims, p)  # one pass, same values
    if stable:
        xs = pi_0(xs)
    return _root(_mean(_power(xs, p, m), dims, m, shape, weights), p)


def agg_pmean_error(xs, dims, p=2.0, mask=None, stable=True, weights=None):
    """Generalised mean of the errors, a smooth forall: A = 1 - (1/n sum_i (1 - x_i)^p)^(1/p).

    Stable: x_i = pi_1(x_i) first, keeping 1 - x_i away from 0.
    """
    m, shape, dims = _prepare(xs, dims, mask)
    p = float(p)
    if stable and m is None and weights is None:
        return fused.pmean_error_stable(xs, dims, p)  # one pass, same values
    if stable:
        xs = pi_1(xs)
    return 1.0 - _root(_mean(_power(1.0 - xs, p, m), dims, m, shape, weights), p)


BUILTIN = {"min": agg_min, "max": agg_max, "mean": agg_mean, "pmean": agg_pmean,
           "pmean_error": agg_pmean_error}

"""Primitive reductions over axes: sum, amax/amin, prod, logsumexp, softmax, log_softmax.

Each takes ``axes`` (a sorted tuple of non-negative axes, already validated) and
``keepdim``. Backward passes re-insert the reduced axes into the incoming gradient
(:func:`_keep`) and let broadcasting spread it over the input.
"""

from __future__ import annotations

import math

from .ops import Primitive


def _keep(g, in_shape, axes, keepdim):
    """``g`` reshaped so that reduced axes are present with size 1."""
    if keepdim:
        return g
    return g.reshape(tuple(1 if i in axes else s for i, s in enumerate(in_shape)))


class Sum(Primitive):
    """sum over axes;  d/dx = 1 broadcast"""

    def forward(ctx, x, axes=(), keepdim=False):
        ctx.saved = (x.shape, axes, keepdim)
        return ctx.backend.sum(x, axes, keepdim)

    def backward(ctx, g):
        shape, axes, keepdim = ctx.saved
        return (ctx.backend.broadcast_to(_keep(g, shape, axes, keepdim), shape),)


class _Extremum(Primitive):
    """amax / amin: the gradient is shared equally among the elements that attain it."""

    reducer = ""

    def forward(ctx, x, axes=(), keepdim=False):
        # an empty tensor is fine as long as no reduced axis is empty (PyTorch's rule)
        if any(x.shape[a] == 0 for a in axes):
            raise RuntimeError(
                f"{ctx.reducer}(): expected a non-empty reduction, got shape {tuple(x.shape)} "
                f"reduced over dims {axes}"
            )
        y = getattr(ctx.backend, ctx.reducer)(x, axes, keepdim)
        ctx.saved = (x, y, axes, keepdim)
        return y

    def backward(ctx, g):
        x, y, axes, keepdim = ctx.saved
        be = ctx.backend
        hit = be.astype(x == _keep(y, x.shape, axes, keepdim), g.dtype)
        count = be.sum(hit, axes, keepdims=True)
        share = be.map("div", _keep(g, x.shape, axes, keepdim), count)
        return (be.map("mul", hit, share),)


class Amax(_Extremum):
    reducer = "amax"


class Amin(_Extremum):
    reducer = "amin"


class Prod(Primitive):
    """product over axes; d/dx_i = prod_{j != i} x_j, exact also when some x_j are zero."""

    def forward(ctx, x, axes=(), keepdim=False):
        ctx.saved = (x, axes, keepdim)
        return ctx.backend.prod(x, axes, keepdim)

    def backward(ctx, g):
        x, axes, keepdim = ctx.saved
        be = ctx.backend
        rest = tuple(i for i in range(x.ndim) if i not in axes)
        perm = rest + axes
        moved = be.transpose(x, perm)
        lead = moved.shape[: len(rest)]
        flat = be.reshape(moved, lead + (math.prod(moved.shape[len(rest) :]),))
        others = _exclusive_products(be, flat)
        others = be.reshape(others, moved.shape)
        inverse = [0] * len(perm)
        for i, p in enumerate(perm):
            inverse[p] = i
        others = be.transpose(others, tuple(inverse))
        return (be.map("mul", _keep(g, x.shape, axes, keepdim), others),)


def _exclusive_products(be, flat):
    """For each position along the last axis, the product of all the other positions."""
    n = flat.shape[-1]
    ones = be.ones(flat.shape[:-1] + (1,), flat.dtype)
    left = be.concatenate([ones, be.cumprod(flat[..., : n - 1], -1)], -1) if n else flat
    right_rev = be.cumprod(flat[..., ::-1][..., : n - 1], -1) if n else flat
    right = be.concatenate([ones, right_rev], -1)[..., ::-1] if n else flat
    return be.map("mul", left, right)


class LogSumExp(Primitive):
    """log sum exp x, computed as m + log sum exp(x - m) with m = max x;  d/dx = softmax x"""

    def forward(ctx, x, axes=(), keepdim=False):
        be = ctx.backend
        y = be.reshape(_logsumexp_keep(be, x, axes), _reduced_shape(x.shape, axes, keepdim))
        ctx.saved = (x, y, axes, keepdim)
        return y

    def backward(ctx, g):
        x, y, axes, keepdim = ctx.saved
        m = ctx.backend.map
        p = m("exp", m("sub", x, _keep(y, x.shape, axes, keepdim)))
        return (m("mul", _keep(g, x.shape, axes, keepdim), p),)


def _logsumexp_keep(be, x, axes):
    if x.size == 0:
        return be.map("log", be.sum(x, axes, keepdims=True))  # log 0 = -inf, like PyTorch
    m = be.amax(x, axes, keepdims=True)
    m = be.map("where", (m == float("inf")) | (m == float("-inf")), 0.0, m)
    s = be.sum(be.map("exp", be.map("sub", x, m)), axes, keepdims=True)
    return be.map("add", be.map("log", s), m)


def _reduced_shape(shape, axes, keepdim):
    if keepdim:
        return tuple(1 if i in axes else s for i, s in enumerate(shape))
    return tuple(s for i, s in enumerate(shape) if i not in axes)


class Softmax(Primitive):
    """e^x / sum e^x along one axis;  backward y (g - sum(g y))"""

    def forward(ctx, x, axis=-1):
        m = ctx.backend.map
        e = m("exp", m("sub", x, _safe_max(ctx.backend, x, axis)))
        y = m("div", e, ctx.backend.sum(e, (axis,), keepdims=True))
        ctx.saved = (y, axis)
        return y

    def backward(ctx, g):
        y, axis = ctx.saved
        be = ctx.backend
        dot = be.sum(be.map("mul", g, y), (axis,), keepdims=True)
        return (be.map("mul", y, be.map("sub", g, dot)),)


class LogSoftmax(Primitive):
    """x - logsumexp x along one axis;  backward g - e^y sum g"""

    def forward(ctx, x, axis=-1):
        be = ctx.backend
        y = be.map("sub", x, _logsumexp_keep(be, x, (axis,)))
        ctx.saved = (y, axis)
        return y

    def backward(ctx, g):
        y, axis = ctx.saved
        be = ctx.backend
        total = be.sum(g, (axis,), keepdims=True)
        return (be.map("sub", g, be.map("mul", be.map("exp", y), total)),)


def _safe_max(be, x, axis):
    if x.shape[axis] == 0:
        return 0.0
    m = be.amax(x, (axis,), keepdims=True)
    return be.map("where", (m == float("inf")) | (m == float("-inf")), 0.0, m)

"""Truths on a ground program: each rule grounded once over the support, then iterated.

Semi-naive evaluation merges by ``max``, which is exact only for an idempotent ``or``. For
product's probabilistic sum and Lukasiewicz's bounded sum every grounding counts once, so
the sparse engine (``sparse_chaining.py``) first finds the *support* of a stratum (the atoms
whose truth is nonzero: semi-naive on 0/1 indicators, a negated literal counting where its
negation is nonzero) and then grounds each rule once over it into *instances*: the head's
row and one row per body literal. The truths are then iterated on the instances,

    ``V_p = or(F_p, segment_or(and(confidence, l_1, ..., l_k)))``

with ``F_p`` the fact degrees and ``segment_or`` the semantics' ``or`` over the instances
of each head atom (max, ``1 - prod(1 - c)`` or ``min(1, sum c)``), until the largest change
is below ``tol``. Everything is a nesy tensor operation, so gradients reach fact degrees
set with ``set_truths``, bound models, learnable confidences and lower strata.
"""

from __future__ import annotations

import math

import numpy as np

import nesy


class SegmentOr(nesy.Function):
    """The ``or`` of each segment of ``x`` (``starts``: segment starts in sorted order;
    empty segments give 0): ``max`` (the gradient goes to the first maximum), ``probsum``
    ``1 - prod(1 - x)`` (exact gradient ``prod_{j != i} (1 - x_j)``, also where some
    ``x_j = 1``) or ``sum`` (for Lukasiewicz' ``min(1, sum)``, clamped by the caller)."""

    @staticmethod
    def forward(ctx, x, order, starts, lengths, kind):
        values = x.detach().numpy()[order]
        n = len(starts)
        out = np.zeros(n, dtype=values.dtype)
        has = lengths > 0
        s = starts[has]
        if kind == "max":
            out[has] = np.maximum.reduceat(values, s) if len(values) else 0
        elif kind == "sum":
            out[has] = np.add.reduceat(values, s) if len(values) else 0
        else:
            q = 1.0 - values
            zero = q == 0
            safe = np.where(zero, 1.0, q)
            prod_safe = np.ones(n, dtype=values.dtype)
            zeros = np.zeros(n, dtype=np.int64)
            if len(values):
                prod_safe[has] = np.multiply.reduceat(safe, s)
                zeros[has] = np.add.reduceat(zero.astype(np.int64), s)
            out = 1.0 - np.where(zeros > 0, 0.0, prod_safe)
            out[~has] = 0.0
            ctx.probsum = (q, zero, prod_safe, zeros)
        ctx.args = (values, order, starts, lengths, kind, out)
        return nesy.tensor(out.astype(values.dtype))

    @staticmethod
    def backward(ctx, grad):
        values, order, starts, lengths, kind, out = ctx.args
        g = grad.detach().numpy()
        segment = np.repeat(np.arange(len(starts)), lengths)
        if kind == "sum":
            local = g[segment]
        elif kind == "max":
            hit = values == out[segment]
            first = np.zeros_like(hit)
            idx = np.flatnonzero(hit)
            seg_of = segment[idx]
            keep = np.ones(len(idx), dtype=bool)
            keep[1:] = seg_of[1:] != seg_of[:-1]
            first[idx[keep]] = True
            local = np.where(first, g[segment], 0.0)
        else:
            q, zero, prod_safe, zeros = ctx.probsum
            z = zeros[segment]
            others = np.where(z == 0, prod_safe[segment] / np.where(zero, 1.0, q),
                              np.where((z == 1) & zero, prod_safe[segment], 0.0))
            local = g[segment] * others
        full = np.zeros(len(values), dtype=values.dtype)
        full[order] = local
        return nesy.tensor(full.astype(values.dtype)), None, None, None, None


def segment_or(kind, contributions, head_rows, n_heads):
    """``or`` of the contributions per head row, via ``SegmentOr``."""
    order = np.argsort(head_rows, kind="stable")
    lengths = np.bincount(head_rows, minlength=n_heads).astype(np.int64)
    starts = np.zeros(n_heads, dtype=np.int64)
    if n_heads > 1:
        np.cumsum(lengths[:-1], out=starts[1:])
    return SegmentOr.apply(contributions, order, starts, lengths, kind)


class Instances:
    """One rule's groundings over the support: head rows and one row array per literal."""

    def __init__(self, plan, head_rows, literal_rows):
        self.plan = plan
        self.head_rows = head_rows
        self.literal_rows = literal_rows  # literal position -> rows (-1: absent / compare)


def iterate(engine, group, plans, instances, max_iters, tol):
    """Truth tensors of the group's relations at the fixpoint: (values, rounds, change)."""
    sem = engine.sem
    kind = {"max": "max", "probsum": "probsum", "luk": "sum"}.get(sem.or_op)
    if kind is None:
        raise ValueError(f"the sparse engine folds or = max, probsum or luk, not "
                         f"{sem.or_op!r}: use kb.infer(engine='dense')")
    facts = {p: engine.fact_values(p) for p in group}
    values = dict(facts)
    recursive = any(plan.recursive_atoms(group) for plan in plans)
    rounds, change = 0, math.inf
    while rounds < max_iters:
        rounds += 1
        change = 0.0
        for p in group:
            new = facts[p]
            for inst in instances[p]:
                contrib = engine.contributions(inst, values)
                if contrib is None:
                    continue
                folded = segment_or(kind, contrib, inst.head_rows, len(engine.relations[p]))
                if kind == "sum":
                    folded = nesy.minimum(folded, 1.0)
                new = sem.or_(new, folded)
            old = values[p].detach().numpy()
            change = max(change, float(np.abs(new.detach().numpy() - old).max(initial=0.0)))
            values[p] = new
        if not recursive:
            return values, rounds, 0.0
        if change < tol:
            break
    return values, rounds, change


class Scatter(nesy.Function):
    """A dense table from truths at flat positions: ``out.flat[keys] = x``, zero elsewhere;
    the gradient of ``x`` is ``grad.flat[keys]``."""

    @staticmethod
    def forward(ctx, x, keys, shape):
        values = x.detach().numpy()
        out = np.zeros(math.prod(shape), dtype=values.dtype)
        out[keys] = values
        ctx.keys = keys
        return nesy.tensor(out.reshape(shape))

    @staticmethod
    def backward(ctx, grad):
        return nesy.tensor(grad.detach().numpy().reshape(-1)[ctx.keys]), None, None


def sliced_table(rel, fixed, dtype):
    """The truths of a relation's atoms whose positions ``fixed`` (position -> index) are
    fixed: a table over the other positions, in order, read by key look-ups instead of the
    whole dense table (explaining ``Path(a, c)`` reads ``Path(y, c)`` for every ``y``, not
    ``N^2`` values); differentiable like ``dense_table``."""
    keys = np.zeros(1, dtype=np.int64)
    for pos, (n, stride) in enumerate(zip(rel.sizes, rel.strides)):
        axis = np.array([fixed[pos]]) if pos in fixed else np.arange(n)
        keys = (keys[:, None] + axis[None, :] * stride).reshape(-1)
    shape = tuple(n for pos, n in enumerate(rel.sizes) if pos not in fixed)
    rows = rel.rows_of(keys)
    present = rows >= 0
    tensor = getattr(rel, "tensor", None)
    if tensor is not None and tensor.requires_grad and present.any():
        mask = nesy.tensor(present.astype(tensor.dtype))
        return (tensor[np.maximum(rows, 0)] * mask).reshape(shape)
    values = np.where(present, rel.truth[np.maximum(rows, 0)], 0.0)
    return nesy.tensor(values.astype(dtype).reshape(shape))


def dense_table(rel, dtype):
    """The truth table of a relation; differentiable when its truths have gradients,
    else built once (an inferred relation does not change) and kept on the relation."""
    tensor = getattr(rel, "tensor", None)
    if tensor is not None and tensor.requires_grad:
        return Scatter.apply(tensor, rel.current_keys.copy(), rel.sizes)
    if rel.dense is None:
        rel.dense = nesy.tensor(rel.to_dense().astype(dtype))
    return rel.dense

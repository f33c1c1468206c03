"""Products on the GPU: batched ``matmul`` (tiled kernel) and ``einsum`` built on it.

``matmul`` follows NumPy: 1-D operands gain and lose an axis, batch axes broadcast. Operands
go to the kernel as strided views (a transposed or broadcast operand is not copied).

``einsum`` takes diagonals as views (repeated labels), sums labels that only one operand
has, and contracts operands pairwise with ``matmul``: labels of both operands and of the
output (or a later operand) are batch axes, labels of both only are contracted.
"""

from __future__ import annotations

import math

import numpy as np

from . import cuda_kernels as K


def matmul(be, a, b):
    a2 = a.reshape(1, a.shape[0]) if a.ndim == 1 else a
    b2 = b.reshape(b.shape[0], 1) if b.ndim == 1 else b
    m, k, n = a2.shape[-2], a2.shape[-1], b2.shape[-1]
    if b2.shape[-2] != k:
        raise ValueError(f"matmul: {a.shape} and {b.shape} do not fit")
    batch_shape = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
    out = be.new(tuple(batch_shape) + (m, n), np.result_type(a.dtype, b.dtype))
    if out.size:
        from .cuda import broadcast_steps

        a_batch = broadcast_steps(a2.view_as(a2.shape[:-2], a2.steps[:-2], 0), batch_shape)
        b_batch = broadcast_steps(b2.view_as(b2.shape[:-2], b2.steps[:-2], 0), batch_shape)
        bshape = tuple(batch_shape) or (1,)
        asteps = tuple(a_batch or [0]) + a2.steps[-2:]
        bsteps = tuple(b_batch or [0]) + b2.steps[-2:]
        batch = math.prod(batch_shape)
        tiles = batch * -(-m // K.TILE) * -(-n // K.TILE)
        key = ("matmul", out.dtype)
        kernel = be._kernels.get(key)
        if kernel is None:
            kernel = be._kernels[key] = K.matmul(out.dtype)
        args = (a2.base, a2.offset, asteps, b2.base, b2.offset, bsteps, out.base, batch, bshape,
                m, k, n, out.dtype.type(0))
        if m * n * k <= K.SMALL_MATMUL:
            kernel[1][K.blocks_for(out.size), K.THREADS](*args)
        else:
            kernel[0][min(tiles, K.MAX_BLOCKS), (K.TILE, K.TILE)](*args)
    if a.ndim == 1 and b.ndim == 1:
        return out.reshape(())
    if a.ndim == 1:
        return out.reshape(out.shape[:-2] + (n,))
    if b.ndim == 1:
        return out.reshape(out.shape[:-1])
    return out


def diagonal(x, sub, unique):
    """The view of ``x`` (labels ``sub``) on its diagonals, with one axis per label of
    ``unique``: the step of a repeated label is the sum of its axes' steps."""
    shape, steps = [], []
    for c in unique:
        axes = [i for i, s in enumerate(sub) if s == c]
        shape.append(x.shape[axes[0]])
        steps.append(sum(x.steps[i] for i in axes))
    return x.view_as(shape, steps, x.offset)


def _labels_view(x, sub):
    """``x`` with repeated labels reduced to their diagonal: (view, unique labels)."""
    unique = "".join(dict.fromkeys(sub))
    return (x if unique == sub else diagonal(x, sub, unique)), unique


def einsum(be, equation, *xs):
    lhs, _, out_labels = equation.partition("->")
    operands = [_labels_view(x, s) for x, s in zip(xs, lhs.split(","))]
    sizes = {}
    for x, s in operands:
        for c, size in zip(s, x.shape):
            sizes[c] = size if sizes.get(c, 1) == 1 else sizes[c]
    operands = [_sum_private(be, x, s, i, operands, out_labels) for i, (x, s) in
                enumerate(operands)]
    x, s = operands[0]
    for j in range(1, len(operands)):
        keep = set(out_labels).union(*[t for _, t in operands[j + 1 :]])
        x, s = _contract(be, x, s, *operands[j], keep, sizes)
    perm = [s.index(c) for c in out_labels]
    result = x.transpose(perm)
    if any(result.base is x.base for x in xs):  # never hand out a view of an input
        return be.copy(result)
    return result


def _sum_private(be, x, s, i, operands, out_labels):
    """Sum out labels that no other operand and not the output has."""
    others = set(out_labels).union(*[t for j, (_, t) in enumerate(operands) if j != i])
    private = tuple(k for k, c in enumerate(s) if c not in others)
    if not private:
        return x, s
    kept = "".join(c for k, c in enumerate(s) if k not in private)
    return be.sum(x, private, False), kept


def _contract(be, a, sa, b, sb, keep, sizes):
    """a (labels sa) with b (labels sb): batch = shared and kept, contracted = shared only."""
    batch = [c for c in sa if c in sb and c in keep]
    summed = [c for c in sa if c in sb and c not in keep]
    left = [c for c in sa if c not in sb]
    right = [c for c in sb if c not in sa]
    a3 = _group(be, a, sa, batch, left, summed, sizes)
    b3 = _group(be, b, sb, batch, summed, right, sizes)
    y = matmul(be, a3, b3)  # (batch, left, right)
    shape = [sizes[c] for c in batch + left + right]
    return y.reshape(tuple(shape)), "".join(batch + left + right)


def _group(be, x, s, batch, rows, cols, sizes):
    """``x`` viewed as (batch..., rows..., cols...) at full label sizes, merged to 3-D."""
    order = batch + rows + cols
    shape = [x.shape[s.index(c)] if c in s else 1 for c in order]
    steps = [x.steps[s.index(c)] if c in s else 0 for c in order]
    target = tuple(sizes[c] for c in order)
    view = be.broadcast_to(x.view_as(shape, steps, x.offset), target)
    nb, nr = len(batch), len(rows)
    return view.reshape((math.prod(target[:nb]), math.prod(target[nb : nb + nr]),
                         math.prod(target[nb + nr :])))

"""Primitive shape and indexing operations: reshape, permute, expand, index, cat.

They move or select values without arithmetic; their backward passes move the gradient
back (reshape it, permute it back, scatter-add it into zeros, split it).
"""

from __future__ import annotations

import numpy as np

from .ops import Primitive


class Reshape(Primitive):
    def forward(ctx, x, shape=()):
        ctx.saved = (x.shape,)
        try:
            return ctx.backend.reshape(x, shape)
        except ValueError:
            raise RuntimeError(
                f"reshape: shape {tuple(shape)} is invalid for input of shape "
                f"{tuple(x.shape)} ({x.size} elements)"
            ) from None

    def backward(ctx, g):
        return (ctx.backend.reshape(g, ctx.saved[0]),)


class Permute(Primitive):
    def forward(ctx, x, dims=()):
        ctx.saved = (dims,)
        return ctx.backend.transpose(x, dims)

    def backward(ctx, g):
        (dims,) = ctx.saved
        return (ctx.backend.transpose(g, tuple(np.argsort(dims))),)


class Expand(Primitive):
    """A broadcast view; the engine sums the gradient back to the input's shape."""

    def forward(ctx, x, shape=()):
        try:
            return ctx.backend.broadcast_to(x, shape)
        except ValueError:
            raise RuntimeError(
                f"expand: cannot expand shape {tuple(x.shape)} to {tuple(shape)}"
            ) from None

    def backward(ctx, g):
        return (g,)


class Index(Primitive):
    """x[index]; backward scatters into zeros and accumulates repeated positions."""

    def forward(ctx, x, index=()):
        try:
            y = ctx.backend.getitem(x, index)
        except IndexError as e:
            raise IndexError(f"index: {e} (indexing a tensor of shape {tuple(x.shape)})") from None
        ctx.saved = (x.shape, x.dtype, index)
        return y

    def backward(ctx, g):
        shape, dtype, index = ctx.saved
        return (ctx.backend.index_add(shape, dtype, index, g, _is_basic(index)),)


def _is_basic(index):
    """Ints, slices, None and Ellipsis select each element at most once."""
    items = index if isinstance(index, tuple) else (index,)
    return all(
        i is None or i is Ellipsis or isinstance(i, (int, np.integer, slice)) for i in items
    )


class Cat(Primitive):
    """Concatenation along an existing axis; backward splits the gradient."""

    def forward(ctx, *xs, axis=0):
        ctx.saved = ([x.shape[axis] for x in xs], axis)
        return ctx.backend.concatenate(xs, axis)

    def backward(ctx, g):
        sizes, axis = ctx.saved
        grads, start = [], 0
        for n in sizes:
            index = [slice(None)] * g.ndim
            index[axis] = slice(start, start + n)
            grads.append(g[tuple(index)])
            start += n
        return tuple(grads)

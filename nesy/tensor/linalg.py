"""Primitive products: batched ``matmul`` and ``einsum``."""

from __future__ import annotations

from .ops import Primitive


class MatMul(Primitive):
    """a @ b with NumPy/PyTorch semantics (1-D operands, broadcast batch dims).

    d/da = g @ b^T, d/db = a^T @ g; the engine sums over broadcast batch dims.
    """

    def forward(ctx, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise RuntimeError("matmul: both arguments need at least 1 dimension, got a scalar")
        k_a = a.shape[-1]
        k_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
        if k_a != k_b:
            raise RuntimeError(
                f"matmul: shapes {tuple(a.shape)} and {tuple(b.shape)} cannot be multiplied "
                f"({k_a} != {k_b})"
            )
        try:
            y = ctx.backend.matmul(a, b)
        except ValueError:
            raise RuntimeError(
                f"matmul: batch shapes of {tuple(a.shape)} and {tuple(b.shape)} do not broadcast"
            ) from None
        ctx.saved = (a, b)
        return y

    def backward(ctx, g):
        a, b = ctx.saved
        be = ctx.backend
        a2 = a.reshape(1, -1) if a.ndim == 1 else a
        b2 = b.reshape(-1, 1) if b.ndim == 1 else b
        if a.ndim == 1:
            g = be.reshape(g, g.shape[:-1] + (1, g.shape[-1]) if b.ndim > 1 else (1,) + g.shape)
        if b.ndim == 1:
            g = be.reshape(g, g.shape + (1,))
        need_a, need_b = ctx.needs_input_grad
        ga = gb = None
        if need_a:
            ga = be.matmul(g, be.swapaxes(b2, -1, -2))
            if a.ndim == 1:
                ga = be.reshape(be.sum(ga, tuple(range(ga.ndim - 2)), False), a.shape) \
                    if ga.ndim > 2 else be.reshape(ga, a.shape)
        if need_b:
            gb = be.matmul(be.swapaxes(a2, -1, -2), g)
            if b.ndim == 1:
                gb = be.reshape(be.sum(gb, tuple(range(gb.ndim - 2)), False), b.shape) \
                    if gb.ndim > 2 else be.reshape(gb, b.shape)
        return ga, gb


class Einsum(Primitive):
    """Einstein summation; the gradient of each operand is another einsum.

    For ``ij,jk->ik`` the gradient of the first operand is ``ik,jk->ij`` applied to (g, b).
    Indices that appear in only one operand are broadcast back; repeated indices of one
    operand (diagonals, ``ii->i``) are written through a diagonal view.
    """

    def forward(ctx, *xs, equation=""):
        inputs, output = _parse_einsum(equation, [x.ndim for x in xs])
        try:
            y = ctx.backend.einsum(f"{','.join(inputs)}->{output}", *xs)
        except ValueError as e:
            shapes = ", ".join(str(tuple(x.shape)) for x in xs)
            raise RuntimeError(f"einsum: {equation!r} does not fit shapes {shapes}: {e}") from None
        ctx.saved = (xs, inputs, output)
        return y

    def backward(ctx, g):
        xs, inputs, output = ctx.saved
        be = ctx.backend
        grads = []
        for i, (x, sub) in enumerate(zip(xs, inputs)):
            if not ctx.needs_input_grad[i]:
                grads.append(None)
                continue
            unique = "".join(dict.fromkeys(sub))
            known = set(output).union(*[s for j, s in enumerate(inputs) if j != i])
            target = "".join(c for c in unique if c in known)
            others = [s for j, s in enumerate(inputs) if j != i]
            eq = ",".join([output] + others) + "->" + target
            part = be.einsum(eq, g, *[xs[j] for j in range(len(xs)) if j != i])
            sizes = {c: n for c, n in zip(sub, x.shape)}
            # a size-1 axis of x broadcast against a longer one (einsum allows it, as for
            # '...'): sum the gradient back over it
            wide = tuple(k for k, c in enumerate(target) if sizes[c] == 1 != part.shape[k])
            if wide:
                part = be.sum(part, wide, keepdims=True)
            kept = tuple(part.shape[target.index(c)] if c in target else 1 for c in unique)
            full = be.broadcast_to(be.reshape(part, kept), tuple(sizes[c] for c in unique))
            if unique == sub:
                grads.append(full)
            else:  # repeated indices: write into the diagonal of zeros
                out = be.zeros(x.shape, g.dtype)
                view = be.diagonal_view(out, f"{sub}->{unique}")
                view[...] += full
                grads.append(out)
        return tuple(grads)


def _parse_einsum(equation, ndims):
    """Explicit subscripts for each operand and the output, with '...' expanded."""
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    inputs = lhs.split(",")
    if len(inputs) != len(ndims):
        raise RuntimeError(
            f"einsum: {equation!r} names {len(inputs)} operands but {len(ndims)} were given"
        )
    used = set(c for c in eq if c.isalpha())
    spare = iter(c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" if c not in used)
    ell_len = max((nd - len(s.replace("...", "")) for s, nd in zip(inputs, ndims) if "..." in s),
                  default=0)
    ell = "".join(next(spare) for _ in range(ell_len))
    expanded = []
    for s, nd in zip(inputs, ndims):
        if "..." in s:
            k = nd - len(s.replace("...", ""))
            s = s.replace("...", ell[ell_len - k :] if k else "")
        if len(s) != nd:
            raise RuntimeError(
                f"einsum: subscripts {s!r} do not match an operand with {nd} dimensions"
            )
        expanded.append(s)
    if arrow:
        output = rhs.replace("...", ell)
    else:
        counts = {}
        for s in expanded:
            for c in s:
                counts[c] = counts.get(c, 0) + 1
        output = ell + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell))
    return expanded, output



"""The fused quantifier as a nesy ``Function``: kernels forward, kernels backward.

Its inputs are the truth tables of the quantifier's atoms and inner quantifiers (tensors, so
gradients flow on into predicate tables and neural models through the normal engine); its
output is the aggregate, a table over the quantifier's free variables (0-dim when closed).

The aggregate is finished here from the kernels' per-cell accumulators:

- ``mean``: ``A = S / n``; ``pmean``: ``A = (S / n)^(1/p)`` with ``S = sum pi_0(x)^p``;
  ``pmean_error``: ``A = 1 - (S / n)^(1/p)`` with ``S = sum (1 - pi_1(x))^p``; the gradient
  of a grounding is ``g coef term'(x)`` with ``coef = (S/n)^(1/p - 1) / n`` (``1 / n`` for
  the mean; 0 where ``S = 0``, as the eager root's);
- ``min``/``max``: ``A = M``, the gradient ``g / T`` to each of the ``T`` groundings at ``M``
  (ties share it, as ``nesy.amin`` does; with a guard, masked-out groundings count as 1 for
  ``min`` and 0 for ``max``, as in the eager path, and take their share with them);
- no grounding kept by the guard: 1 for ``forall``, 0 for ``exists``, and no gradient.

Tables on the CUDA device run the plan's ``numba.cuda`` kernels there (see
:mod:`.cuda_arrays`); only the accumulators come back to the host to be finished here, and
the output and gradients are tensors on the device.
"""

from __future__ import annotations

import math

import numba
import numpy as np

import nesy
from nesy.tensor.backends import get_backend
from nesy.tensor.function import Function

from .codegen import cell_axes, is_sum, kernel_name

PARALLEL_MIN = 1 << 15  # groundings from which a kernel runs on all threads


class KernelCall:
    """Everything one application of a quantifier's kernels needs besides its inputs."""

    def __init__(self, compiled, plan, sizes, guards, terms, dtype):
        self.compiled = compiled
        self.plan = plan
        self.sizes = sizes  # axis -> size, for the plan's loop axes
        self.guards = guards  # arrays of the guard atoms
        self.terms = terms  # float64 arrays of comparison terms
        self.dtype = np.dtype(dtype)
        self.target = "cpu"
        self.on = HostArrays()  # where the kernels' arrays live: see ``place``

    def place(self, device):
        """Run on ``device``: on the GPU, with guards and terms copied there once."""
        if device is None or device.type != "cuda":
            return
        from .cuda_arrays import CudaArrays

        self.target, self.on = "cuda", CudaArrays(device)
        self.guards = [self.on.put(g) for g in self.guards]
        self.terms = [self.on.put(t) for t in self.terms]

    def kernels(self, need):
        return self.compiled.kernels(self.plan, need, self.target)

    def shape(self, axes):
        return tuple(self.sizes[a] for a in axes)

    @property
    def cells(self):
        return cell_axes(self.plan, self.target)

    @property
    def parallel(self):
        """Threads on the CPU (else the serial kernels); the GPU's kernels have the names of
        the parallel ones."""
        return (self.target == "cuda"
                or math.prod(self.sizes[a] for a in self.plan.loop_axes) >= PARALLEL_MIN)

    def run(self, module, mode, arrays, *rest):
        """Launch kernel ``mode`` of ``module`` on the input tables and ``rest``."""
        n = [self.sizes[a] for a in self.plan.loop_axes]
        kernel = getattr(module, kernel_name(self.plan, mode, self.parallel))
        self.on.launch(kernel, self.shape(self.cells),
                       [*n, *arrays, *self.guards, *self.terms, *rest])

    def shared(self, slot):
        """Does ``slot``'s gradient go through per-thread copies (CPU threads that do not own
        its rows)? On the GPU every table is one array, written with atomics."""
        return self.target == "cpu" and self.plan.loop_axes[0] not in slot.axes

    def grad_buffers(self, need, arrays):
        threads = numba.config.NUMBA_NUM_THREADS if self.parallel else 1
        out = []
        for slot, wanted, a in zip(self.plan.slots, need, arrays):
            if wanted:
                out.append(self.on.zeros((threads, *a.shape) if self.shared(slot) else a.shape))
        return out

    def collect(self, need, buffers):
        """Each wanted slot's gradient in its table's shape (per-thread copies summed)."""
        grads, it = [], iter(buffers)
        for slot, wanted in zip(self.plan.slots, need):
            if not wanted:
                grads.append(None)
                continue
            buf = next(it)
            grads.append(buf.sum(axis=0) if self.shared(slot) else buf)
        return grads


class HostArrays:
    """The kernels' arrays on the host (NumPy); ``cuda_arrays.CudaArrays`` is its GPU twin."""

    device = None

    def put(self, values):
        return np.ascontiguousarray(values)

    def table(self, tensor, shape):
        return _array(tensor, shape)

    def zeros(self, shape):
        return np.zeros(shape, np.float64)

    def host(self, a):
        return a

    def launch(self, kernel, cells, args):
        kernel(*args)

    def gradient(self, grad, shape, dtype):
        """A float64 gradient table summed back to the input's ``shape``, as a tensor."""
        grad = get_backend("cpu").sum_to_shape(grad, tuple(shape), "compiled quantifier")
        return nesy.tensor(grad.astype(dtype), dtype=dtype)


def finalize(plan, acc):
    """(aggregate, coef) per output cell from the kernels' accumulators."""
    count = acc["C"]
    empty = count == 0
    n = np.where(empty, 1.0, count)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if not is_sum(plan):
            out = acc["M"]
            coef = 1.0 / np.where(acc["T"] == 0, 1.0, acc["T"])
        elif plan.aggregator == "mean":
            out = acc["S"] / n
            coef = 1.0 / n
        else:
            s = acc["S"] / n
            zero = s == 0
            safe = np.where(zero, 1.0, s)
            root = np.where(zero, 0.0, safe ** (1.0 / plan.p))
            out = root if plan.aggregator == "pmean" else 1.0 - root
            coef = np.where(zero, 0.0, safe ** (1.0 / plan.p - 1.0) / n)
    out = np.where(empty, plan.vacuous, out)
    coef = np.where(empty, 0.0, coef)
    return out, coef


def merge_rows(plan, acc):
    """A closed quantifier's per-row accumulators (one row per value of its first
    variable) merged into one cell."""
    if is_sum(plan):
        return {"S": np.asarray(acc["S"].sum()), "C": np.asarray(acc["C"].sum())}
    best = acc["M"].min() if plan.aggregator == "min" else acc["M"].max()
    ties = acc["T"][acc["M"] == best].sum()
    return {"M": np.asarray(best), "T": np.asarray(ties), "C": np.asarray(acc["C"].sum())}


class FusedQuantifier(Function):
    """``forward(call, *tables)``: the aggregate of a quantifier, by generated kernels."""

    @staticmethod
    def forward(ctx, call, *tables):
        need = tuple(ctx.needs_input_grad[1:]) if ctx.needs_input_grad else (False,) * len(tables)
        call.place(tables[0].device if tables else None)
        on, plan = call.on, call.plan
        arrays = [on.table(t, call.shape(s.axes)) for t, s in zip(tables, plan.slots)]
        kernels = call.kernels(need)
        cell_shape = call.shape(call.cells)
        names = ("S", "C") if is_sum(plan) else ("M", "T", "C")
        acc = {k: on.zeros(cell_shape) for k in names}
        fused = any(need) and is_sum(plan) and not plan.out_axes
        if fused:
            buffers = call.grad_buffers(need, arrays)
            call.run(kernels, "fused", arrays, *acc.values(), *buffers)
        else:
            call.run(kernels, "forward", arrays, *acc.values())
        acc = {k: on.host(v) for k, v in acc.items()}  # one value per cell
        if not plan.out_axes:
            acc = merge_rows(plan, acc)
        out, coef = finalize(plan, acc)
        if any(need):
            ctx.call, ctx.need, ctx.coef = call, need, coef
            ctx.shapes = [tuple(t.shape) for t in tables]
            if fused:
                ctx.unscaled = call.collect(need, buffers)
            else:
                ctx.arrays, ctx.kernels = arrays, kernels
                ctx.extremum = None if is_sum(plan) else acc["M"]
        value = np.asarray(out, dtype=call.dtype).reshape(call.shape(plan.out_axes))
        return nesy.tensor(value, dtype=call.dtype, device=on.device)

    @staticmethod
    def backward(ctx, g):
        call, plan = ctx.call, ctx.call.plan
        g = np.asarray(g.numpy(), np.float64).reshape(np.shape(ctx.coef))
        weight = g * ctx.coef
        if hasattr(ctx, "unscaled"):
            grads = [None if u is None else u * float(weight) for u in ctx.unscaled]
        else:
            grads = _second_pass(ctx, call, plan, weight)
        out = [None]
        for grad, shape in zip(grads, ctx.shapes):
            out.append(None if grad is None else call.on.gradient(grad, shape, call.dtype))
        return tuple(out)


def _second_pass(ctx, call, plan, weight):
    cell_shape = call.shape(call.cells)
    extra = [np.broadcast_to(weight, cell_shape)]
    if ctx.extremum is not None:
        extra.append(np.broadcast_to(ctx.extremum, cell_shape))
    buffers = call.grad_buffers(ctx.need, ctx.arrays)
    call.run(ctx.kernels, "backward", ctx.arrays, *[call.on.put(e) for e in extra], *buffers)
    return call.collect(ctx.need, buffers)


def _array(tensor, shape):
    """A tensor's values as a C-contiguous array of ``shape`` (0-dim: one element)."""
    a = tensor.detach().numpy()
    if tuple(a.shape) != shape:
        a = np.broadcast_to(a.reshape((1,) * (len(shape) - a.ndim) + a.shape), shape)
    a = np.ascontiguousarray(a)
    return a.reshape(1) if a.ndim == 0 else a

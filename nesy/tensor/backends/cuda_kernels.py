"""numba.cuda kernels for the CUDA backend, built from the same scalar functions as the CPU's.

Every elementwise op is the plain function in :mod:`nesy.tensor.scalar`, compiled here with
``cuda.jit(device=True)`` and bound into a grid-stride template (as :mod:`nesy.tensor.kernels`
binds it into a ``prange`` loop for the CPU): one definition, two targets.

Operands are strided views of flat device buffers (see :mod:`.cuda_array`): each is passed as
``(buffer, offset, steps)`` with ``steps`` in elements (0 along broadcast axes), plus a scalar
slot ``(value, is_scalar)`` so that Python numbers need no device copy. The launcher merges
axes that every operand walks contiguously, so same-shape contiguous operands run as 1-D.

Under the simulator (``NUMBA_ENABLE_CUDASIM=1``) each GPU thread is a Python thread: launches
use one small block and grid-stride loops, so a test stays within a few thousand threads.
"""

from __future__ import annotations

import types

import numba
import numpy as np
from numba import cuda

from .. import scalar

SIMULATOR = bool(numba.config.ENABLE_CUDASIM)
THREADS = 16 if SIMULATOR else 256  # threads per block, a power of 2 (tree reductions)
MAX_BLOCKS = 1 if SIMULATOR else 4096
TILE = 4 if SIMULATOR else 16  # matmul tile edge: TILE x TILE threads per block
SERIAL_REDUCTION_MAX = 64  # reductions this short run one thread per output, no tree
SMALL_MATMUL = 1 << 12  # products with m n k up to this skip the tiles (one thread per output)


def blocks_for(n, threads=THREADS):
    return max(1, min(-(-n // threads), MAX_BLOCKS))


def _bind(template, name, **bindings):
    """A copy of ``template`` whose globals bind device functions (``f``, ``c``, ...)."""
    scope = dict(template.__globals__)
    scope.update(bindings)
    fn = types.FunctionType(template.__code__, scope, name, template.__defaults__)
    fn.__qualname__ = name
    return fn


def device_function(fn):
    return cuda.jit(device=True)(fn)


@cuda.jit(device=True)
def _offset(i, shape, steps, base):
    """The buffer position of the ``i``-th element (C order) of a strided view."""
    for d in range(len(shape) - 1, -1, -1):
        n = shape[d]
        base += (i % n) * steps[d]
        i //= n
    return base


# --- elementwise --------------------------------------------------------------------------
def ew1(n, shape, out, oo, os_, a, ao, as_, av, ak):
    for i in range(cuda.grid(1), n, cuda.gridsize(1)):
        x = av if ak else a[_offset(i, shape, as_, ao)]
        out[_offset(i, shape, os_, oo)] = f(x)  # noqa: F821


def ew2(n, shape, out, oo, os_, a, ao, as_, av, ak, b, bo, bs, bv, bk):
    for i in range(cuda.grid(1), n, cuda.gridsize(1)):
        x = av if ak else a[_offset(i, shape, as_, ao)]
        y = bv if bk else b[_offset(i, shape, bs, bo)]
        out[_offset(i, shape, os_, oo)] = f(x, y)  # noqa: F821


def ew3(n, shape, out, oo, os_, a, ao, as_, av, ak, b, bo, bs, bv, bk, c, co, cs, cv, ck):
    for i in range(cuda.grid(1), n, cuda.gridsize(1)):
        x = av if ak else a[_offset(i, shape, as_, ao)]
        y = bv if bk else b[_offset(i, shape, bs, bo)]
        z = cv if ck else c[_offset(i, shape, cs, co)]
        out[_offset(i, shape, os_, oo)] = f(x, y, z)  # noqa: F821


def ew4(n, shape, out, oo, os_, a, ao, as_, av, ak, b, bo, bs, bv, bk, c, co, cs, cv, ck,
        d, do, ds, dv, dk):
    for i in range(cuda.grid(1), n, cuda.gridsize(1)):
        x = av if ak else a[_offset(i, shape, as_, ao)]
        y = bv if bk else b[_offset(i, shape, bs, bo)]
        z = cv if ck else c[_offset(i, shape, cs, co)]
        w = dv if dk else d[_offset(i, shape, ds, do)]
        out[_offset(i, shape, os_, oo)] = f(x, y, z, w)  # noqa: F821


_EW_TEMPLATES = {1: ew1, 2: ew2, 3: ew3, 4: ew4}


def elementwise(fn, arity):
    """The grid-stride kernel applying the scalar function ``fn`` of ``arity`` arguments."""
    return cuda.jit(_bind(_EW_TEMPLATES[arity], f"ew_{fn.__name__}", f=device_function(fn)))


# --- reductions ---------------------------------------------------------------------------
def reduce_serial(x, xo, m, kshape, ksteps, rshape, rsteps, r, init, out):
    """One thread per output: fold the ``r`` reduced elements in order."""
    for o in range(cuda.grid(1), m, cuda.gridsize(1)):
        base = _offset(o, kshape, ksteps, xo)
        acc = init
        for j in range(r):
            acc = c(acc, x[_offset(j, rshape, rsteps, base)])  # noqa: F821
        out[o] = acc


def reduce_tree(x, xo, m, kshape, ksteps, rshape, rsteps, r, init, out):
    """One block per output: each thread folds a strided share, then a shared-memory tree."""
    part = cuda.shared.array(THREADS, DTYPE)  # noqa: F821
    t = cuda.threadIdx.x
    for o in range(cuda.blockIdx.x, m, cuda.gridDim.x):
        base = _offset(o, kshape, ksteps, xo)
        acc = init
        for j in range(t, r, cuda.blockDim.x):
            acc = c(acc, x[_offset(j, rshape, rsteps, base)])  # noqa: F821
        part[t] = acc
        cuda.syncthreads()
        s = cuda.blockDim.x // 2
        while s > 0:
            if t < s:
                part[t] = c(part[t], part[t + s])  # noqa: F821
            cuda.syncthreads()
            s //= 2
        if t == 0:
            out[o] = part[0]
        cuda.syncthreads()


def reduction(combine, name, dtype):
    """``(serial, tree)`` kernels folding with ``c(acc, x)`` from ``init``, for one dtype."""
    c = device_function(combine)
    nbtype = numba.from_dtype(np.dtype(dtype))
    return tuple(
        cuda.jit(_bind(t, f"{t.__name__}_{name}_{np.dtype(dtype).name}", c=c, DTYPE=nbtype))
        for t in (reduce_serial, reduce_tree)
    )


@cuda.jit
def arg_extremum(x, xo, m, kshape, ksteps, r, rstep, sign, out):
    """Index of the first max (sign 1) or min (sign -1) along a line; the first NaN wins."""
    for o in range(cuda.grid(1), m, cuda.gridsize(1)):
        base = _offset(o, kshape, ksteps, xo)
        best = x[base]
        k = 0
        for j in range(1, r):
            if best != best:
                break
            v = x[base + j * rstep]
            if v != v or (v > best if sign > 0 else v < best):
                best = v
                k = j
        out[o] = k


@cuda.jit
def cumprod_lines(x, xo, m, kshape, ksteps, r, rstep, out, oshape, osteps, ostep):
    """Running products along one axis: one thread per line."""
    for o in range(cuda.grid(1), m, cuda.gridsize(1)):
        src = _offset(o, kshape, ksteps, xo)
        dst = _offset(o, oshape, osteps, 0)
        if r > 0:
            acc = x[src]
            out[dst] = acc
            for j in range(1, r):
                acc = acc * x[src + j * rstep]
                out[dst + j * ostep] = acc


# --- products -----------------------------------------------------------------------------
def matmul_tiled(a, ao, asteps, b, bo, bsteps, out, batch, bshape, m, k, n, zero):
    """out[z, i, j] = sum_l a[z, i, l] b[z, l, j], TILE x TILE tiles through shared memory.

    ``asteps``/``bsteps`` hold the batch steps (0 where broadcast) then the row and column
    steps, so transposed and broadcast operands need no copies. ``out`` is C-contiguous.
    """
    sa = cuda.shared.array((TILE, TILE), DTYPE)  # noqa: F821
    sb = cuda.shared.array((TILE, TILE), DTYPE)  # noqa: F821
    ty, tx = cuda.threadIdx.y, cuda.threadIdx.x
    tiles_m, tiles_n = (m + TILE - 1) // TILE, (n + TILE - 1) // TILE
    nd = len(bshape)
    for blk in range(cuda.blockIdx.x, batch * tiles_m * tiles_n, cuda.gridDim.x):
        z = blk // (tiles_m * tiles_n)
        i = (blk // tiles_n) % tiles_m * TILE + ty
        j = blk % tiles_n * TILE + tx
        a_base = _offset(z, bshape, asteps, ao)  # only the batch axes: len(bshape)
        b_base = _offset(z, bshape, bsteps, bo)
        acc = zero
        for t0 in range(0, k, TILE):
            la, lb = t0 + tx, t0 + ty
            sa[ty, tx] = a[a_base + i * asteps[nd] + la * asteps[nd + 1]] \
                if (i < m and la < k) else zero
            sb[ty, tx] = b[b_base + lb * bsteps[nd] + j * bsteps[nd + 1]] \
                if (lb < k and j < n) else zero
            cuda.syncthreads()
            for q in range(TILE):
                acc += sa[ty, q] * sb[q, tx]
            cuda.syncthreads()
        if i < m and j < n:
            out[(z * m + i) * n + j] = acc


def matmul_small(a, ao, asteps, b, bo, bsteps, out, batch, bshape, m, k, n, zero):
    """The same product with one thread per output element and no shared memory: for
    products too small to fill a tile grid (and quick under the simulator)."""
    nd = len(bshape)
    for o in range(cuda.grid(1), batch * m * n, cuda.gridsize(1)):
        z, i, j = o // (m * n), (o // n) % m, o % n
        a_base = _offset(z, bshape, asteps, ao)  # only the batch axes: len(bshape)
        b_base = _offset(z, bshape, bsteps, bo)
        acc = zero
        for q in range(k):
            acc += a[a_base + i * asteps[nd] + q * asteps[nd + 1]] * \
                b[b_base + q * bsteps[nd] + j * bsteps[nd + 1]]
        out[o] = acc


def matmul(dtype):
    """``(tiled, small)`` matmul kernels for one dtype (the tiles in shared memory are typed)."""
    name = f"matmul_{np.dtype(dtype).name}"
    return (cuda.jit(_bind(matmul_tiled, name, DTYPE=numba.from_dtype(np.dtype(dtype)))),
            cuda.jit(matmul_small))


# --- indexing -----------------------------------------------------------------------------
@cuda.jit
def gather(x, positions, out):
    """out[i] = x[positions[i]] (positions are buffer offsets)."""
    for i in range(cuda.grid(1), out.shape[0], cuda.gridsize(1)):
        out[i] = x[positions[i]]


@cuda.jit
def scatter_add(out, positions, g, go, gshape, gsteps):
    """out[positions[i]] += g[i], with atomics: repeated positions accumulate."""
    for i in range(cuda.grid(1), positions.shape[0], cuda.gridsize(1)):
        cuda.atomic.add(out, positions[i], g[_offset(i, gshape, gsteps, go)])


@cuda.jit
def scatter_set(out, positions, v, vo, vshape, vsteps):
    """out[positions[i]] = v[i] (a later repeat may win, as in NumPy's fancy assignment)."""
    for i in range(cuda.grid(1), positions.shape[0], cuda.gridsize(1)):
        out[positions[i]] = v[_offset(i, vshape, vsteps, vo)]


@cuda.jit
def arange_fill(out, start, step):
    for i in range(cuda.grid(1), out.shape[0], cuda.gridsize(1)):
        out[i] = start + i * step


# --- predicates and rounding (bool or same-dtype results) ---------------------------------
def _identity(x):
    return x


IDENTITY = _identity
PREDICATES = {
    "eq": (scalar.eq, 2), "ne": (scalar.ne, 2), "lt": (scalar.lt, 2), "le": (scalar.le, 2),
    "gt": (scalar.gt, 2), "ge": (scalar.ge, 2), "logical_and": (scalar.logical_and, 2),
    "logical_or": (scalar.logical_or, 2), "logical_xor": (scalar.logical_xor, 2),
    "logical_not": (scalar.logical_not, 1), "isnan": (scalar.isnan, 1),
    "isinf": (scalar.isinf, 1), "isfinite": (scalar.isfinite, 1),
}
ROUNDING = {"sign": scalar.sign, "floor": scalar.floor, "ceil": scalar.ceil, "rint": scalar.rint}


# --- optimizers ---------------------------------------------------------------------------
def _optimizer_kernels():
    from ...optim import kernels as optim_kernels

    sgd_el = device_function(optim_kernels.sgd_element)
    adam_el = device_function(optim_kernels.adam_element)
    return (cuda.jit(_bind(sgd_launch, "sgd_launch", el=sgd_el)),
            cuda.jit(_bind(adam_launch, "adam_launch", el=adam_el)))


def sgd_launch(param, grad, buf, lr, weight_decay, momentum, dampening, nesterov, maximize,
               first):
    for i in range(cuda.grid(1), param.shape[0], cuda.gridsize(1)):
        el(param, grad, buf, i, lr, weight_decay, momentum, dampening, nesterov,  # noqa: F821
           maximize, first)


def adam_launch(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, beta1, beta2, eps,
                weight_decay, decoupled, amsgrad, maximize, step_size, decay,
                bias_correction2_sqrt):
    for i in range(cuda.grid(1), param.shape[0], cuda.gridsize(1)):
        el(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, i, beta1, beta2, eps,  # noqa: F821
           weight_decay, decoupled, amsgrad, maximize, step_size, decay, bias_correction2_sqrt)


_OPTIMIZERS = []


def optimizer_kernels():
    """``(sgd, adam)`` grid-stride kernels around the optimizers' per-element functions."""
    if not _OPTIMIZERS:
        _OPTIMIZERS.extend(_optimizer_kernels())
    return _OPTIMIZERS


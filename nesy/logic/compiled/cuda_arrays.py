"""A fused quantifier's arrays on the GPU, and its ``numba.cuda`` kernels' launches.

When the tables reaching a quantifier live on the CUDA device, ``FusedQuantifier`` runs the
plan's GPU kernels (``codegen.module_source(..., target="cuda")``, the same scalar code as
the CPU's) on arrays that stay there: the tables (broadcast and made contiguous on the
device), the accumulators and the gradient tables (float64). Guards and comparison terms,
host arrays, are copied there once per call; the weights of the backward pass, one per
cell, too. Only the accumulators, one value per cell (never per grounding), come back to
the host, where ``finalize`` finishes the aggregate. Outputs and gradients are tensors on
the device. The method names are those of ``autograd.HostArrays``, the CPU twin.

A launch is a grid-stride loop over the cells: 256 threads per block on a GPU; under the
simulator (``NUMBA_ENABLE_CUDASIM=1``, every thread a Python thread) one block of 16, as the
backend's own kernels (:mod:`nesy.tensor.backends.cuda_kernels`).
"""

from __future__ import annotations

import math

import numpy as np

from nesy.tensor.backends import cuda_kernels as K
from nesy.tensor.backends import get_backend
from nesy.tensor.backends.cuda_array import CudaArray
from nesy.tensor.tensor import Tensor


class CudaArrays:
    """Device arrays (``CudaArray``) for the kernels of one quantifier call."""

    def __init__(self, device):
        self.device = device
        self.be = get_backend(device)

    def put(self, values):
        """A host array (guard truths, term values, weights) copied to the device; one value
        broadcast (a closed quantifier's weight) is filled in there instead."""
        values = np.asarray(values)
        if values.size > 1 and not any(values.strides):
            return self.be.full(values.shape, values.flat[0], values.dtype)
        return self.be.from_numpy(np.ascontiguousarray(values))

    def table(self, tensor, shape):
        """A tensor's values as a contiguous device array of ``shape`` (0-dim: one element)."""
        a = tensor.detach()._data
        if tuple(a.shape) != shape:
            a = self.be.broadcast_to(a.reshape((1,) * (len(shape) - a.ndim) + a.shape), shape)
        if not a.is_contiguous:
            a = self.be.copy(a)
        return a.reshape(1) if a.ndim == 0 else a

    def zeros(self, shape):
        return self.be.zeros(tuple(shape), np.float64)

    def host(self, a):
        return self.be.to_numpy(a)

    def launch(self, kernel, cells, args):
        """``kernel`` on enough threads for the cells (grid-stride: any count works)."""
        n = max(1, math.prod(cells))
        kernel[K.blocks_for(n), K.THREADS](*[_view(a) for a in args])

    def gradient(self, grad, shape, dtype):
        """A float64 gradient table summed back to the input's ``shape``, as a tensor."""
        g = self.be.sum_to_shape(grad, tuple(shape), "compiled quantifier")
        if g.dtype != np.dtype(dtype):
            g = self.be.astype(g, dtype)
        return Tensor._from_op(g, None, self.device)


def _view(a):
    """A contiguous ``CudaArray`` as the numba device array a kernel takes."""
    if not isinstance(a, CudaArray):
        return a  # a loop size
    flat = a.base[a.offset : a.offset + a.size]
    return flat.reshape(a.shape)

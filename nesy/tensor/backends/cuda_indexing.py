"""Indexing of CUDA arrays: basic indices as views, advanced ones as gather positions.

Ints, slices, None and Ellipsis select a strided view (no kernel, no copy). Integer arrays and
boolean masks follow NumPy's rules exactly by letting NumPy index, per axis, a broadcast view
of ``arange(n)`` (O(n) memory, never O(size)): that yields each selected element's coordinate
on the axis, and the buffer positions are their dot product with the steps. Only these index
positions are computed on the host; the data moves on the device (gather / scatter kernels).
"""

from __future__ import annotations

import numpy as np

from .cuda_array import CudaArray


def _items(index):
    return index if isinstance(index, tuple) else (index,)


def _is_basic_item(i):
    return i is None or i is Ellipsis or isinstance(i, slice) or (
        isinstance(i, (int, np.integer)) and not isinstance(i, (bool, np.bool_)))


def basic_view(x, index):
    """The view ``x[index]`` when ``index`` is basic, else None."""
    items = _items(index)
    if not all(_is_basic_item(i) for i in items):
        return None
    used = sum(1 for i in items if i is not None and i is not Ellipsis)
    if used > x.ndim:
        raise IndexError(f"too many indices for array: array is {x.ndim}-dimensional, "
                         f"but {used} were indexed")
    if sum(1 for i in items if i is Ellipsis) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    expanded = []
    for i in items:
        if i is Ellipsis:
            expanded += [slice(None)] * (x.ndim - used)
        else:
            expanded.append(i)
    expanded += [slice(None)] * (x.ndim - sum(1 for i in expanded if i is not None))
    shape, steps, offset, axis = [], [], x.offset, 0
    for i in expanded:
        if i is None:
            shape.append(1)
            steps.append(0)
            continue
        n, step = x.shape[axis], x.steps[axis]
        if isinstance(i, slice):
            start, stop, stride = i.indices(n)
            length = len(range(start, stop, stride))
            shape.append(length)
            steps.append(step * stride)
            if length:
                offset += start * step
        else:
            k = int(i)
            if not -n <= k < n:
                raise IndexError(f"index {k} is out of bounds for axis {axis} with size {n}")
            offset += (k % n) * step
        axis += 1
    return x.view_as(shape, steps, offset)


def positions(x, index):
    """Buffer positions (int64, shaped like ``x[index]``) of the elements ``index`` selects."""
    items = tuple(_host(i) for i in _items(index))
    pos = None
    for axis, (n, step) in enumerate(zip(x.shape, x.steps)):
        shape = [1] * x.ndim
        shape[axis] = n
        coord = np.broadcast_to(np.arange(n, dtype=np.int64).reshape(shape), x.shape)
        part = coord[items] * step
        pos = part if pos is None else pos + part
    if pos is None:  # a 0-d array: only None / Ellipsis / empty tuples select anything
        pos = np.zeros((), np.int64)[items]
    return np.ascontiguousarray(pos + x.offset, dtype=np.int64)


def _host(i):
    if isinstance(i, CudaArray):  # index arrays on the device: their values decide shapes
        return i.copy_to_host()
    if isinstance(i, list):
        return np.asarray(i)
    return i

"""Numba kernels of the sparse relations: the key index and the semi-naive merge.

A relation stores its atoms as integer keys (the argument indices in mixed radix) with one
truth each, in insertion order. The index maps a key to its row:

- *direct*: when the key space is small enough, ``slots[key]`` is the row (-1: absent);
- *hashed*: open addressing with linear probing over ``2^b`` slots, Fibonacci hashing
  ``h(k) = (k * 0x9E3779B97F4A7C15 mod 2^64) >> (64 - b)``; ``hkeys`` holds the keys
  (-1: empty) and ``slots`` the rows.

Both layouts go through one ``_find`` so every kernel is written once. The merge is the
heart of semi-naive evaluation: a candidate atom either is new (appended), or raises the
truth of an existing one (the ``or`` of idempotent semantics is ``max``), or changes
nothing; the rows that changed form the next round's delta, each listed once.

Imported only by the sparse engine, so ``import nesy`` does not load Numba.
"""

from __future__ import annotations

import types

import numba
import numpy as np

JIT = dict(cache=True, nogil=True)
GOLDEN = np.uint64(0x9E3779B97F4A7C15)


@numba.njit(**JIT)
def _find(hkeys, slots, bits, key):
    """The slot of ``key``: its own, or the empty one where it would be inserted."""
    if bits == 0:  # direct: the key is the slot
        return key
    mask = (np.int64(1) << bits) - 1
    h = np.int64((np.uint64(key) * GOLDEN) >> np.uint64(64 - bits))
    while True:
        k = hkeys[h]
        if k == key or k == -1:
            return h
        h = (h + 1) & mask


@numba.njit(**JIT)
def lookup(hkeys, slots, bits, keys, out):
    """``out[i]`` = the row of ``keys[i]``, or -1 where it is absent."""
    for i in range(keys.shape[0]):
        s = _find(hkeys, slots, bits, keys[i])
        out[i] = slots[s]


@numba.njit(**JIT)
def merge(hkeys, slots, bits, top, keys, truth, stamp, n, cand_keys, cand_truth, start, rnd,
          delta, n_delta, limit):
    """Merge candidates ``start..`` into the relation (``n`` rows) by ``max``; stop when
    ``n`` reaches ``limit`` (the arrays' capacity, or the hash table's load limit).

    ``top`` (direct index only; else empty) has one bit per key, set once no candidate can
    raise the atom (its truth is 1, or it is final: ``Relation.mark_final``), so such
    candidates are dropped after one look into a bitmap that stays in cache, instead of a
    random read of the index.

    Returns ``(n, n_delta, next candidate)``; ``delta[:n_delta]`` lists the rows that are
    new or rose this round (``stamp[row] == rnd`` marks them)."""
    use_top = top.shape[0] > 0
    i = start
    while i < cand_keys.shape[0]:
        key = cand_keys[i]
        if use_top and (top[key >> 3] >> (key & 7)) & 1:
            i += 1
            continue
        value = cand_truth[i]
        s = _find(hkeys, slots, bits, key)
        row = slots[s]
        if row < 0:
            if n >= limit:
                break
            if bits > 0:
                hkeys[s] = key
            slots[s] = n
            keys[n] = key
            truth[n] = value
            stamp[n] = rnd
            delta[n_delta] = n
            n_delta += 1
            n += 1
        elif value > truth[row]:
            truth[row] = value
            if stamp[row] != rnd:
                stamp[row] = rnd
                delta[n_delta] = row
                n_delta += 1
        else:
            i += 1
            continue
        if use_top and value >= 1.0:
            top[key >> 3] |= np.uint8(1 << (key & 7))
        i += 1
    return n, n_delta, i


@numba.njit(**JIT)
def merge_top(top, keys, truth, stamp, n, cand_keys, start, rnd, delta, n_delta, limit):
    """``merge`` for candidates of truth 1 into a direct relation: the bitmap ``top`` alone
    says which atoms are present at truth 1, so new atoms are appended without touching
    the index (rebuilt by ``fill_slots`` when a row must be found)."""
    i = start
    while i < cand_keys.shape[0]:
        key = cand_keys[i]
        if (top[key >> 3] >> (key & 7)) & 1 == 0:
            if n >= limit:
                break
            top[key >> 3] |= np.uint8(1 << (key & 7))
            keys[n] = key
            truth[n] = 1.0
            stamp[n] = rnd
            delta[n_delta] = n
            n_delta += 1
            n += 1
        i += 1
    return n, n_delta, i


@numba.njit(**JIT)
def fill_slots(keys, start, n, slots):
    """The direct index of rows ``start..n``: ``slots[keys[row]] = row``."""
    for row in range(start, n):
        slots[keys[row]] = row


@numba.njit(**JIT)
def rehash(keys, n, hkeys, slots, bits):
    """Insert rows ``0..n`` into an empty hashed index."""
    for row in range(n):
        s = _find(hkeys, slots, bits, keys[row])
        hkeys[s] = keys[row]
        slots[s] = row


@numba.njit(**JIT)
def expand(lo, counts, total, order):
    """Join expansion: for probe ``i`` with matches ``order[lo[i] : lo[i] + counts[i]]``,
    one output row each: ``(probe index, matched row)``."""
    left = np.empty(total, dtype=np.int64)
    right = np.empty(total, dtype=np.int64)
    j = 0
    for i in range(lo.shape[0]):
        base = lo[i]
        for t in range(counts[i]):
            left[j] = i
            right[j] = order[base + t]
            j += 1
    return left, right


PJIT = dict(cache=True, nogil=True, parallel=True)
SERIAL_BELOW = 1 << 14  # rows below which a twin runs serially: waking threads costs more


class _Twin:
    """A kernel on all cores and its serial twin from one source (``prange`` is ``range``
    in the serial one); a call picks by the length of argument ``size_arg``. Semi-naive
    rounds over small deltas call these thousands of times."""

    def __init__(self, fn, size_arg):
        self.parallel = numba.njit(**PJIT)(fn)
        twin = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__ + "_serial")
        twin.__qualname__ = fn.__qualname__ + "_serial"  # its own Numba cache entry
        self.serial = numba.njit(**JIT)(twin)
        self.size_arg = size_arg
        self.__doc__ = fn.__doc__

    def __call__(self, *args):
        small = args[self.size_arg].shape[0] < SERIAL_BELOW
        return (self.serial if small else self.parallel)(*args)


def twin(size_arg=0):
    return lambda fn: _Twin(fn, size_arg)


@twin(0)
def csr_counts(probe, offsets, counts):
    """Matches per probe from a CSR index: ``offsets[s + 1] - offsets[s]``."""
    for i in numba.prange(probe.shape[0]):
        s = probe[i]
        counts[i] = offsets[s + 1] - offsets[s]


@twin(4)
def csr_expand(probe, offsets, order, starts, left, right):
    """Join expansion from a CSR index: probe ``i`` fills ``starts[i]..`` with its rows."""
    for i in numba.prange(probe.shape[0]):
        s = probe[i]
        base = offsets[s]
        j = starts[i]
        for t in range(offsets[s + 1] - base):
            left[j + t] = i
            right[j + t] = order[base + t]


@twin(0)
def scan_counts(probe, slots, width, counts):
    """Present atoms per probe in a direct index: ``slots[k] >= 0`` for ``k`` in
    ``[probe * width, (probe + 1) * width)``."""
    for i in numba.prange(probe.shape[0]):
        base = probe[i] * width
        c = 0
        for k in range(base, base + width):
            if slots[k] >= 0:
                c += 1
        counts[i] = c


@twin(0)
def scan_expand(probe, slots, width, starts, left, right):
    """The rows ``scan_counts`` counted: probe ``i`` fills ``starts[i]..`` in key order."""
    for i in numba.prange(probe.shape[0]):
        base = probe[i] * width
        j = starts[i]
        for k in range(base, base + width):
            row = slots[k]
            if row >= 0:
                left[j] = i
                right[j] = row
                j += 1


@numba.njit(**PJIT)
def gather(values, index, out):
    """``out = values[index]`` on all cores."""
    for i in numba.prange(index.shape[0]):
        out[i] = values[index[i]]


@numba.njit(**JIT)
def _divide(k, d, inv):
    """``k // d`` for ``0 <= k < 2^52`` by a float reciprocal and one correction (exact, and
    several times faster than an integer division)."""
    q = np.int64(np.float64(k) * inv)
    r = k - q * d
    if r < 0:
        q -= 1
    elif r >= d:
        q += 1
    return q


@twin(1)
def decode(keys, index, stride, size, out):
    """Argument index ``(keys[index[i]] // stride) % size`` of each matched row."""
    inv_stride = 1.0 / stride
    inv_size = 1.0 / size
    for i in numba.prange(index.shape[0]):
        k = keys[index[i]]
        if k < (np.int64(1) << 52):
            q = _divide(k, stride, inv_stride) if stride > 1 else k
            out[i] = q - _divide(q, size, inv_size) * size
        else:
            out[i] = (k // stride) % size


@numba.njit(**PJIT)
def and_gather(left_truth, left, right_truth, right, op, out):
    """``out[i] = and(left_truth[left[i]], right_truth[right[i]])``; op 0: min, 1: product,
    2: Lukasiewicz."""
    for i in numba.prange(left.shape[0]):
        a = left_truth[left[i]]
        b = right_truth[right[i]]
        if op == 0:
            out[i] = a if a < b else b
        elif op == 1:
            out[i] = a * b
        else:
            v = a + b - 1.0
            out[i] = v if v > 0.0 else 0.0


@numba.njit(**JIT)
def set_bits(top, keys, rows):
    """Set the bitmap bit of the atom at each of ``rows``."""
    for i in range(rows.shape[0]):
        key = np.int64(keys[rows[i]])
        top[key >> 3] |= np.uint8(1 << (key & 7))


@numba.njit(**JIT)
def split_by_truth(rows, truth, floor, high, low):
    """Rows whose truth is >= ``floor`` into ``high``, the others into ``low``; returns the
    two counts."""
    nh = 0
    nl = 0
    for i in range(rows.shape[0]):
        r = rows[i]
        if truth[r] >= floor:
            high[nh] = r
            nh += 1
        else:
            low[nl] = r
            nl += 1
    return nh, nl


@numba.njit(**JIT)
def split_levels(rows, truth, floors, level, high, low, low_level):
    """Rows with truth >= ``floors[level]`` into ``high``; the others into ``low`` sorted by
    their own level (``floors`` descend; level k holds truths in [floors[k], floors[k-1])),
    with ``low_level`` their levels. Returns the two counts."""
    nh = 0
    nl = 0
    levels = np.empty(rows.shape[0], np.int64)
    for i in range(rows.shape[0]):
        t = truth[rows[i]]
        if t >= floors[level]:
            high[nh] = rows[i]
            nh += 1
        else:
            k = level + 1
            while floors[k] > t:
                k += 1
            levels[nl] = k
            low[nl] = rows[i]
            nl += 1
    counts = np.zeros(floors.shape[0] + 1, np.int64)  # counting sort by level
    for i in range(nl):
        counts[levels[i] + 1] += 1
    for k in range(1, counts.shape[0]):
        counts[k] += counts[k - 1]
    tmp = low[:nl].copy()
    for i in range(nl):
        k = levels[i]
        low[counts[k]] = tmp[i]
        low_level[counts[k]] = k
        counts[k] += 1
    return nh, nl

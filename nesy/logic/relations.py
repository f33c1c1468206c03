"""Sparse relations: the atoms of one predicate with nonzero truth, as keys and truths.

An atom ``P(c_1, ..., c_k)`` over domains of sizes ``n_1 ... n_k`` has the key
``((c_1 n_2 + c_2) n_3 + ...) n_k + c_k`` (mixed radix of its argument indices), so a
relation is two aligned arrays, ``keys`` (int64) and ``truth`` (float64), plus an index from
key to row (``relation_kernels``). Memory grows with the number of atoms, not with the
``n_1 ... n_k`` groundings; the index is a direct table while the key space is at most
``DIRECT_LIMIT`` slots (4 bytes each), a hash table otherwise.

Joins probe a relation on some of its argument positions: ``probe_index(positions)`` groups
the rows by the sub-key of those positions once per version of the relation (CSR buckets, or
sorted for binary search), and ``matches`` finds, for each probe, the rows with that sub-key;
a relation that grows every round is probed on leading positions by scanning their key range
in the direct index instead (``_scan_width``).

>>> r = Relation((3, 3))
>>> r.merge(r.encode([np.array([0, 1]), np.array([1, 2])]), np.array([1.0, 0.5]))
2
>>> r.truth_of(r.encode([np.array([1, 0]), np.array([2, 0])])).tolist()
[0.5, 0.0]
"""

from __future__ import annotations

import math

import numpy as np

DIRECT_LIMIT = 1 << 31  # key spaces up to 2^31 slots use a direct index (<= 8 GiB int32)
MAX_KEY_SPACE = 1 << 62
SCAN_FACTOR = 4  # scan key ranges while that reads at most 4 slots per current atom
SLOTS_PER_ATOM = 32  # ... and build a direct index for it up to 32 slots per atom


class Relation:
    """The atoms of one predicate with nonzero truth; see the module docstring."""

    def __init__(self, sizes, capacity=16, dtype="float64"):
        from . import relation_kernels as K

        self.K = K
        self.sizes = tuple(int(s) for s in sizes)
        space = math.prod(self.sizes)
        if space > MAX_KEY_SPACE:
            raise ValueError(f"a relation over domains of sizes {self.sizes} has more than "
                             "2^62 possible atoms, too many for the sparse engine's keys")
        self.space = space
        self.strides = tuple(math.prod(self.sizes[i + 1:]) for i in range(len(self.sizes)))
        capacity = max(16, int(capacity))
        # keys fit int32 while the key space does (half the memory of int64)
        self.keys = np.empty(capacity, dtype=np.int32 if space < 1 << 31 else np.int64)
        self.truth = np.empty(capacity, dtype=dtype)
        self.stamp = np.zeros(capacity, dtype=np.int32)
        self.n = 0
        self._indexed = 0  # rows in the direct index so far
        self.all_top = True  # every atom has truth 1 (so far)
        self.version = 0
        self.dense = None  # the dense table, once ``ground_program.dense_table`` built it
        self.round = 1
        self._probes = {}
        self._sorted = None  # (version, sorted order, sorted keys) for ``rows_of``
        if space <= DIRECT_LIMIT:
            self.bits = 0
            self.hkeys = np.empty(1, dtype=np.int64)
            self.slots = None  # built when first needed (``_index``): crisp merges skip it
            self.top = np.zeros((space + 7) // 8, dtype=np.uint8)  # truth-1 atoms, a bit each
        else:
            self.top = np.zeros(0, dtype=np.uint8)
            self._new_hash(capacity)

    # --- keys ------------------------------------------------------------------------------

    def encode(self, columns):
        """Keys of atoms given one index array per argument."""
        key = np.zeros(len(columns[0]) if columns else 1, dtype=np.int64)
        for col, stride in zip(columns, self.strides):
            key += np.asarray(col, dtype=np.int64) * stride
        return key

    def decode(self, keys, position):
        """Argument ``position``'s index for each key."""
        return (keys // self.strides[position]) % self.sizes[position]

    def __len__(self):
        return self.n

    @property
    def current_keys(self):
        return self.keys[: self.n]

    @property
    def current_truth(self):
        return self.truth[: self.n]

    # --- index ----------------------------------------------------------------------------

    def _new_hash(self, capacity):
        self.bits = max(4, int(math.ceil(math.log2(2 * capacity))))
        self.hkeys = np.full(1 << self.bits, -1, dtype=np.int64)
        self.slots = np.full(1 << self.bits, -1, dtype=np.int32)
        self.K.rehash(self.keys, getattr(self, "n", 0), self.hkeys, self.slots, self.bits)

    def _index(self):
        """The key -> row index, up to date (a direct one is filled on first use)."""
        if self.bits == 0 and self.slots is None:
            self.slots = np.full(max(self.space, 1), -1, dtype=np.int32)
            self.K.fill_slots(self.keys, 0, self.n, self.slots)
            self._indexed = self.n
        elif self.bits == 0 and self._indexed < self.n:  # rows appended by ``merge_top``
            self.K.fill_slots(self.keys, self._indexed, self.n, self.slots)
            self._indexed = self.n
        return self.slots

    def rows_of(self, keys):
        """The row of each key, -1 where the atom is absent. A direct index mostly empty
        and not built yet is not built for this: the keys are found by binary search in
        the sorted keys instead (kept per version)."""
        keys = np.ascontiguousarray(keys, np.int64)
        if self.bits == 0 and self.slots is None and self.space > SLOTS_PER_ATOM * self.n:
            order, ordered = self._sorted_keys()
            at = np.minimum(np.searchsorted(ordered, keys), max(len(ordered) - 1, 0))
            if not len(ordered):
                return np.full(len(keys), -1, dtype=np.int64)
            return np.where(ordered[at] == keys, order[at], -1)
        out = np.empty(len(keys), dtype=np.int64)
        self.K.lookup(self.hkeys, self._index(), self.bits, keys, out)
        return out

    def _sorted_keys(self):
        cached = self._sorted
        if cached is None or cached[0] != (self.version, self.n):
            order = np.argsort(self.current_keys, kind="stable")
            cached = self._sorted = ((self.version, self.n), order,
                                     self.current_keys[order].astype(np.int64))
        return cached[1], cached[2]

    def truth_of(self, keys):
        """The truth of each atom (0 where absent)."""
        rows = self.rows_of(keys)
        return np.where(rows >= 0, self.truth[np.maximum(rows, 0)], 0).astype(self.truth.dtype)

    # --- updates --------------------------------------------------------------------------

    def _grow(self, need):
        grow = len(self.keys) if len(self.keys) < 1 << 26 else len(self.keys) // 2
        capacity = max(len(self.keys) + grow, need)  # 2x, then 1.5x: less slack when large
        for name in ("keys", "truth", "stamp"):
            old = getattr(self, name)
            new = np.zeros(capacity, dtype=old.dtype) if name == "stamp" else np.empty(
                capacity, dtype=old.dtype)
            new[: self.n] = old[: self.n]
            setattr(self, name, new)

    def set_truth(self, values):
        """Overwrite the truths of all rows (the bitmap of truth-1 atoms follows)."""
        self.truth[: self.n] = values
        self.dense = None
        self.all_top = bool((self.current_truth >= 1.0).all())
        if len(self.top):
            self.top[:] = 0
            k = self.current_keys[self.current_truth >= 1.0]
            np.bitwise_or.at(self.top, k >> 3, (1 << (k & 7)).astype(np.uint8))
        self.version += 1

    def mark_final(self, rows):
        """No candidate can raise these rows any more: ``merge`` skips them after one look
        into the bitmap (a direct index only)."""
        if len(self.top) and len(rows):
            self.K.set_bits(self.top, self.keys, np.ascontiguousarray(rows, np.int64))

    def split(self, rows, floor):
        """``(rows with truth >= floor, the others)``."""
        rows = np.ascontiguousarray(rows, np.int64)
        high = np.empty(len(rows), np.int64)
        low = np.empty(len(rows), np.int64)
        nh, nl = self.K.split_by_truth(rows, self.truth, self.truth.dtype.type(floor), high,
                                       low)
        return high[:nh], low[:nl]

    def begin_round(self):
        """Start a semi-naive round: a row changed by several merges of one round is listed
        in the ``delta`` of the first of them only."""
        self.round += 1

    def merge(self, keys, truth):
        """Add atoms, or raise existing truths to ``max(old, new)``; zero truths are
        dropped. Returns the number of rows that changed; ``delta`` holds them."""
        ones = truth.ndim == 1 and truth.strides == (0,) and len(truth) > 1 and truth[0] == 1
        if not ones:  # (a broadcast 1: every candidate is crisp, nothing to filter)
            keep = truth > 0
            if not keep.all():
                keys, truth = keys[keep], truth[keep]
            truth = np.ascontiguousarray(truth, dtype=self.truth.dtype)  # compared as stored
        keys = np.ascontiguousarray(keys, dtype=np.int64)
        delta = np.empty(len(keys), dtype=np.int64)
        n_delta, start = 0, 0
        crisp = bool(ones) or bool((truth >= 1.0).all())
        if ones and not (self.bits == 0 and self.all_top):
            truth = np.ones(len(keys), dtype=self.truth.dtype)  # the general merge reads it
        top_only = self.bits == 0 and self.all_top and crisp  # the bitmap says it all
        while True:
            limit = len(self.keys)
            if self.bits:
                limit = min(limit, (1 << self.bits) // 2)  # load factor <= 1/2
            if top_only:
                self.n, n_delta, start = self.K.merge_top(
                    self.top, self.keys, self.truth, self.stamp, self.n, keys, start,
                    self.round, delta, n_delta, limit)
            else:
                self.n, n_delta, start = self.K.merge(
                    self.hkeys, self._index(), self.bits, self.top, self.keys, self.truth,
                    self.stamp, self.n, keys, truth, start, self.round, delta, n_delta, limit)
                if self.bits == 0:
                    self._indexed = self.n
                self.all_top = self.all_top and crisp
            if start >= len(keys):
                break
            if self.n >= len(self.keys):
                self._grow(self.n + min(len(keys) - start, self.n + 16))
            if self.bits and self.n >= (1 << self.bits) // 2:
                self._new_hash(2 * self.n)
        self.delta = delta[:n_delta]
        if n_delta:
            self.version += 1
            self.dense = None
        return n_delta

    def copy(self):
        """An independent relation with the same atoms."""
        import copy

        new = copy.copy(self)
        for name in ("keys", "truth", "stamp", "hkeys", "slots", "top"):
            value = getattr(self, name)
            setattr(new, name, None if value is None else value.copy())
        new._probes = {}
        new._sorted = None
        new.dense = None
        return new

    def indicator(self):
        """A view with every present atom at truth 1 (keys and index shared: read only)."""
        import copy

        new = copy.copy(self)
        new.truth = (self.truth > 0).astype(np.float64)
        new.all_top = True
        new.dense = None
        return new

    # --- joins ----------------------------------------------------------------------------

    def sub_key(self, columns, positions):
        """Mixed-radix key of the given argument positions (one column each)."""
        key = np.zeros(len(columns[0]) if columns else 0, dtype=np.int64)
        for col, pos in zip(columns, positions):
            key = key * self.sizes[pos] + col
        return key

    def probe_index(self, positions):
        """The current rows grouped by their sub-key on ``positions`` (cached per version):
        ``("csr", offsets, order)`` when the sub-key space is small, else ``("sorted",
        order, sorted sub-keys)``."""
        cached = self._probes.get(positions)
        if cached is not None and cached[0] == (self.version, self.n):
            return cached[1]
        keys = self.current_keys
        sub = self.sub_key([self.decode(keys, p) for p in positions], positions)
        order = np.argsort(sub, kind="stable")
        space = math.prod(self.sizes[p] for p in positions)
        if space <= max(4 * self.n, 1 << 16):
            offsets = np.zeros(space + 1, dtype=np.int64)
            np.cumsum(np.bincount(sub, minlength=space), out=offsets[1:])
            index = ("csr", offsets, order)
        else:
            index = ("sorted", order, sub[order])
        self._probes[positions] = ((self.version, self.n), index)
        return index

    def matches(self, positions, probe):
        """For sub-keys ``probe`` on ``positions``: ``(probe index, row)`` of every match."""
        probe = np.ascontiguousarray(probe, dtype=np.int64)
        width = self._scan_width(positions, len(probe))
        if width:
            return self._scan_matches(probe, width)
        kind, a, b = self.probe_index(positions)
        if kind == "csr":
            counts = np.empty(len(probe), dtype=np.int64)
            self.K.csr_counts(probe, a, counts)
            lo, order = a, b
        else:
            lo = np.searchsorted(b, probe, side="left")
            counts = np.searchsorted(b, probe, side="right") - lo
            order = a
        starts, left, right = _expansion(counts)
        if kind == "csr":
            self.K.csr_expand(probe, lo, order, starts, left, right)
        else:
            left, right = self.K.expand(lo, counts, len(left), order)
        return left, right

    def _scan_width(self, positions, probes):
        """Keys per probe when probing leading ``positions`` is cheaper by scanning their key
        range in the direct index than by (re)building a probe index; else 0. The range of
        sub-key ``s`` on positions ``0..j-1`` is ``[s w, (s + 1) w)`` with ``w`` the stride
        of position ``j - 1``: scanning it costs ``w`` per probe, against ``n log n`` for a
        new index of a relation that grew since its last one (each semi-naive round)."""
        if self.bits or not positions or positions != tuple(range(len(positions))):
            return 0
        width = self.strides[len(positions) - 1]
        cached = self._probes.get(positions)
        if cached is not None and cached[0] == (self.version, self.n):
            return 0  # an index is ready
        if self.slots is None and self.space > SLOTS_PER_ATOM * self.n:
            return 0  # the direct index would be mostly empty: not worth building for this
        return width if probes * width <= SCAN_FACTOR * self.n else 0

    def _scan_matches(self, probe, width):
        slots = self._index()
        counts = np.empty(len(probe), dtype=np.int64)
        self.K.scan_counts(probe, slots, width, counts)
        starts, left, right = _expansion(counts)
        self.K.scan_expand(probe, slots, width, starts, left, right)
        return left, right

    def decode_rows(self, rows, position):
        """Argument ``position``'s index of the atoms at ``rows`` (all cores)."""
        out = np.empty(len(rows), dtype=np.int64)
        self.K.decode(self.keys, np.ascontiguousarray(rows, np.int64),
                      self.strides[position], self.sizes[position], out)
        return out

    def rows(self):
        """``(n, arity)`` argument indices of the current atoms."""
        keys = self.current_keys
        if not self.sizes:
            return np.zeros((len(keys), 0), dtype=np.int64)
        return np.stack([self.decode(keys, p) for p in range(len(self.sizes))], axis=1)

    def to_dense(self):
        """The full truth table (only for small key spaces)."""
        table = np.zeros(self.space, dtype=np.float64)
        table[self.current_keys] = self.current_truth
        return table.reshape(self.sizes)

    @classmethod
    def from_dense(cls, table, dtype="float64"):
        """A relation of the nonzero entries of a dense table."""
        table = np.asarray(table)
        flat = table.reshape(-1)
        keys = np.flatnonzero(flat > 0)
        rel = cls(table.shape, capacity=len(keys), dtype=dtype)
        rel.merge(keys.astype(np.int64), flat[keys])
        return rel


def _expansion(counts):
    """``(starts, left, right)`` for a join expansion: where each probe's matches begin, and
    the (probe, row) output arrays, one entry per match."""
    starts = np.zeros(len(counts), dtype=np.int64)
    if len(counts) > 1:
        np.cumsum(counts[:-1], out=starts[1:])
    total = int(starts[-1] + counts[-1]) if len(counts) else 0
    return starts, np.empty(total, dtype=np.int64), np.empty(total, dtype=np.int64)

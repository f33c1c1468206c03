"""Reading feature tables named in rule files: ``.npy`` and ``.csv`` (never pickles).

A CSV may have a header row (detected: a non-numeric cell in the first row) and a first
column of individual names (detected: non-numeric cells in the first column); the names let
rows come in any order.
"""

from __future__ import annotations

import csv

import numpy as np


def load_table(path):
    """(2-D float array, individual names or None) from a ``.npy`` or ``.csv`` file."""
    if path.endswith(".npy"):
        table = np.load(path, allow_pickle=False)
        if table.ndim == 1:
            table = table.reshape(-1, 1)
        if table.ndim != 2:
            raise ValueError(f"expected a 2-D array, got shape {table.shape}")
        return table.astype(np.float64), None
    if not path.endswith(".csv"):
        raise ValueError("feature tables are .npy or .csv files")
    with open(path, newline="", encoding="utf-8") as f:
        rows = [r for r in csv.reader(f) if r and any(c.strip() for c in r)]
    if not rows:
        raise ValueError("the file is empty")
    if not all(_is_number(c) for c in rows[0][1:]) or (
        not _is_number(rows[0][0])
        and len(rows) > 1
        and _is_number(rows[1][0])
        and not all(_is_number(c) for c in rows[0])
    ):
        rows = rows[1:]  # a header
    names = None
    if rows and not all(_is_number(r[0]) for r in rows):
        names = [r[0].strip() for r in rows]
        rows = [r[1:] for r in rows]
    try:
        table = np.asarray([[float(c) for c in r] for r in rows], dtype=np.float64)
    except ValueError as exc:
        raise ValueError(f"non-numeric feature value: {exc}") from None
    return table, names


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def load_facts(path, arity):
    """Facts from a ``.csv`` file, one per row: ``arity`` individual names, then an optional
    degree (default 1). A header row is recognised by a last cell named ``degree``/``truth``
    or by a row count mismatch only if it is the first row."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = [[c.strip() for c in r] for r in csv.reader(f) if r and any(c.strip() for c in r)]
    if rows and rows[0] and rows[0][-1].lower() in ("degree", "truth"):
        rows = rows[1:]
    facts = []
    for number, row in enumerate(rows, 1):
        if len(row) not in (arity, arity + 1):
            raise ValueError(
                f"row {number} has {len(row)} cells, expected {arity} names and an optional degree"
            )
        degree = 1.0
        if len(row) == arity + 1:
            if not _is_number(row[-1]):
                raise ValueError(f"row {number}: degree {row[-1]!r} is not a number")
            degree = float(row[-1])
            if not 0.0 <= degree <= 1.0:
                raise ValueError(f"row {number}: degree {degree:g} is outside [0, 1]")
        facts.append((tuple(row[:arity]), degree))
    return facts

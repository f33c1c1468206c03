"""``RESULTS.partial``: the journal of finished rows that makes a run resumable.

Why: a run can be killed at any case; each row is flushed as it comes, with its case's digest,
so ``resume`` skips only cases whose text is unchanged, and ``RESULTS`` is written once,
complete and in input order, in one atomic rename.
"""

from __future__ import annotations

import json


class Journal:
    """``RESULTS.partial``: a header line, then ``{"i": index, "h": case digest, "row": ...}``
    per finished case, flushed as it comes, so an interrupted run keeps its rows."""

    def __init__(self, path, fingerprint):
        self.path, self.fingerprint = path, fingerprint
        self.entries = {}  # index -> (byte offset, case digest); the last entry wins
        self.file = None

    def create(self):
        try:
            self.file = open(self.path, "wb")
        except OSError as e:
            raise OSError(f"cannot write {self.path}: {e.strerror or e}") from None
        self._write(json.dumps({"nesy_eval": 1, "fingerprint": self.fingerprint}))

    def reopen(self):
        """Continue an existing journal: check it belongs to this run, drop a torn last line."""
        with open(self.path, "rb") as f:
            data = f.read()
        end = data.rfind(b"\n") + 1  # a line cut off by a kill is dropped
        lines = data[:end].split(b"\n")[:-1]
        try:
            header = json.loads(lines[0]) if lines else {}
        except ValueError:
            header = {}
        if header.get("fingerprint") != self.fingerprint:
            raise ValueError(f"{self.path} comes from a run with other rules, data files, "
                             "checkpoint, --query or --seed; delete it or run without "
                             "--resume")
        offset = len(lines[0]) + 1
        for number, line in enumerate(lines[1:], 2):
            try:
                entry = json.loads(line)
                self.entries[entry["i"]] = (offset, entry["h"])
            except (ValueError, KeyError, TypeError):
                raise ValueError(f"{self.path}:{number}: corrupt journal line; delete the "
                                 "file or run without --resume") from None
            offset += len(line) + 1
        self.file = open(self.path, "r+b")
        self.file.truncate(end)
        self.file.seek(end)

    def add(self, index, digest, row):
        self.entries[index] = (self.file.tell(), digest)
        self._write(json.dumps({"i": index, "h": digest, "row": row}, ensure_ascii=False))

    def _write(self, text):
        self.file.write(text.encode() + b"\n")
        self.file.flush()

    def rows(self, indices):
        """The journaled rows of ``indices``, in that order."""
        with open(self.path, "rb") as f:
            for index in indices:
                f.seek(self.entries[index][0])
                yield json.loads(f.readline())["row"]

    def close(self):
        if self.file is not None:
            self.file.close()

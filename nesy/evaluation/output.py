"""The results file ``RESULTS``: a row as a JSONL line or a CSV record, and read back to resume.

Why apart: the file format is what users see and parse; the journal and the run stay free of
it, and resuming from a complete ``RESULTS`` reads it back through the same columns.
"""

from __future__ import annotations

import csv
import io
import json
import os


class Output:
    """One results file: ``.jsonl`` (a row object a line) or ``.csv`` (columns ``id,
    satisfaction, rule:NAME..., query:NAME...``; open queries as JSON text in their cell)."""

    def __init__(self, path, template):
        self.path = os.fspath(path)
        self.format = os.path.splitext(self.path)[1].lower().lstrip(".")
        if self.format not in ("jsonl", "csv"):
            raise ValueError(f"cannot write {self.path}: RESULTS must end in .jsonl or .csv")
        self.rules, self.queries = template.rule_columns, template.query_names
        self.header = (["id", "satisfaction"] + [f"rule:{r}" for r in self.rules]
                       + [f"query:{q}" for q in self.queries])

    def start(self):
        return self._csv(self.header) if self.format == "csv" else ""

    def line(self, row):
        if self.format == "jsonl":
            return json.dumps(row, ensure_ascii=False) + "\n"
        rules, queries = row["rules"], row["queries"]
        return self._csv([row["id"], row["satisfaction"]]
                         + [_cell(rules[r]) if r in rules else "" for r in self.rules]
                         + [_cell(queries[q]) for q in self.queries])

    @staticmethod
    def _csv(cells):
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerow(cells)
        return buffer.getvalue()

    def read(self):
        """The rows of an existing results file (to resume from), ``ValueError`` if it is
        not one this run would write."""
        with open(self.path, encoding="utf-8", newline="") as f:
            if self.format == "jsonl":
                try:
                    rows = [json.loads(line) for line in f if line.strip()]
                except ValueError:
                    rows = [None]
                if not all(isinstance(r, dict) and {"id", "rules", "queries"} <= set(r)
                           for r in rows):
                    raise ValueError(f"{self.path} is not a results file of nesy eval; "
                                     "run without --resume")
                return rows
            records = list(csv.reader(f))
        if not records or records[0] != self.header:
            raise ValueError(f"{self.path} has other columns than this run writes "
                             "(other rules or --query?); run without --resume")
        n = len(self.rules)
        return [{"id": r[0], "satisfaction": float(r[1]) if r[1] else None,
                 "rules": {k: float(v) for k, v in zip(self.rules, r[2:2 + n]) if v != ""},
                 "queries": {k: json.loads(v) for k, v in zip(self.queries, r[2 + n:])}}
                for r in records[1:]]


def _cell(value):
    return value if isinstance(value, float) else json.dumps(value)

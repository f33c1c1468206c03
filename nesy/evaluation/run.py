""":class:`Run`: one evaluation of a case file into ``RESULTS``, in process or on Dask.

Why: the driver holds all the state of one run (what is done, what to skip, counts, progress)
and the order of its steps (journal, chunks, ``RESULTS``, cleanup), so that the template, the
worker and the file formats hold none.
"""

from __future__ import annotations

import os
from collections import deque
from dataclasses import dataclass, field

from .cases import CaseError, count_cases, iter_cases, parse_case
from .evaluate import evaluate_chunk
from .journal import Journal
from .output import Output


class CaseFailed(ValueError):
    """A case failed under ``strict=True``."""


@dataclass
class Summary:
    """What a run did: case counts, satisfaction statistics and each rule's mean truth."""

    ok: int = 0
    failed: int = 0
    reused: int = 0
    satisfaction: list = field(default_factory=list)
    rule_sums: dict = field(default_factory=dict)  # name -> [sum, count]

    def add(self, row):
        self.ok += 1
        if row["satisfaction"] is not None:
            self.satisfaction.append(row["satisfaction"])
        for name, value in row["rules"].items():
            total = self.rule_sums.setdefault(name, [0.0, 0])
            total[0] += value
            total[1] += 1

    @property
    def rule_means(self):
        return {name: s / n for name, (s, n) in self.rule_sums.items()}


class Run:
    """One evaluation of ``cases`` into ``out``: journal first, then ``out`` in one rename.

    ``on_error(CaseError)`` and ``on_progress(done, total, satisfaction)`` report as it goes;
    ``scheduler`` (a ``nesy.distributed`` spec) runs the chunks on a Dask cluster."""

    def __init__(self, template, cases, out, resume=False, strict=False, chunk_size=64,
                 scheduler=None, on_error=None, on_progress=None):
        self.template, self.cases, self.strict = template, cases, strict
        self.output = Output(out, template)
        self.resume, self.chunk_size, self.scheduler = resume, chunk_size, scheduler
        self.on_error = on_error or (lambda error: None)
        self.on_progress = on_progress or (lambda done, total, sat: None)
        self.journal = Journal(self.output.path + ".partial", template.fingerprint)
        self.summary = Summary()
        self.ok, self.digests, self.prior = set(), {}, {}
        self.total = self.done = self.sat_count = 0
        self.sat_sum = 0.0

    def run(self):
        """Evaluate, write ``out``, remove the journal; the :class:`Summary`."""
        self.total = count_cases(self.cases)
        self._open_journal()
        try:
            todo = self._todo()
            if self.scheduler is None:
                chunk = []
                for item in todo:
                    chunk.append(item)
                    if len(chunk) >= self.chunk_size:
                        self._take(evaluate_chunk(self.template, chunk))
                        chunk = []
                self._take(evaluate_chunk(self.template, chunk))
            else:
                from nesy.distributed import run_chunks
                items = list(todo)
                chunks = [items[i:i + self.chunk_size]
                          for i in range(0, len(items), self.chunk_size)]
                run_chunks(self.scheduler, evaluate_chunk, self.template, chunks,
                           lambda n, results: self._take(results))
        finally:
            self.journal.close()
        self._write_out()
        os.unlink(self.journal.path)
        return self.summary

    def _open_journal(self):
        if self.resume and os.path.exists(self.journal.path):
            self.journal.reopen()
            return
        if self.resume and os.path.exists(self.output.path):
            for row in self.output.read():
                self.prior.setdefault(str(row["id"]), deque()).append(row)
        self.journal.create()

    def _todo(self):
        """``(index, source)`` of each case still to evaluate; journaled ones are skipped."""
        for index, source in iter_cases(self.cases):
            digest = source.digest()
            entry = self.journal.entries.get(index)
            if entry is not None and entry[1] == digest:
                self._count(index, None)
                continue
            row = self._prior_row(source)
            if row is not None:
                self.journal.add(index, digest, row)
                self._count(index, None)
                continue
            self.digests[index] = digest
            yield index, source

    def _prior_row(self, source):
        if not self.prior:
            return None
        try:
            key = str(parse_case(source).id)
        except ValueError:
            return None
        rows = self.prior.get(key)
        return rows.popleft() if rows else None

    def _take(self, results):
        for index, result in results:
            digest = self.digests.pop(index)
            if isinstance(result, CaseError):
                self.summary.failed += 1
                self.on_error(result)
                if self.strict:
                    raise CaseFailed(str(result))
                self.done += 1
                continue
            self.journal.add(index, digest, result)
            self._count(index, result)

    def _count(self, index, row):
        self.ok.add(index)
        self.done += 1
        if row is None:
            self.summary.reused += 1
        elif row["satisfaction"] is not None:
            self.sat_sum += row["satisfaction"]
            self.sat_count += 1
        mean = self.sat_sum / self.sat_count if self.sat_count else None
        self.on_progress(self.done, self.total, mean)
        _test_signal(self.done)

    def _write_out(self):
        from nesy.atomic import atomic_write

        with atomic_write(self.output.path, newline="") as f:
            f.write(self.output.start())
            for row in self.journal.rows(sorted(self.ok)):
                self.summary.add(row)
                f.write(self.output.line(row))


def _test_signal(done):
    """Tests interrupt a run for real: ``NESY_EVAL_TEST_SIGNAL=N:SIGTERM`` sends that
    signal to this process once N cases are done."""
    spec = os.environ.get("NESY_EVAL_TEST_SIGNAL")
    if spec and int(spec.split(":")[0]) == done:
        import signal

        os.kill(os.getpid(), getattr(signal, spec.split(":")[1]))

"""Evaluate one rule file on many cases: the engine behind ``nesy eval``.

A *case* is one set of facts (and features, truth tables, function values) for the same
rules; its facts add to the rule file's own. Cases come from a JSONL file (one JSON object a
line) or a folder of ``*.json`` / ``*.nesy`` files, taken in sorted name order::

    {"id": "c1", "facts": "Smokes(a). 0.7 :: Friends(a, b).", "features": {"Person": [[...]]},
     "truths": {"Knows": [[...]]}, "functions": {"age": [...]}}

Each case gives one row: ``{"id", "satisfaction", "rules": {name: truth},
"queries": {name: truth or nested list}}``, written as JSONL or CSV.

Speed comes from a :class:`Template`, built once (rules parsed and checked, parameters
loaded, every rule and query evaluated on the rule file's own facts): a case works on a
cheap copy of the template's knowledge base (:func:`fork`) and re-evaluates only the rules
and queries that depend on what the case changes. :func:`evaluate_chunk` is the pure,
picklable worker that ``nesy.distributed`` runs on a Dask cluster.

Results go to ``RESULTS.partial`` as they come (a journal, one line per finished case) and
then, in input order, to ``RESULTS`` in one atomic rename; ``resume=True`` skips the cases the
journal (or an earlier complete ``RESULTS``) already holds.

The modules, one job each:

- :mod:`.cases`: reading cases (JSONL, folder) and parsing one into a :class:`Case`;
- :mod:`.template`: the :class:`Template`, built once, and ``read_checkpoint``;
- :mod:`.kb_copy`: :func:`fork`, the cheap per-case copy of the template's knowledge base;
- :mod:`.dependencies`: what each rule and query reads, to know what a case changes;
- :mod:`.evaluate`: one case's row, and :func:`evaluate_chunk`, the Dask worker;
- :mod:`.output`: the ``RESULTS`` file, JSONL or CSV;
- :mod:`.journal`: ``RESULTS.partial``, the journal that makes a run resumable;
- :mod:`.run`: :class:`Run`, the driver of one run, and its :class:`Summary`.

>>> from nesy import evaluation as ev
>>> template = ev.Template.load("rules/smokers.nesy")  # doctest: +SKIP
>>> case = ev.CaseSource('{"id": "b", "facts": "Smokes(b)."}', "json", "cases.jsonl:1", 1)
>>> [(i, row["id"], row["satisfaction"]) for i, row in ev.evaluate_chunk(template, [(0, case)])]
... # doctest: +SKIP
[(0, 'b', 0.5702721)]
"""

from __future__ import annotations

from .cases import CASE_KEYS, Case, CaseError, CaseSource, count_cases, iter_cases, parse_case
from .evaluate import apply_case, evaluate_case, evaluate_chunk
from .journal import Journal
from .kb_copy import fork
from .output import Output
from .run import CaseFailed, Run, Summary
from .template import STRATEGIES, CheckpointMismatch, Template, UnknownQuery, read_checkpoint

__all__ = [
    "CASE_KEYS", "STRATEGIES",
    "Case", "CaseError", "CaseFailed", "CaseSource", "CheckpointMismatch", "Journal", "Output",
    "Run", "Summary", "Template", "UnknownQuery",
    "apply_case", "count_cases", "evaluate_case", "evaluate_chunk", "fork", "iter_cases",
    "parse_case", "read_checkpoint",
]

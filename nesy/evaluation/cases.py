"""Cases: reading them from a JSONL file or a case folder, and parsing one into a :class:`Case`.

Why apart: reading yields plain text (a :class:`CaseSource` pickles cheaply to a worker);
parsing and checking happen where the case is evaluated, so a malformed case fails alone, with
its place (``cases.jsonl:12``), not the whole run. The case format is in :mod:`nesy.evaluation`.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field

CASE_KEYS = ("id", "facts", "features", "truths", "functions")


@dataclass(frozen=True)
class CaseSource:
    """One raw case, plain data (picklable): ``kind`` is ``"json"`` or ``"nesy"``, ``where``
    names it in messages (``cases.jsonl:12``, ``cases/c3.json``)."""

    text: str
    kind: str
    where: str
    default_id: object

    def digest(self):
        return hashlib.blake2b(self.text.encode(), digest_size=8).hexdigest()


@dataclass(frozen=True)
class CaseError:
    """Why one case could not be evaluated."""

    where: str
    reason: str

    def __str__(self):
        return f"{self.where}: error: {self.reason}"


@dataclass
class Case:
    id: object
    facts: list = field(default_factory=list)  # (predicate, names, degree, where)
    features: dict = field(default_factory=dict)
    truths: dict = field(default_factory=dict)
    functions: dict = field(default_factory=dict)


def iter_cases(path):
    """``(index, CaseSource)`` for every case of a JSONL file or a case folder, in order."""
    if os.path.isdir(path):
        for i, name in enumerate(_case_files(path)):
            where = os.path.join(path, name)
            kind = "nesy" if name.endswith(".nesy") else "json"
            try:
                with open(where, "rb") as f:
                    text = _decode(f.read())
            except OSError as e:
                text, kind = e.strerror or str(e), "unreadable"
            yield i, CaseSource(text, kind, where, name)
        return
    with open(path, "rb") as f:
        index = 0
        for number, line in enumerate(f, 1):
            if line.strip():
                yield index, CaseSource(_decode(line), "json", f"{path}:{number}", number)
                index += 1


def count_cases(path):
    if os.path.isdir(path):
        return len(_case_files(path))
    with open(path, "rb") as f:
        return sum(1 for line in f if line.strip())


def _case_files(folder):
    return sorted(n for n in os.listdir(folder) if n.endswith((".json", ".nesy"))
                  and not n.startswith(".") and os.path.isfile(os.path.join(folder, n)))


def _decode(data):
    # bad bytes stay visible (U+FFFD) and then fail the case, not the whole file
    return data.decode("utf-8", errors="replace").removeprefix("\ufeff").rstrip("\r\n")


def parse_case(source):
    """The :class:`Case` in ``source``; ``ValueError`` with the reason if it is malformed."""
    if source.kind == "unreadable":
        raise ValueError(f"cannot read: {source.text}")
    if source.kind == "nesy":
        return Case(source.default_id, _parse_facts(source.text, source.where, None))
    if "\ufffd" in source.text:
        raise ValueError("not valid UTF-8")
    try:
        data = json.loads(source.text)
    except json.JSONDecodeError as e:
        raise ValueError(f"bad JSON: {e.msg} (column {e.colno})") from None
    if not isinstance(data, dict):
        raise ValueError(f"a case is a JSON object, got {type(data).__name__}")
    unknown = sorted(set(data) - set(CASE_KEYS))
    if unknown:
        raise ValueError(f"unknown key {unknown[0]!r}; a case has {', '.join(CASE_KEYS)}")
    case = Case(data.get("id", source.default_id))
    if isinstance(case.id, bool) or not isinstance(case.id, (str, int)):
        raise ValueError(f"'id' must be a string or an integer, got {case.id!r}")
    facts = data.get("facts", [])
    facts = [facts] if isinstance(facts, str) else facts
    if not isinstance(facts, list) or not all(isinstance(t, str) for t in facts):
        raise ValueError("'facts' must be a string or a list of strings in the rule language")
    for i, text in enumerate(facts):
        label = "facts" if isinstance(data["facts"], str) else f"facts[{i}]"
        case.facts.extend(_parse_facts(text, source.where, label))
    for key in ("features", "truths", "functions"):
        value = data.get(key, {})
        if not isinstance(value, dict):
            raise ValueError(f"{key!r} must be an object {{name: array}}")
        setattr(case, key, value)
    return case


def _parse_facts(text, where, label):
    """``(predicate, names, degree, where)`` per fact of ``text``; anything else is an error."""
    from nesy.logic import ast
    from nesy.logic.errors import RuleError
    from nesy.logic.parser import parse_text

    def place(span):
        return f"{label} {span.line}:{span.column}" if label else f"{span.line}:{span.column}"

    try:
        statements = parse_text(text, label or where)
    except RuleError as e:
        d = e.diagnostics[0]
        raise ValueError(f"{place(d)}: {d.message}") from None
    facts = []
    for stmt in statements:
        if not isinstance(stmt, ast.Fact):
            kind = _KINDS.get(type(stmt).__name__, "a declaration")
            raise ValueError(f"{place(stmt.span)}: a case holds only facts, got {kind}")
        names = tuple(a.name for a in stmt.atom.args)
        facts.append((stmt.atom.predicate, names, stmt.degree, place(stmt.span)))
    return facts


_KINDS = {"HornRule": "a Horn rule", "Constraint": "a constraint rule", "Query": "a query",
          "Import": "an import"}

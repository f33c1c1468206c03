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

>>> from nesy import evaluation as ev
>>> template = ev.Template.load("rules/smokers.nesy")  # doctest: +SKIP
>>> case = ev.CaseSource('{"id": "b", "facts": "Smokes(b)."}', "json", "cases.jsonl:1", 1)
>>> [(i, row["id"], row["satisfaction"]) for i, row in ev.evaluate_chunk(template, [(0, case)])]
... # doctest: +SKIP
[(0, 'b', 0.5702721)]
"""

from __future__ import annotations

import copy
import csv
import hashlib
import io
import json
import os
from collections import OrderedDict, deque
from dataclasses import dataclass, field

import numpy as np

CASE_KEYS = ("id", "facts", "features", "truths", "functions")
STRATEGIES = ("fork", "deepcopy", "rebuild")


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


class CaseFailed(ValueError):
    """A case failed under ``strict=True``."""


@dataclass
class Case:
    id: object
    facts: list = field(default_factory=list)  # (predicate, names, degree, where)
    features: dict = field(default_factory=dict)
    truths: dict = field(default_factory=dict)
    functions: dict = field(default_factory=dict)


# --- reading cases -------------------------------------------------------------------------


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


# --- the template --------------------------------------------------------------------------


class UnknownQuery(ValueError):
    """``--query`` named a query the rule file lacks."""


class CheckpointMismatch(ValueError):
    """The checkpoint's parameters are not the rule file's (names or shapes)."""


class Template:
    """The knowledge base every case starts from, built once; picklable (the built knowledge
    base is rebuilt from the checked program and ``state`` where it is unpickled).

    ``strategy`` is how a case gets its copy: ``fork`` (copy only what a case can change),
    ``deepcopy`` or ``rebuild`` (a new knowledge base per case); ``reuse`` keeps the truths of
    rules and queries that a case does not touch instead of evaluating them again."""

    def __init__(self, program, base_dir=None, state=None, queries=None, seed=0,
                 semantics=None, strategy="fork", reuse=True):
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {strategy!r}; expected one of {STRATEGIES}")
        self.program, self.base_dir, self.seed = program, base_dir, seed
        self.semantics = semantics
        self.strategy, self.reuse = strategy, reuse
        kb, deferred = self._build(state, {})
        self._kb, self.checkpointed = kb, state is not None
        self.state = {k: _array(v).copy() for k, v in kb.state_dict().items()}
        self.deferred = {k: _array(v).copy() for k, v in deferred.items()}
        self.waiting = sorted({k.split(".")[1] for k in deferred} | _waiting(kb))
        available = list(kb.queries)
        unknown = [q for q in queries or () if q not in available]
        if unknown:
            raise UnknownQuery(
                f"unknown query {unknown[0]!r}; the rule file has "
                + (", ".join(available) if available else "no queries"))
        self.query_names = list(dict.fromkeys(queries)) if queries else available
        self.rule_columns = list(kb.rules) + [
            g for name, info in kb.signature.predicates.items() if info.learned
            for g in (f"facts({name})", f"facts(not {name})") if g not in kb.rules]
        self.deps = {name: _rule_deps(kb, name) for name in kb.rules}
        self.deps.update({name: _formula_deps(kb, kb.queries[name].formula)
                          for name in self.query_names})
        self.baseline = self._baseline(kb) if reuse else {}
        self.fingerprint = self._fingerprint(queries)

    @classmethod
    def load(cls, rules, checkpoint=None, **options):
        """A template from the rule file ``rules`` and, optionally, a checkpoint file."""
        from nesy.logic.api import parse_path

        program = parse_path(rules)
        state = None
        if checkpoint is not None:
            state, semantics = read_checkpoint(checkpoint)
            options.setdefault("semantics", semantics)
        folder = os.path.dirname(os.path.abspath(os.fspath(rules)))
        try:
            return cls(program, base_dir=folder, state=state, **options)
        except CheckpointMismatch as e:
            raise CheckpointMismatch(f"checkpoint {checkpoint} does not fit {rules}: {e}") \
                from None

    def __getstate__(self):
        return {k: v for k, v in self.__dict__.items() if k != "_kb"}

    def __setstate__(self, state):
        self.__dict__.update(state, _kb=None)

    @property
    def kb(self):
        """The template's knowledge base (built where the template was unpickled)."""
        if self._kb is None:
            self._kb, _ = self._build(self.state, self.deferred)
        return self._kb

    def _build(self, state, deferred):
        import nesy
        from nesy.logic.knowledge_base import KnowledgeBase

        nesy.manual_seed(self.seed)
        kb = KnowledgeBase(self.program, semantics=self.semantics, base_dir=self.base_dir)
        kb.eval()
        if state is not None:
            deferred = _load_state(kb, {**state, **deferred})
        return kb, deferred

    def fresh(self):
        """A knowledge base for one case: changing it leaves the template as it was."""
        if self.strategy == "fork":
            return fork(self.kb)
        if self.strategy == "deepcopy":
            return copy.deepcopy(self.kb)
        return self._build(self.state, self.deferred)[0]

    def _baseline(self, kb):
        import nesy

        out = {}
        with nesy.no_grad():
            for name in list(kb.rules) + self.query_names:
                try:
                    out[name] = _truth(kb, name)
                except (ValueError, TypeError, KeyError, IndexError):
                    pass  # depends on data only cases give: evaluated per case
        return out

    def _fingerprint(self, queries):
        h = hashlib.sha256()
        for name, text in self.program.sources:
            h.update(f"{name}\0{text}\0".encode())
        for key in sorted(self.state):
            h.update(key.encode() + self.state[key].tobytes())
        h.update(json.dumps([queries or [], self.seed, str(self.semantics),
                             self.rule_columns]).encode())
        return h.hexdigest()[:32]


def read_checkpoint(path):
    """``(state dict, semantics or None)`` of a checkpoint: a ``nesy train --checkpoint``
    file (the state under ``"model"``, its semantics under ``"semantics"``), or a
    ``nesy.save`` file of a state dict itself."""
    import nesy

    data = nesy.load(path)
    if isinstance(data, dict) and isinstance(data.get("model"), dict):
        semantics = data.get("semantics")
        return data["model"], semantics if isinstance(semantics, (str, dict)) else None
    if isinstance(data, dict) and data and all(
            isinstance(v, (nesy.Tensor, np.ndarray)) for v in data.values()):
        return data, None
    raise ValueError(f"{path} holds no knowledge-base state (a state dict, or one under "
                     "'model' as nesy train --checkpoint writes)")


def _array(value):
    return value.detach().numpy() if hasattr(value, "detach") else np.asarray(value)


def _waiting(kb):
    """Neural models not built yet: their domains get features only from cases."""
    return {n for n, i in list(kb.signature.predicates.items())
            + list(kb.signature.functions.items())
            if i.kind == "neural" and n not in kb.models._modules}


def _load_state(kb, state):
    """Load ``state``; entries for models that only a case's features can build are kept
    aside (returned) and loaded into each case's copy once built."""
    waiting = _waiting(kb)
    deferred = {k: v for k, v in state.items()
                if k.startswith("models.") and k.split(".")[1] in waiting}
    given = {k: v for k, v in state.items() if k not in deferred}
    own = kb.state_dict()
    problems = [f"missing {', '.join(k for k in own if k not in given)}",
                f"unexpected {', '.join(k for k in given if k not in own)}"]
    problems = [p for p in problems if not p.endswith(" ")] + [
        f"{k} has shape {tuple(_array(v).shape)}, the rules need {tuple(own[k].shape)}"
        for k, v in given.items() if k in own and tuple(_array(v).shape) != own[k].shape]
    if problems:
        raise CheckpointMismatch("; ".join(problems))
    kb.load_state_dict(given)
    return deferred


def fork(kb):
    """A copy of knowledge base ``kb`` sharing what a case cannot change (the program,
    parameters, built models, features and tables) and copying the containers a case
    changes; a table is copied when a case first writes into it (:func:`apply_case`).
    Attributes this function does not know are deep-copied, so a new one is never shared."""
    from nesy.logic.knowledge_base import FactGroup

    new = object.__new__(type(kb))
    d = new.__dict__
    for name, value in kb.__dict__.items():
        if name in _SHARED:
            d[name] = value
        elif name in _COPIED:
            d[name] = type(value)(value)
        elif name == "signature":
            d[name] = sig = copy.copy(value)
            for part in ("domains", "predicates", "functions"):
                setattr(sig, part, {k: copy.copy(v) for k, v in getattr(value, part).items()})
        elif name == "_pending":
            d[name] = {k: list(v) for k, v in value.items()}
        elif name == "rules":
            d[name] = {k: _fork_group(v) if isinstance(v, FactGroup) else v
                       for k, v in value.items()}
        elif name == "_modules":
            d[name] = OrderedDict(value)
            d[name]["models"] = _fork_container(value["models"])
        else:
            d[name] = copy.deepcopy(value)
    return new


_SHARED = {"program", "_sources", "semantics", "base_dir", "max_groundings", "dtype_name",
           "queries", "training"}
_COPIED = {"_sizes", "_features", "_tables", "_function_tables", "_callables", "_classes",
           "weights", "_parameters", "_buffers", "_non_persistent_buffers_set"}


def _fork_group(group):
    new = copy.copy(group)
    new.facts = list(group.facts)
    return new


def _fork_container(module):
    new = object.__new__(type(module))
    new.__dict__.update(module.__dict__)
    new.__dict__["_modules"] = OrderedDict(module._modules)
    return new


# --- dependencies: which rules a case can change -------------------------------------------


def _rule_deps(kb, name):
    from nesy.logic.knowledge_base import FactGroup

    rule = kb.rules[name]
    if isinstance(rule, FactGroup):
        info = kb.signature.predicates[rule.predicate]
        return frozenset({("group", name), ("pred", info.name)}
                         | {("domain", t) for t in info.arg_types})
    return _formula_deps(kb, rule.formula)


def _formula_deps(kb, formula):
    """What a formula's truth reads: ("pred", P), ("func", f) and ("domain", D) entries."""
    from nesy.logic import ast

    sig, deps, stack = kb.signature, set(), [formula]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Atom, ast.Apply)):
            key = "pred" if isinstance(node, ast.Atom) else "func"
            name = node.predicate if key == "pred" else node.function
            info = (sig.predicates if key == "pred" else sig.functions).get(name)
            deps.add((key, name))
            deps.update(("domain", t) for t in getattr(info, "arg_types", ()))
            if isinstance(getattr(info, "result", None), str):
                deps.add(("domain", info.result))
            stack.extend(node.args)
        elif isinstance(node, (ast.Var, ast.Const)) and node.domain:
            deps.add(("domain", node.domain))
        elif isinstance(node, ast.Quantified):
            stack.extend(v for b in node.binders for v in b.variables)
            stack.extend(x for x in (node.guard, node.body) if x is not None)
        elif isinstance(node, ast.Not):
            stack.append(node.operand)
        elif isinstance(node, (ast.Binary, ast.Compare, ast.Arith)):
            stack.extend((node.left, node.right))
    return frozenset(deps)


# --- evaluating ----------------------------------------------------------------------------


def evaluate_chunk(template, chunk):
    """``[(index, row or CaseError)]`` for a list of ``(index, CaseSource)``: the pure worker
    function (module level, picklable arguments) that a Dask cluster runs."""
    results = []
    for index, source in chunk:
        try:
            results.append((index, evaluate_case(template, source)))
        except (ValueError, TypeError, KeyError, IndexError, OverflowError) as e:
            results.append((index, CaseError(source.where, _one_line(e))))
    return results


def _one_line(error):
    from nesy.logic.errors import RuleError

    if isinstance(error, RuleError):
        d = error.diagnostics[0]
        return d.message if d.filename == "<python>" else f"{d.filename}:{d.line}: {d.message}"
    if isinstance(error, KeyError):
        return f"unknown name {error.args[0]!r}" if error.args else "unknown name"
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]


def evaluate_case(template, source):
    """The row of one case: id, satisfaction, rule truths and query truths."""
    import nesy

    case = parse_case(source)
    kb = template.fresh()
    with nesy.no_grad():
        touched = apply_case(kb, case, template)
        truths = {}
        for name in list(kb.rules) + template.query_names:
            if name in template.baseline and not (template.deps.get(name, ()) & touched):
                truths[name] = template.baseline[name]
            else:
                truths[name] = _truth(kb, name)
        names = list(kb.rules)
        satisfaction = None  # no constraints (a file of queries): nothing to satisfy
        if names:
            values = nesy.tensor(np.asarray([truths[n] for n in names], dtype=kb.dtype_name))
            weights = np.asarray([kb.weights[n] for n in names], dtype=kb.dtype_name)
            satisfaction = float(kb.semantics.aggregate(values, weights).item())
    short = _shortener(kb.dtype_name)
    return {
        "id": case.id,
        "satisfaction": None if satisfaction is None else short(satisfaction),
        "rules": {n: short(truths[n]) for n in names},
        "queries": {n: short(truths[n]) for n in template.query_names},
    }


def apply_case(kb, case, template):
    """Put a case's data into ``kb`` (a fresh copy); return what it touched, in the terms
    of :func:`_formula_deps` plus ("group", "facts(P)") for facts about learned predicates."""
    import nesy

    touched = set()
    if template.waiting:
        nesy.manual_seed(template.seed)  # models built below start alike in every case
    for key, setter, kind in (("features", kb.set_features, "domain"),
                              ("functions", kb.set_function, "func"),
                              ("truths", kb.set_truths, "pred")):
        for name, value in getattr(case, key).items():
            try:
                setter(name, _matrix(value, kb))
            except ValueError as e:
                raise ValueError(f"{key} of {name}: {_one_line(e)}") from None
            touched.add((kind, name))
        if key == "features" and template.waiting:
            kb.eval()  # models the features just built: no dropout
            if template.checkpointed:
                _load_deferred(kb, template)
    shared = template.kb._tables if template.strategy == "fork" else {}
    for predicate, names, degree, where in case.facts:
        info = _check_fact(kb, predicate, names, where)
        if info.learned:
            touched.add(("group", f"facts({'not ' if degree == 0 else ''}{predicate})"))
        else:
            touched.add(("pred", predicate))
            table = kb._tables.get(predicate)
            if table is not None and table is shared.get(predicate):  # copy on first write
                kb._tables[predicate] = nesy.tensor(table)  # nesy.tensor copies
        try:
            kb.add_fact(predicate, *names, degree=degree)
        except ValueError as e:
            raise ValueError(f"{where}: {_one_line(e)}") from None
    return touched


def _check_fact(kb, predicate, names, where):
    info = kb.signature.predicates.get(predicate)
    if info is None:
        raise ValueError(f"{where}: unknown predicate {predicate!r}")
    if len(names) != info.arity:
        raise ValueError(f"{where}: {predicate} takes {info.arity} arguments, got {len(names)}")
    for name, domain in zip(names, info.arg_types):
        index = kb.signature.domains[domain].index_of(name)
        size = kb._sizes.get(domain)
        if index is None or (size is not None and index >= size):
            raise ValueError(f"{where}: unknown individual {name!r} of domain {domain} "
                             f"in {predicate}({', '.join(names)})")
    return info


def _matrix(value, kb):
    try:
        return np.asarray(value, dtype=kb.dtype_name)
    except (ValueError, TypeError):
        raise ValueError("expected a list (of lists) of numbers, one row each") from None


def _load_deferred(kb, template):
    """Checkpoint parameters into the models that this case's features just built."""
    for name in template.waiting:
        model = kb.models._modules.get(name)
        if model is None:
            continue
        prefix = f"models.{name}."
        part = {k[len(prefix):]: v for k, v in template.deferred.items() if k.startswith(prefix)}
        try:
            model.load_state_dict(part)
        except RuntimeError as e:
            raise ValueError(f"the checkpoint does not fit {name}: {_one_line(e)}") from None


def _truth(kb, name):
    """A rule's or query's truth as a float, or a table as a NumPy array."""
    tensor = kb.rule_truth(name) if name in kb.rules else kb.truth(name)
    array = tensor.detach().numpy()
    return float(array) if array.ndim == 0 else array.copy()


def _shortener(dtype_name):
    """Numbers as the shortest decimal that reads back as the same float32 (0.63942677,
    not 0.6394267678260803): smaller files, nothing lost."""
    if dtype_name != "float32":
        return lambda v: float(v) if np.ndim(v) == 0 else np.asarray(v).tolist()

    def short(value):
        if np.ndim(value) == 0:
            return float(str(np.float32(value)))
        return _TO_FLOAT(np.asarray(value, dtype=np.float32).astype(str)).tolist()

    return short


_TO_FLOAT = np.vectorize(float, otypes=[object])


# --- results: formats, the journal, the run ------------------------------------------------


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
            raise ValueError(f"{self.path} comes from a run with other rules, checkpoint, "
                             "--query or --seed; delete it or run without --resume")
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
                run_chunks = _distributed()
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


def _distributed():
    try:
        from nesy.distributed import run_chunks
    except ImportError as e:
        raise RuntimeError(f"--scheduler needs nesy.distributed and Dask: {e}") from None
    return run_chunks


def _test_signal(done):
    """Tests interrupt a run for real: ``NESY_EVAL_TEST_SIGNAL=N:SIGTERM`` sends that
    signal to this process once N cases are done."""
    spec = os.environ.get("NESY_EVAL_TEST_SIGNAL")
    if spec and int(spec.split(":")[0]) == done:
        import signal

        os.kill(os.getpid(), getattr(signal, spec.split(":")[1]))

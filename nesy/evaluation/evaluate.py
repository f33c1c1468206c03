"""One case's row: the case put into a fresh copy of the template, its truths read out.

Why apart: :func:`evaluate_chunk` is the pure worker that ``nesy.distributed`` ships to Dask
workers by reference (``nesy.evaluation.evaluate_chunk``), so it and what it calls depend only
on the template and the case sources, never on files or the state of a run.
"""

from __future__ import annotations

import numpy as np

from .cases import CaseError, parse_case
from .template import _truth


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

""":func:`fork`: the cheap per-case copy of the template's knowledge base.

Why: every case needs a knowledge base of its own to write into; sharing what a case cannot
change and copying only the containers it writes costs far less than ``copy.deepcopy`` or a
rebuild, both kept as ``Template(strategy=...)`` to compare against (smokers, with reuse:
1.3 ms a case against 6.9 and 2.4; ``benchmarks/RESULTS_eval.md``).
"""

from __future__ import annotations

import copy
from collections import OrderedDict


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
        elif name in ("_pending", "_sparse_facts"):
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

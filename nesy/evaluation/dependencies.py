"""What a rule's or query's truth reads: ("pred", P), ("func", f) and ("domain", D) entries.

Why: a rule or query that reads nothing a case changed keeps the template's baseline truth;
these sets are how :func:`~nesy.evaluation.evaluate.evaluate_case` tells which ones it must
evaluate again.
"""

from __future__ import annotations


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

    sig, deps = kb.signature, set()
    for node in ast.walk(formula):
        if isinstance(node, (ast.Atom, ast.Apply)):
            key = "pred" if isinstance(node, ast.Atom) else "func"
            name = node.predicate if key == "pred" else node.function
            info = (sig.predicates if key == "pred" else sig.functions).get(name)
            deps.add((key, name))
            deps.update(("domain", t) for t in getattr(info, "arg_types", ()))
            if isinstance(getattr(info, "result", None), str):
                deps.add(("domain", info.result))
        elif isinstance(node, (ast.Var, ast.Const)) and node.domain:
            deps.add(("domain", node.domain))
    return frozenset(deps)

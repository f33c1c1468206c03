"""Stratified negation: a predicate may not depend negatively on itself through rules.

``P :- not Q`` is fine when ``Q`` does not depend on ``P``; the checker rejects
``P :- not Q.  Q :- P.`` and names the cycle (``P -> not Q -> P``). Forward chaining
computes strata in the order ``strata`` returns.
"""

from __future__ import annotations

from . import ast


def dependencies(rules):
    """``{head: [(body predicate, negated, rule), ...]}`` over Horn rules."""
    graph = {}
    for rule in rules:
        edges = graph.setdefault(rule.head.predicate, [])
        for lit in rule.body:
            negated = isinstance(lit, ast.Not)
            atom = lit.operand if negated else lit
            if isinstance(atom, ast.Atom):
                edges.append((atom.predicate, negated, rule))
    return graph


def _path(graph, start, goal):
    """Predicates from ``start`` to ``goal`` along dependencies, or None (iterative DFS)."""
    stack = [(start, [start])]
    seen = {start}
    while stack:
        node, path = stack.pop()
        for nxt, _, _ in graph.get(node, ()):
            if nxt == goal:
                return path + [nxt]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, path + [nxt]))
    return None


def check_stratification(rules, checker):
    """Report every negative dependency that lies on a cycle, naming the cycle."""
    graph = dependencies(rules)
    reported = set()
    for head, edges in graph.items():
        for body, negated, rule in edges:
            if not negated:
                continue
            back = head if body == head else _path(graph, body, head)
            if back is None:
                continue
            cycle = [head] + ([head] if body == head else back)
            key = frozenset(cycle)
            if key in reported:
                continue
            reported.add(key)
            shown = [cycle[0], "not " + cycle[1]] + cycle[2:]
            checker.error(
                rule.span,
                "unstratifiable negation: "
                + " -> ".join(shown)
                + " (a predicate may not depend negatively on itself)",
            )


def strata(rules):
    """Predicates grouped in evaluation order: each stratum only negates earlier ones."""
    graph = dependencies(rules)
    level = {p: 0 for p in graph}
    for _ in range(len(graph) + 1):
        changed = False
        for head, edges in graph.items():
            for body, negated, _ in edges:
                need = level.get(body, 0) + (1 if negated else 0)
                if need > level[head]:
                    level[head] = need
                    changed = True
        if not changed:
            break
    groups = {}
    for pred, lvl in level.items():
        groups.setdefault(lvl, []).append(pred)
    return [sorted(groups[k]) for k in sorted(groups)]

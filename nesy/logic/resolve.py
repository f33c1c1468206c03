"""A formula given as text, checked against a program's declarations (for ``kb.truth``)."""

from __future__ import annotations

from .check import _Checker
from .formulas import resolve_formula
from .parser import parse_text


def formula_in(program, text, filename="<formula>", signature=None):
    """``text`` parsed and resolved with ``program``'s signature (or ``signature``); free
    variables allowed."""
    signature = signature or program.signature
    node = parse_text(text, filename, start="formula")
    checker = _Checker(program)
    checker.sig = signature
    for name, info in signature.domains.items():
        for individual in info.individuals or ():
            checker.constants.setdefault(individual, []).append(name)
    checker.reporter.add_source(filename, text)
    resolved = resolve_formula(checker, node, closed=False)
    checker.reporter.raise_if_errors()
    return resolved

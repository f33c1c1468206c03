"""The entry points: ``parse``, ``evaluate``, ``loads`` and ``load``."""

from __future__ import annotations

import functools
import os

from . import ast
from .check import check
from .compiler import DEFAULT_MAX_GROUNDINGS, Compiler
from .errors import error_at
from .grounding import TableEnvironment, resolve_untyped
from .parser import parse_file, parse_text


def parse(text, filename=None):
    """The checked program of rule-file ``text`` (imports relative to the current folder).

    >>> import nesy
    >>> prog = nesy.logic.parse("Edge(a, b). Path(x, y) :- Edge(x, y).")
    >>> [type(s).__name__ for s in prog.statements]
    ['Fact', 'HornRule']
    """
    return check(parse_file(text=text, filename=filename))


def parse_path(path):
    """The checked program of the rule file at ``path`` (imports relative to it)."""
    return check(parse_file(path=os.fspath(path)))


def evaluate(formula, predicates, semantics="product", max_groundings=DEFAULT_MAX_GROUNDINGS,
             compiled=False):
    """Truth of one closed ``formula`` as a 0-dim Tensor, each predicate a truth table.

    A table's axes are its predicate's arguments; each variable ranges over the size of the
    axes it indexes (which must agree). Gradients flow to tables with ``requires_grad``.
    ``compiled=True`` runs each quantifier as one fused loop over its groundings (see
    :mod:`nesy.logic.compiled`): the same values and gradients without materialising the
    groundings; a formula that cannot be fused is evaluated eagerly, with a warning.

    >>> import nesy, numpy as np
    >>> R = nesy.tensor(np.eye(3), requires_grad=True)
    >>> t = nesy.logic.evaluate("forall x: R(x, x)", {"R": R}, semantics="godel")
    >>> float(t)
    1.0
    """
    from .semantics import Semantics

    semantics = Semantics.resolve(semantics)
    if isinstance(formula, str):
        text = formula
        node = _resolved_formula(text)
    else:
        text, node = None, _resolve(formula, None)
    env = TableEnvironment(predicates, source=text)
    env.bind_sizes(node)
    if compiled:
        from .compiled import NotFusable, compile_formula, warn_fallback

        try:
            fused = compile_formula(node, semantics)
        except NotFusable as why:
            warn_fallback(f"formula {text or node}", why)
        else:
            return fused.evaluate(env, max_groundings=max_groundings, formula=node)
    return Compiler(env, semantics, max_groundings).evaluate(node)


@functools.lru_cache(maxsize=256)
def _parse_formula(text):
    """A formula's AST; cached, as training loops evaluate the same text again and again
    (the AST is immutable, so sharing it is safe)."""
    return parse_text(text, "<formula>", start="formula")


@functools.lru_cache(maxsize=256)
def _resolved_formula(text):
    """``_parse_formula`` with the identifiers resolved (an error is raised again on every
    call: ``lru_cache`` keeps no exceptions)."""
    return _resolve(_parse_formula(text), text)


def _resolve(node, text):
    def fail(span, message):
        raise error_at(span, message, text)

    return resolve_untyped(node, fail)


def loads(text, semantics=None, filename=None, **options):
    """A ``KnowledgeBase`` from rule-file text."""
    from .knowledge_base import KnowledgeBase

    return KnowledgeBase(parse(text, filename), semantics=semantics, **options)


def load(path, semantics=None, **options):
    """A ``KnowledgeBase`` from the rule file at ``path``; relative data paths in the file
    (features, tables, imports) are resolved against the file's folder."""
    from .knowledge_base import KnowledgeBase

    program = parse_path(path)
    folder = os.path.dirname(os.path.abspath(os.fspath(path)))
    return KnowledgeBase(program, semantics=semantics, base_dir=folder, **options)


__all__ = ["parse", "parse_path", "evaluate", "loads", "load", "ast"]

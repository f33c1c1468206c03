"""Certainty factors (MYCIN/EMYCIN): forward chaining over truths in [-1, 1].

A certainty factor (CF) says how much the evidence confirms (CF > 0) or disconfirms
(CF < 0) an atom; 0 is "unknown". Facts give the initial CFs: ``0.7 :: Fever(p).`` is 0.7,
``Fever(p).`` is 1, ``not Fever(p).`` is -1, a degree d set from Python (``set_truths``,
``add_fact``) is d, and a neural or bound predicate's truth is read as its CF. Then:

- premises: ``not A`` has CF ``-CF(A)``; a body's CF is the ``min`` of its literals' CFs
  (a comparison is a crisp mask);
- a rule fires on a grounding only when that minimum exceeds ``threshold`` (MYCIN: 0.2),
  and then concludes ``CF = confidence * min`` (the ``0.9 ::`` prefix; 1 without one);
- parallel evidence for one atom (its fact, every rule, every grounding of the body's
  other variables) combines with EMYCIN's ``combine``:

  ``a + b - ab`` (both >= 0), ``a + b + ab`` (both < 0), ``(a + b) / (1 - min(|a|, |b|))``
  (mixed; 0 when ``|a| = |b| = 1``).

On (-1, 1) ``combine`` is commutative and associative (it is addition in disguise:
``x -> x / (1 - |x|)`` maps it to ``+`` on the reals), so folding evidence in any order gives
the same CF. ``combine_all`` folds in closed form, positives and negatives separately, then
one mixed step; that is also how the order is fixed where certain evidence conflicts
(``1`` and ``-1`` somewhere among the pieces gives 0). Every step is monotone in the
premises, so strata (as in ``chaining.py``, ``not A`` reads ``A``'s final CF) are iterated
from their facts up to the least fixpoint. NumPy only: no gradients flow through CFs.

>>> import nesy
>>> kb = nesy.logic.loads("0.6 :: Fever(ann). Cough(ann). "
...                       "0.7 :: Infection(p) :- Fever(p), Cough(p). "
...                       "0.4 :: Infection(p) :- Fever(p).")
>>> cf, report = infer_cf(kb)
>>> round(float(cf["Infection"][0]), 4)   # 0.42 + 0.24 - 0.42 * 0.24
0.5592
"""

from __future__ import annotations

import math

import numpy as np

import nesy

from . import ast
from .chaining import InferenceReport, _ChainEnv, _Grounded, round_limit
from .compiler import Compiler
from .stratify import strata

FIRING_SLACK = 1e-6  # degrees stored in float32 carry ~6e-8 relative rounding


def combine(a, b):
    """EMYCIN's combination of two CFs, elementwise.

    ``a + b - ab`` (both >= 0), ``a + b + ab`` (both < 0), else
    ``(a + b) / (1 - min(|a|, |b|))``, 0 when ``|a| = |b| = 1``.

    >>> float(combine(0.6, 0.4)), float(combine(-0.6, -0.4)), round(float(combine(0.6, -0.4)), 4)
    (0.76, -0.76, 0.3333)
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    denom = 1.0 - np.minimum(np.abs(a), np.abs(b))
    safe = np.where(denom > 0, denom, 1.0)
    mixed = np.where(denom > 0, (a + b) / safe, 0.0)
    out = np.where((a >= 0) & (b >= 0), a + b - a * b, mixed)
    return np.where((a < 0) & (b < 0), a + b + a * b, out)


def combine_all(xs, axes):
    """``combine`` folded over ``axes`` of ``xs`` (dropped), in closed form.

    ``P = 1 - prod(1 - x+)``, ``N = prod(1 + x-) - 1``, result ``combine(P, N)``.

    >>> float(combine_all(np.array([0.6, 0.4, -0.4]), (0,)))
    0.6
    """
    xs = np.asarray(xs, dtype=np.float64)
    if not axes:
        return xs
    pos = 1.0 - np.prod(1.0 - np.maximum(xs, 0.0), axis=axes)
    neg = np.prod(1.0 + np.minimum(xs, 0.0), axis=axes) - 1.0
    return combine(pos, neg)


def infer_cf(kb, max_iters=None, tol=1e-9, threshold=0.2):
    """Certainty factors of ``kb``'s derived predicates at the least fixpoint.

    Returns ``({predicate: float64 array over its argument domains}, InferenceReport)``. A
    rule fires on a grounding when the minimum of its premises' CFs is above ``threshold``
    (MYCIN's 0.2; 0 lets any positive evidence through).
    """
    max_iters = round_limit(max_iters)
    if not 0.0 <= threshold < 1.0:
        raise ValueError(f"threshold must lie in [0, 1), got {threshold}")
    horn = [s for s in kb.program.statements if isinstance(s, ast.HornRule)]
    derived = {p for p, i in kb.signature.predicates.items() if i.kind == "derived"}
    env = _CFEnv(kb)
    out = {}
    report = InferenceReport([], [], [], True)
    for group in strata(horn):
        group = [p for p in group if p in derived]  # a bound (extern) head is computed
        if not group:
            continue
        rules = {p: [_Grounded(r, env) for r in horn if r.head.predicate == p] for p in group}
        facts = {p: env.fact_cf(p, rules[p][0].rule.head.span) for p in group}
        for p in group:
            env.tables[p] = nesy.tensor(facts[p])
        rounds, change = _fixpoint(group, rules, facts, env, threshold, max_iters, tol)
        out.update((p, env.tables[p].numpy().copy()) for p in group)
        report.strata.append(group)
        report.iterations.append(rounds)
        report.changes.append(change)
        report.converged = report.converged and change < tol
    return out, report


def _fixpoint(group, rules, facts, env, threshold, max_iters, tol):
    """Rounds of ``P = combine(facts, rule CFs)`` over one stratum: (rounds, change)."""
    own = set(group)
    recursive = any(a.predicate in own for rs in rules.values() for r in rs for a in r.body_atoms())
    rounds, change = 0, math.inf
    while rounds < max_iters:
        rounds, change = rounds + 1, 0.0
        for p in group:  # Gauss-Seidel, as in chaining.py
            pieces = [facts[p]] + [_rule_cf(r, env, threshold) for r in rules[p]]
            new = combine_all(np.stack(pieces), (0,))
            change = max(change, float(np.abs(new - env.tables[p].numpy()).max(initial=0.0)))
            env.tables[p] = nesy.tensor(new)
        if not recursive or change < tol:
            break
    return rounds, (0.0 if not recursive else change)


def _rule_cf(grounded, env, threshold):
    """One rule's combined CF for every grounding of its head, shaped like the head's table."""
    compiler = Compiler(env, env.kb.semantics)  # only reads atoms; no connective is used
    compiler.layout, compiler.axes_of = grounded.layout, {}
    full = tuple(grounded.layout.sizes)
    premise = np.ones(full)
    fires = np.ones(full, dtype=bool)
    for lit in grounded.rule.body:
        if isinstance(lit, ast.Compare):
            fires &= np.broadcast_to(compiler.compare(lit, grounded.scope), full)
            continue
        negated = isinstance(lit, ast.Not)
        atom = lit.operand if negated else lit
        cf = np.asarray(compiler.node(atom, grounded.scope).detach().numpy(), dtype=np.float64)
        premise = np.minimum(premise, -cf if negated else cf)
    confidence = env.kb.rule_confidence(grounded.rule)
    confidence = 1.0 if confidence is None else float(confidence)
    # above the threshold by more than float32 rounding: 0.5 * 0.4 must not fire at 0.2
    cf = np.where(fires & (premise > threshold + FIRING_SLACK), confidence * premise, 0.0)
    value = combine_all(cf, grounded.fold)  # 0 (no evidence) is combine's identity
    if grounded.mask is None:
        return value
    return np.where(grounded.mask, value.reshape(grounded.shape), 0.0)


def cf_fact_tables(kb):
    """The CF tables of the table predicates with negated facts (``not P(a).`` is -1)."""
    env = _CFEnv(kb)
    return {p: env.fact_cf(p, atoms[0].span) for p, atoms in env.negated.items()
            if kb.signature.predicates[p].kind == "table"}


class _CFEnv(_ChainEnv):
    """Atoms read CF tables: derived ones from the fixpoint, given ones from their facts."""

    def __init__(self, kb):
        super().__init__(kb, {})
        self.negated = {}  # predicate -> atoms stated ``not P(...)`` (degree 0)
        for stmt in kb.program.statements:
            if isinstance(stmt, ast.Fact) and stmt.degree == 0.0:
                self.negated.setdefault(stmt.atom.predicate, []).append(stmt.atom)

    def fact_cf(self, predicate, span):
        """The CFs a predicate's facts give: degree d is d, ``not P(...)`` is -1."""
        table = np.array(self.kb._fact_table(predicate, span).detach().numpy(), np.float64)
        types = self.sig.predicates[predicate].arg_types
        for atom in self.negated.get(predicate, ()):
            index = tuple(self.const_index(c, t) for c, t in zip(atom.args, types))
            if table[index] == 0.0:  # a positive fact on the same atom wins, as in kb.atoms
                table[index] = -1.0
        return table

    def atom_truth(self, atom, scope):
        p = atom.predicate
        if p not in self.tables and self.sig.predicates[p].kind == "table":
            self.tables[p] = nesy.tensor(self.fact_cf(p, atom.span))
        return super().atom_truth(atom, scope)

"""Goedel fixpoints as crisp closures at descending thresholds: each atom derived once.

Under ``and = min`` and ``or = max`` a ground atom's least-fixpoint truth is the largest
threshold ``t`` at which it is derivable from the inputs of truth ``>= t`` alone:

    truth(A) = max { t : A is in the crisp least model of the atoms with truth >= t },

since a derivation's truth is the minimum of the truths it uses (rule confidences
included). The crisp models grow as ``t`` descends, so one pass over the distinct input
truths ``t_1 > t_2 > ...`` finds every atom at its final truth: at ``t_k`` the inputs of
truth ``t_k`` (facts, rows of lower strata, rules of confidence ``t_k``) join the crisp
relations, crisp semi-naive rounds run from them until nothing is new, and the atoms that
appeared take truth ``t_k``. Every candidate is crisp, so it costs one look into a bitmap
(``Relation.merge`` on all-1 truths, for a directly indexed relation), and no atom is
propagated twice. The rows a level
appends are contiguous in each relation, so the truths are written once at the end.

A negated literal ``not A(x)`` (``A`` of a lower stratum, final) is an input too, of truth
``not(A(x))``: at threshold ``t`` it is a crisp filter, passing where ``not(A(x)) >= t``, and
the atoms of ``A`` whose ``not`` equals ``t`` are its delta, driving the rule from their rows
as a positive atom would (an absent atom passes at every threshold: ``not(0) = 1``).

A delta of a lower-stratum relation probes the growing derived relations on the leading
argument positions, which ``Relation.matches`` serves by scanning key ranges of the direct
index instead of re-sorting a relation that changes every round.

The engine uses this when it applies: a Goedel ``and``/``or``, no gradient needed, at most
``MAX_LEVELS`` distinct input truths (each level costs a few rounds), no ``max_iters`` (its
rounds run per threshold, so a round limit would cut differently from the other engines),
and a negation with ``not(0) = 1``; otherwise the delta levels of
``SparseEngine.semi_naive``.
"""

from __future__ import annotations

import copy
import functools
import math
from dataclasses import replace

import numpy as np

from . import ast
from .relations import Relation
from .sparse_chaining import CHUNK, ONES, collect_deltas

MAX_LEVELS = 256


class ThresholdClosure:
    """One stratum of a Goedel program by descending thresholds (see the module)."""

    def __init__(self, engine, group, plans):
        self.engine = engine
        self.group = group
        self.plans = plans
        self.inputs = sorted({lit.predicate for plan in plans for lit in plan.literals
                              if isinstance(lit, ast.Atom) and lit.predicate not in group})
        negated = {lit.operand.predicate for plan in plans for lit in plan.literals
                   if isinstance(lit, ast.Not) and isinstance(lit.operand, ast.Atom)}
        self.fuzzy_negated = sorted(  # crisp ones never pass where present: filters only
            p for p in negated if not (engine.relation(p).current_truth >= 1.0).all())
        self.rounds = 0

    # --- when it applies ------------------------------------------------------------------

    def applies(self):
        eng = self.engine
        if eng.sem.and_op != "min" or eng.sem.or_op != "max" or eng.max_iters != math.inf:
            return False
        if self.fuzzy_negated and float(np.asarray(eng.not_(np.zeros(1)))[0]) != 1.0:
            return False  # absent atoms would not pass at every threshold
        return 0 < len(self.levels) <= MAX_LEVELS

    @functools.cached_property
    def levels(self):
        """The distinct positive input truths, descending."""
        eng = self.engine
        values = [eng.relation(p).current_truth for p in self.inputs]
        values += [eng.facts[p].current_truth for p in self.group]
        values.append(np.array([plan.confidence for plan in self.plans]))
        values += [self.negation(p) for p in self.fuzzy_negated]
        values = np.unique(np.concatenate([np.asarray(v, np.float64) for v in values]))
        return values[values > 0][::-1]

    def negation(self, predicate):
        """``not`` of each atom's truth of a negated relation: its truth as an input."""
        truth = self.engine.relation(predicate).current_truth
        return np.asarray(self.engine.not_(np.asarray(truth, np.float64)), np.float64)

    # --- the closure ----------------------------------------------------------------------

    def run(self):
        """(rounds, 0): the closure always runs to the fixpoint (``applies`` needs no round
        limit). A stratum without recursion counts one round, as in ``semi_naive``."""
        eng = self.engine
        levels = self.levels
        saved = {p: eng.relations[p] for p in self.inputs}
        sources = {p: _by_truth(saved[p]) for p in self.inputs}
        sources.update({p: _by_truth(eng.facts[p]) for p in self.group})
        recursive = any(plan.recursive_atoms(self.group) for plan in self.plans)
        negated = {p: _by_value(np.arange(eng.relation(p).n), self.negation(p))
                   for p in self.fuzzy_negated}  # rows of A by not(A), descending
        not_ = eng.not_
        starts = {p: [] for p in self.group}
        try:
            for p in self.fuzzy_negated:  # the rows that start to pass, as a crisp relation
                eng.relations[_passing_name(p)] = eng.relation(p).indicator()
                eng.aliases[_passing_name(p)] = p
                eng.negated_from[p] = eng.relation(p)  # not the crisp view standing in
            for p in self.inputs:  # the inputs at truth >= t, as crisp relations
                eng.relations[p] = Relation(saved[p].sizes, len(saved[p]))
            for p in self.group:
                facts = eng.facts[p]
                eng.relations[p] = Relation(facts.sizes, len(facts), facts.truth.dtype)
            for t in levels:
                for p in self.group:
                    starts[p].append(eng.relations[p].n)
                eng.not_ = _passing(not_, t)
                passing = {p: _released(negated[p], t) for p in self.fuzzy_negated}
                self.level(t, self.release(t, sources), recursive, passing)
        finally:
            eng.not_ = not_
            for p, rel in saved.items():
                eng.relations[p] = rel
            for p in self.fuzzy_negated:
                eng.relations.pop(_passing_name(p), None)
                eng.aliases.pop(_passing_name(p), None)
                eng.negated_from.pop(p, None)
        for p in self.group:
            self.assign(eng.relations[p], starts[p], levels)
        return (self.rounds if recursive else 1), 0

    def release(self, t, sources):
        """Add the inputs and facts of truth ``t`` (the next ones down) to the crisp
        relations; the rows each one gained."""
        eng = self.engine
        delta = {}
        for p, source in sources.items():
            new = _released(source, t)
            rel = eng.relations[p]
            if len(new) and rel.merge(new, ONES(len(new))):
                delta[p] = rel.delta
            rel.begin_round()
        return delta

    def level(self, t, delta, recursive, passing):
        """Crisp semi-naive rounds at threshold ``t`` from the rows ``release`` added and
        the rows of negated relations that ``passing`` says start to pass."""
        eng = self.engine
        originals = [plan for plan in self.plans if plan.confidence >= t]
        active = [_at_one(plan) for plan in originals]
        first, current = True, delta
        starting = any(plan.confidence == t for plan in originals) or any(
            len(rows) for rows in passing.values())
        while (first and starting) or any(len(d) for d in current.values()):
            self.rounds += 1
            changed = {p: [] for p in self.group}
            for plan, original in zip(active, originals):
                if first and original.confidence == t:  # it starts to apply: all groundings
                    eng._merge(plan, eng.evaluate(plan), changed)
                    continue
                drivers = plan.positive if first else plan.recursive_atoms(self.group)
                for i in drivers:
                    self.drive(plan, i, current.get(plan.literals[i].predicate), changed)
                if first:
                    self.drive_negated(plan, passing, changed)
            current = collect_deltas(eng.relations, changed)
            first = False
            if not recursive:
                break

    def drive_negated(self, plan, passing, changed):
        """Candidates of ``plan`` from each negated literal's atoms that start to pass: the
        literal read as a positive atom over those rows of truth 1 (``_passing_name``)."""
        for i, lit in enumerate(plan.literals):
            if not isinstance(lit, ast.Not) or not isinstance(lit.operand, ast.Atom):
                continue
            rows = passing.get(lit.operand.predicate)
            if rows is None or not len(rows):
                continue
            variant = copy.copy(plan)
            atom = replace(lit.operand, predicate=_passing_name(lit.operand.predicate))
            variant.literals = [*plan.literals[:i], atom, *plan.literals[i + 1:]]
            variant.positive = sorted([*plan.positive, i])
            self.drive(variant, i, rows, changed)

    def drive(self, plan, i, rows, changed):
        """Candidates of ``plan`` with literal ``i`` restricted to ``rows`` (in chunks)."""
        if rows is None:
            return
        eng = self.engine
        for start in range(0, len(rows), CHUNK):
            eng._merge(plan, eng.evaluate(plan, i, rows[start:start + CHUNK]), changed)

    @staticmethod
    def assign(rel, starts, levels):
        """Each row's truth: the threshold of the level that appended it."""
        bounds = [*starts, rel.n]
        for t, a, b in zip(levels, bounds[:-1], bounds[1:]):
            rel.truth[a:b] = t
        rel.set_truth(rel.current_truth)  # in place: the bitmap and flags follow


def _by_truth(rel):
    """``(keys, truths, [0])`` of a relation's atoms by descending truth (``_by_value``)."""
    return _by_value(rel.current_keys.astype(np.int64), rel.current_truth)


def _by_value(items, values):
    """``(items, values, [0])`` by descending value; the list holds how many have been
    released so far (``_released``)."""
    values = np.asarray(values, np.float64)
    order = np.argsort(-values, kind="stable")
    return items[order], values[order], [0]


def _released(source, t):
    """The items of ``source`` (``_by_value``) with value ``t``, the next ones down."""
    items, values, done = source
    stop = done[0] + int(np.searchsorted(-values[done[0]:], -t, side="right"))
    new = items[done[0]:stop]
    done[0] = stop
    return new


def _passing_name(predicate):
    """The engine's name for the crisp rows of a negated relation (no predicate's name
    has a space)."""
    return f"not {predicate}"


def _passing(not_, t):
    """The negation as a crisp filter at threshold ``t``: 1 where ``not(a) >= t``."""
    def crisp(x):
        return (np.asarray(not_(x)) >= t).astype(np.float64)

    return crisp


def _at_one(plan):
    """``plan`` with confidence 1: a rule applies at thresholds up to its confidence."""
    out = copy.copy(plan)
    out.confidence = 1.0
    return out


"""Forward chaining: Horn rules run to their least fixpoint, one dense table per derived predicate.

The truth of a ground atom ``P(c...)`` is the semantics' ``or`` over its fact degree and every
grounding of every rule with head ``P``; a grounding contributes ``and(confidence, l_1, ...,
l_k)`` of its body literals. The ``or`` over the groundings of the body-only variables is an
aggregation over their axes:

- Goedel (``or = max``): ``max_i x_i``
- product (``or = probsum``): ``1 - prod_i (1 - x_i)``
- Lukasiewicz (``or = luk``): ``min(1, sum_i x_i)``

(another registered ``or`` is folded pairwise). ``not A`` is the negation of ``A``'s final
truth, computed in an earlier stratum (``stratify.strata``); a comparison is a crisp mask.
Each stratum is iterated from its facts until the largest change is below ``tol``; every
operator is monotone, so the tables rise to the least fixpoint, in finitely many rounds on
crisp facts and under Goedel. The connectives run without their stability projections, so
crisp facts give exactly the Datalog least model under every semantics.

Everything is a nesy tensor expression: gradients flow from a derived truth to fact degrees,
neural predicates and rule bodies, through every round.

>>> import nesy
>>> kb = nesy.logic.loads("Edge(a, b). Edge(b, c). Path(x, y) :- Edge(x, y). "
...                       "Path(x, z) :- Edge(x, y), Path(y, z).")
>>> kb.infer().converged
True
>>> sorted(kb.atoms("Path", min_truth=0.5))
[('a', 'b'), ('a', 'c'), ('b', 'c')]
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

import nesy

from . import ast
from .compiler import Compiler, Layout
from .errors import error_at
from .grounding import select
from .kb_env import KBEnvironment
from .stratify import strata


@dataclass
class InferenceReport:
    """What ``kb.infer`` did: per stratum, its predicates, rounds and last largest change."""

    strata: list  # predicate names per stratum, in evaluation order
    iterations: list  # rounds run per stratum
    changes: list  # the largest change of each stratum's last round (0: one round suffices)
    converged: bool
    engine: str = "dense"

    @property
    def max_change(self):
        return max(self.changes, default=0.0)


def round_limit(max_iters):
    """``max_iters`` checked; None: no limit (every fixpoint here is reached, or approached
    until a round changes less than ``tol``: the truths only rise and are bounded by 1)."""
    if max_iters is None:
        return math.inf
    if max_iters < 1:
        raise ValueError(f"max_iters must be at least 1, got {max_iters}")
    return max_iters


DENSE_ENGINE_MAX = 1 << 20  # "auto" runs the dense engine up to this many groundings a rule


def choose_engine(kb):
    """``"dense"`` while every Horn rule's groundings (the product of its variables' domain
    sizes) stay below ``DENSE_ENGINE_MAX``, else ``"sparse"``."""
    env = KBEnvironment(kb)
    for rule in kb.program.statements:
        if isinstance(rule, ast.HornRule):
            sizes = {}
            for var in _variables(rule):
                sizes.setdefault(var.name, env.var_size(var))
            if math.prod(sizes.values()) > DENSE_ENGINE_MAX:
                return "sparse"
    return "dense"


def infer(kb, max_iters=None, tol=1e-6):
    """Derived truth tables of ``kb`` at the least fixpoint, and an ``InferenceReport``."""
    max_iters = round_limit(max_iters)
    sem = replace(kb.semantics, stable=False)  # exact on 0/1: T(x, 0) = 0, S(x, 0) = x
    horn = [s for s in kb.program.statements if isinstance(s, ast.HornRule)]
    derived = {p for p, i in kb.signature.predicates.items() if i.kind == "derived"}
    tables = {}
    env = _ChainEnv(kb, tables)
    report = InferenceReport([], [], [], True)
    for group in strata(horn):
        group = [p for p in group if p in derived]  # a bound (extern) head is computed instead
        if not group:
            continue
        rules = {p: [_Grounded(r, env) for r in horn if r.head.predicate == p] for p in group}
        for p in group:
            tables[p] = kb._fact_table(p, rules[p][0].rule.head.span)
        facts = dict((p, tables[p]) for p in group)
        rounds, change = _fixpoint(group, rules, facts, tables, env, sem, max_iters, tol)
        report.strata.append(group)
        report.iterations.append(rounds)
        report.changes.append(change)
        report.converged = report.converged and change < tol
    return tables, report


def _fixpoint(group, rules, facts, tables, env, sem, max_iters, tol):
    """Rounds of ``P = or(facts, rule contributions)`` over one stratum: (rounds, change)."""
    own = set(group)
    recursive = any(a.predicate in own for rs in rules.values() for r in rs for a in r.body_atoms())
    change = math.inf
    rounds = 0
    while rounds < max_iters:
        rounds += 1
        change = 0.0
        for p in group:  # Gauss-Seidel: later heads already see this round's tables
            new = facts[p]
            for rule in rules[p]:
                new = sem.or_(new, rule.contribution(env, sem))
            old = tables[p].detach().numpy()
            change = max(change, float(np.abs(new.detach().numpy() - old).max(initial=0.0)))
            tables[p] = new
        if not recursive:
            return rounds, 0.0
        if change < tol:
            break
    return rounds, change


class _ChainEnv(KBEnvironment):
    """The knowledge base's environment, with derived predicates read from ``tables``."""

    def __init__(self, kb, tables):
        super().__init__(kb)
        self.tables = tables

    def atom_truth(self, atom, scope):
        table = self.tables.get(atom.predicate)
        if table is None:
            return super().atom_truth(atom, scope)
        types = self.sig.predicates[atom.predicate].arg_types
        return select(table, atom.args, scope, lambda pos, c: self.const_index(c, types[pos]))


class _Grounded:
    """One Horn rule on a fixed layout: one axis per variable, the head's variables first."""

    def __init__(self, rule, env):
        self.rule = rule
        self.layout = Layout()
        self.scope = {}
        for var in _variables(rule):
            if var.name not in self.scope:
                self.scope[var.name] = self.layout.new_axis(env.var_size(var), var.name)
        n_head = len({a.name for a in rule.head.args if isinstance(a, ast.Var)})
        self.fold = tuple(range(n_head, self.layout.ndim))
        size = math.prod(self.layout.sizes)
        if size > env.kb.max_groundings:
            raise error_at(
                rule.span,
                f"Horn rule: grounding {', '.join(self.layout.names)} has {size:,} values, "
                f"above the budget of {env.kb.max_groundings:,} (raise max_groundings)",
                env.source(rule.span),
            )
        self.shape, self.mask = _head_placement(rule.head, env)
        self.confidence = None
        confidence = env.kb.rule_confidence(rule)
        if isinstance(confidence, nesy.Tensor):  # learnable, in the knowledge base's dtype
            self.confidence = confidence
        elif confidence is not None and confidence != 1.0:
            self.confidence = nesy.tensor(np.asarray(confidence, dtype=env.dtype))

    def body_atoms(self):
        for lit in self.rule.body:
            atom = lit.operand if isinstance(lit, ast.Not) else lit
            if isinstance(atom, ast.Atom):
                yield atom

    def contribution(self, env, sem):
        """The rule's truth for every grounding of its head, shaped like the head's table."""
        compiler = Compiler(env, sem)
        compiler.layout, compiler.axes_of = self.layout, {}
        truth, mask = self.confidence, None
        for lit in self.rule.body:
            if isinstance(lit, ast.Compare):
                m = compiler.compare(lit, self.scope)
                mask = m if mask is None else mask & m
                continue
            t = compiler.node(lit, self.scope)
            truth = t if truth is None else sem.and_(truth, t)
        if truth is None:
            truth = nesy.ones((), dtype=env.dtype)
        full = tuple(self.layout.sizes)
        if tuple(truth.shape) != full:  # every grounding counts once in the fold
            truth = truth.reshape((1,) * (len(full) - truth.ndim) + tuple(truth.shape))
            truth = truth.expand(*full)
        if mask is not None:
            truth = nesy.where(np.broadcast_to(mask, full), truth, 0.0)
        value = or_fold(sem, truth, self.fold)
        if self.mask is None:
            return value
        return nesy.where(self.mask, value.reshape(self.shape), 0.0)


def or_fold(sem, xs, axes):
    """The semantics' ``or`` over ``axes`` (dropped): max, 1 - prod(1 - x), min(1, sum x).

    >>> import nesy
    >>> from nesy.logic.semantics import PRESETS
    >>> or_fold(PRESETS["product"], nesy.tensor([[0.5, 0.5]]), (1,))
    tensor([0.75])
    """
    if not axes:
        return xs
    if sem.or_op == "max":
        return xs.amax(axes)
    if sem.or_op == "probsum":
        return 1.0 - (1.0 - xs).prod(axes)  # Prod's gradient is exact where some 1 - x = 0
    if sem.or_op == "luk":
        return nesy.minimum(xs.sum(axes), 1.0)
    keep = [i for i in range(xs.ndim) if i not in axes]
    moved = xs.permute(*keep, *axes) if keep + list(axes) != list(range(xs.ndim)) else xs
    flat = moved.reshape(tuple(xs.shape[i] for i in keep) + (-1,))
    while flat.shape[-1] > 1:  # pairwise halves: log2(n) rounds of an associative or
        n = flat.shape[-1]
        half = sem.or_(flat[..., : n // 2], flat[..., n // 2 : 2 * (n // 2)])
        flat = nesy.cat([half, flat[..., 2 * (n // 2) :]], dim=-1) if n % 2 else half
    return flat[..., 0] if flat.shape[-1] else nesy.zeros(flat.shape[:-1], dtype=xs.dtype)


def _variables(rule):
    """The rule's variables, the head's first, in order of appearance."""
    return [node for node in ast.walk(rule) if isinstance(node, ast.Var)]


def _head_placement(head, env):
    """(shape, mask) putting a value over the head's distinct variables into the head's
    table: constants index one row, a repeated variable takes the diagonal; (None, None)
    when the head's arguments are distinct variables (the value is the table already)."""
    types = env.sig.predicates[head.predicate].arg_types
    sizes = [env.kb._domain_size(t, head.span) for t in types]
    first = {}
    shape = []
    for pos, arg in enumerate(head.args):
        fresh = isinstance(arg, ast.Var) and arg.name not in first
        if fresh:
            first[arg.name] = pos
        shape.append(sizes[pos] if fresh else 1)
    if len(first) == len(head.args):
        return None, None
    mask = np.ones(sizes, dtype=bool)
    for pos, arg in enumerate(head.args):
        grid = _along(np.arange(sizes[pos]), pos, len(sizes))
        if isinstance(arg, ast.Var) and first[arg.name] != pos:
            mask &= grid == _along(np.arange(sizes[pos]), first[arg.name], len(sizes))
        elif not isinstance(arg, ast.Var):
            mask &= grid == env.const_index(arg, types[pos])
    return tuple(shape), mask


def _along(values, axis, ndim):
    shape = [1] * ndim
    shape[axis] = len(values)
    return values.reshape(shape)

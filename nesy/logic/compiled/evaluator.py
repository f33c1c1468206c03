"""Evaluating a closed formula with fused kernels: ``CompiledFormula`` and its compiler.

``compile_formula(formula, semantics)`` plans every quantifier of a formula once (SymPy body,
inputs, loops) and is cached by formula and semantics. ``CompiledFormula.evaluate(env)``
then evaluates it in an environment (a knowledge base's or ``evaluate``'s tables): parts of
the formula outside every quantifier (a connective joining two closed quantifiers, a ground
atom) are evaluated eagerly on 0-dim tensors, each quantifier by its kernels, inner
quantifiers first.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import sympy

from .. import ast
from ..compiler import Compiler, assign_axes
from ..errors import error_at
from . import kernel_cache
from .autograd import FusedQuantifier, KernelCall
from .codegen import module_source
from .plan import NotFusable, Planner
from .sympy_form import EPS, Exists, ForAll, SymbolicSemantics


class CompileFallbackWarning(UserWarning):
    """A rule (or formula) that cannot be fused is evaluated eagerly instead."""


_CACHE = {}  # (formula, semantics) -> CompiledFormula


def compile_formula(formula, semantics):
    """The ``CompiledFormula`` of a closed ``formula``; ``NotFusable`` says why not."""
    key = (formula, semantics)
    if key not in _CACHE:
        _CACHE[key] = CompiledFormula(formula, semantics)
    return _CACHE[key]


def warn_fallback(what, why):
    warnings.warn(f"{what} is evaluated eagerly, not compiled: {why}", CompileFallbackWarning,
                  stacklevel=3)


class CompiledFormula:
    """A closed formula's quantifiers as planned kernels (compiled by Numba on first use)."""

    def __init__(self, formula, semantics):
        self.formula = formula
        self.semantics = semantics
        planner = Planner(formula, semantics)
        planner.plan_all(formula)
        self.plan_of = planner.plans  # id(Quantified node of ``formula``) -> its plan
        self.plans = sorted(planner.plans.values(), key=lambda p: p.index)
        self._kernels = {}
        self._twins = {}  # id(an equal formula) -> (it, its plan_of, node_of)

    @property
    def title(self):
        return str(self.formula)

    def kernels(self, plan, need, target="cpu"):
        """The module with ``plan``'s kernels for the inputs ``need`` marks for gradients
        (``target``: ``"cpu"`` or ``"cuda"``)."""
        key = (plan.index, tuple(need), target)
        if key not in self._kernels:
            source = module_source([plan], {plan.label: tuple(need)}, self.title, target)
            self._kernels[key] = kernel_cache.load(source)
        return self._kernels[key]

    def source(self, target="cpu"):
        """The generated kernels of every quantifier, every input taking a gradient."""
        need = {p.label: (True,) * len(p.slots) for p in self.plans}
        return module_source(self.plans, need, self.title, target)

    def evaluate(self, env, label=None, max_groundings=None, formula=None):
        """The formula's truth in ``env``, a 0-dim tensor; ``formula``: the caller's own
        copy of it (equal, but perhaps from another place in the source), whose spans the
        errors then point at."""
        formula = self.formula if formula is None else formula
        return FusedCompiler(env, self, label, max_groundings).evaluate(formula)

    def twins(self, formula):
        """``(plan_of, node_of)`` for ``formula``, equal to the compiled one: plans by the id
        of its own quantifier nodes, and its node for the id of each compiled node (None
        when it is the compiled formula itself)."""
        if formula is self.formula:
            return self.plan_of, None
        hit = self._twins.get(id(formula))
        if hit is None or hit[0] is not formula:
            if formula != self.formula:  # equal up to spans, or the walks do not pair up
                raise ValueError(f"{formula} is not the formula compiled: {self.formula}")
            pairs = list(zip(ast.walk(self.formula), ast.walk(formula)))
            plan_of = {id(theirs): self.plan_of[id(mine)] for mine, theirs in pairs
                       if id(mine) in self.plan_of}
            hit = (formula, plan_of, {id(mine): theirs for mine, theirs in pairs})
            if len(self._twins) >= 16:  # evaluate() may pass a new AST each call
                self._twins.pop(next(iter(self._twins)))
            self._twins[id(formula)] = hit
        return hit[1], hit[2]

    def sympy(self):
        """The formula as a SymPy expression: quantifiers as ``ForAll``/``Exists`` over the
        body in the atoms' truths, connectives in the semantics' SymPy forms."""
        return _Display(self).node(self.formula)


class FusedCompiler(Compiler):
    """The eager compiler with every quantifier replaced by its fused kernels."""

    def __init__(self, env, compiled, label=None, max_groundings=None):
        super().__init__(env, compiled.semantics, max_groundings or math.inf, label)
        self.compiled = compiled

    def evaluate(self, formula, free=()):
        self.layout, scope, self.axes_of = assign_axes(formula, self.env)
        self.plan_of, self.node_of = self.compiled.twins(formula)
        return self.node(formula, scope).reshape(())

    def own(self, node):
        """The evaluated formula's node for a node of the compiled one."""
        return node if self.node_of is None else self.node_of[id(node)]

    def quantified(self, node):
        plan = self.plan_of[id(node)]
        return self.layout.place(self.run(node), plan.out_axes)

    def run(self, node):
        import nesy

        plan = self.plan_of[id(node)]
        _, scope = self.axes_of[id(node)]
        sizes = {a: self.layout.sizes[a] for a in plan.loop_axes}
        self.check_budget(node, plan, sizes)
        tables = []
        for slot in plan.slots:
            if slot.child is not None:
                tables.append(self.run(self.own(slot.node)))
            else:
                tables.append(self.atom(slot, scope))
        with nesy.no_grad():
            guards = [_flat(self.atom(s, scope).detach().numpy(), sizes, s.axes)
                      for s in plan.guard_slots]
        terms = []
        for term in plan.terms:
            values, axes = self.env.term_values(self.own(term.node), scope, term.numeric)
            terms.append(_flat(np.asarray(values, np.float64), sizes, term.axes, axes))
        call = KernelCall(self.compiled, plan, sizes, guards, terms, self.env.dtype)
        return FusedQuantifier.apply(call, *tables)

    def atom(self, slot, scope):
        tensor, axes = self.env.atom_truth(self.own(slot.node), scope)
        if tuple(axes) != slot.axes:  # the planner predicts the axes from the variables
            raise RuntimeError(f"{slot.node}: axes {axes}, planned {slot.axes}")
        return tensor

    def check_budget(self, node, plan, sizes):
        """An inner quantifier's output is a table over its free variables: budget it."""
        size = math.prod(sizes[a] for a in plan.out_axes)
        if size > self.max_groundings:
            names = ", ".join(self.layout.names[a] for a in plan.out_axes)
            what = f"rule {self.label}" if self.label else "formula"
            raise error_at(node.span, f"{what}: the inner quantifier's table over {names} has "
                           f"{size:,} values, above the budget of {self.max_groundings:,} "
                           "(raise max_groundings)", self.env.source(node.span))


def _flat(values, sizes, axes, given=None):
    """Guard or term values as a C-contiguous array over ``axes`` (0-dim: one element)."""
    values = np.asarray(values)
    if given is not None and tuple(given) != tuple(axes):
        raise RuntimeError(f"term axes {given}, planned {axes}")
    shape = tuple(sizes[a] for a in axes)
    values = np.ascontiguousarray(np.broadcast_to(values, shape))
    return values.reshape(1) if values.ndim == 0 else values


class _Display:
    """A compiled formula as one SymPy expression, for ``kb.formula``."""

    def __init__(self, compiled):
        self.compiled = compiled
        self.sym = SymbolicSemantics(compiled.semantics)
        self.plan_of = compiled.plan_of

    def node(self, node):
        if isinstance(node, ast.Quantified):
            return self.quantified(self.plan_of[id(node)])
        if isinstance(node, ast.Atom):
            return atom_expr(node)
        if isinstance(node, ast.Not):
            return self.sym.not_(self.node(node.operand))
        if isinstance(node, ast.Binary):
            return self.sym.binary(node.op, self.node(node.left), self.node(node.right))
        if isinstance(node, ast.Compare):
            return sympy.Symbol(f"[{node}]")
        raise NotFusable(f"cannot show a {type(node).__name__} node")

    def quantified(self, plan):
        subs = {EPS: EPS}
        for slot in plan.slots:
            subs[slot.symbol] = (self.quantified(slot.child) if slot.child is not None
                                 else atom_expr(slot.node))
        for slot in plan.guard_slots:
            subs[slot.symbol] = atom_expr(slot.node)
        for symbol, _, compare in plan.compares:
            subs[symbol] = sympy.Symbol(f"[{compare}]")
        node = plan.node
        body = plan.body.xreplace(subs)
        variables = sympy.Tuple(*[sympy.Symbol(v.name) for v in node.variables])
        guard = sympy.true if plan.guard is None else plan.guard.xreplace(subs)
        cls = ForAll if plan.kind == "forall" else Exists
        return cls(body, variables, sympy.Symbol(plan.aggregator), sympy.Float(plan.p, 4),
                   guard)


def atom_expr(atom):
    """``P(x, y)`` as the SymPy application of an undefined function ``P`` to symbols."""
    args = [sympy.Symbol(str(a)) for a in atom.args]
    return sympy.Function(atom.predicate)(*args)

"""A rule's quantifiers as kernel plans: loops, input tables and the body as a SymPy formula.

Each quantifier becomes one plan. Its loops run over its *free* axes (the variables of the
enclosing quantifiers its truth depends on, its output table) and then its own bound axes.
Its inputs are tables, each indexed by some of those axes:

- an atom of the body: the truths ``env.atom_truth`` gives, one value per distinct grounding
  of the atom's own variables (a neural predicate runs on N rows, not on N^k groundings);
- a quantifier nested in the body: its own kernel's output, a table over its free axes,
  computed first (hoisted), so that the loop nest of every kernel stays one plain nest;
- an atom of the guard (no gradient) and the values of comparison terms.

The body is a SymPy expression in one symbol per input (``a0, a1, ...``) and per comparison
(``c0, ...``, a crisp 0 or 1), built with the semantics' SymPy connectives.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy

from .. import ast
from ..compiler import assign_axes, dependencies
from .sympy_form import NotFusable, SymbolicSemantics, unsupported_aggregator

__all__ = ["NotFusable", "Planner", "QuantPlan", "Slot", "Term"]


@dataclass
class Slot:
    """An input table of a kernel: an atom's truths or an inner quantifier's output."""

    name: str  # the array's name in generated code (A0, A1, ...; guard atoms: B0, ...)
    symbol: sympy.Symbol
    node: object  # ast.Atom or ast.Quantified
    axes: tuple  # ascending formula axes the table is indexed by
    child: object = None  # the QuantPlan of an inner quantifier


@dataclass
class Term:
    """Values of a comparison operand (a variable, constant or function term)."""

    name: str  # V0, V1, ...
    node: object
    numeric: bool
    axes: tuple


@dataclass
class QuantPlan:
    """One quantifier as a loop nest: free axes (the output's), then bound axes."""

    index: int
    node: ast.Quantified
    kind: str
    aggregator: str
    p: float
    vacuous: float
    stable: bool
    out_axes: tuple
    bound_axes: tuple
    slots: list = field(default_factory=list)  # differentiable inputs
    guard_slots: list = field(default_factory=list)
    terms: list = field(default_factory=list)
    compares: list = field(default_factory=list)  # (symbol, code, node) per comparison
    body: object = None  # SymPy expression
    guard: object = None  # SymPy expression, or None

    @property
    def loop_axes(self):
        return self.out_axes + self.bound_axes

    @property
    def label(self):
        return f"q{self.index}"


class _UnitSizes:
    """Axis numbering needs no data: every variable gets size 1 here."""

    def var_size(self, var):
        return 1

    def source(self, span):
        return None


def variable_axes(node, scope):
    """The ascending axes of every variable inside an atom's or term's arguments."""
    found = set()
    for n in ast.walk(node):
        if isinstance(n, ast.Var):
            found.add(scope[n.name])
    return tuple(sorted(found))


def _has_arith(compare):
    return isinstance(compare.left, ast.Arith) or isinstance(compare.right, ast.Arith)


class Planner:
    """Builds a ``QuantPlan`` for every quantifier of a closed formula."""

    def __init__(self, formula, semantics):
        self.semantics = semantics
        self.sym = SymbolicSemantics(semantics)
        self.layout, self.scope, self.axes_of = assign_axes(formula, _UnitSizes())
        self.plans = {}  # id(Quantified) -> QuantPlan

    def plan_all(self, formula):
        """Plans of the quantifiers outside any other quantifier (the rest hang below)."""
        tops = []
        stack = [formula]
        while stack:
            node = stack.pop()
            if isinstance(node, ast.Quantified):
                tops.append(self.plan(node, self.scope))
            else:
                stack.extend(reversed(ast.children(node)))
        return tops

    def plan(self, node, scope):
        sem = self.semantics
        agg = sem.forall_op if node.kind == "forall" else sem.exists_op
        why = unsupported_aggregator(agg)
        if why:
            raise NotFusable(why)
        p = node.option("p")
        if p is None:
            p = sem.p_forall if node.kind == "forall" else sem.p_exists
        axes, inner = self.axes_of[id(node)]
        free = dependencies(node, scope, self.axes_of)
        plan = QuantPlan(
            index=len(self.plans), node=node, kind=node.kind, aggregator=agg, p=float(p),
            vacuous=1.0 if node.kind == "forall" else 0.0, stable=sem.stable,
            out_axes=tuple(sorted(free)), bound_axes=tuple(axes),
        )
        self.plans[id(node)] = plan
        builder = _BodyBuilder(self, plan, inner)
        plan.body = builder.expr(node.body, guard=False)
        if node.guard is not None:
            plan.guard = builder.expr(node.guard, guard=True)
        return plan


class _BodyBuilder:
    """One quantifier's body (and guard) as SymPy, collecting its inputs on the way."""

    def __init__(self, planner, plan, scope):
        self.planner = planner
        self.plan = plan
        self.scope = scope
        self.atoms = {}
        self.guard_atoms = {}
        self.terms = {}
        self.compares = {}

    def expr(self, node, guard):
        sym = self.planner.sym
        if isinstance(node, ast.Atom):
            return self.atom(node, guard)
        if isinstance(node, ast.Not):
            return sym.not_(self.expr(node.operand, guard))
        if isinstance(node, ast.Binary):
            return sym.binary(node.op, self.expr(node.left, guard), self.expr(node.right, guard))
        if isinstance(node, ast.Compare):
            return self.compare(node)
        if isinstance(node, ast.Quantified):
            return self.quantified(node)
        raise NotFusable(f"cannot compile a {type(node).__name__} node")

    def atom(self, node, guard):
        table = self.guard_atoms if guard else self.atoms
        if node not in table:
            slots = self.plan.guard_slots if guard else self.plan.slots
            prefix = "B" if guard else "A"
            symbol = sympy.Symbol(f"{prefix.lower()}{len(slots)}", real=True)
            slot = Slot(f"{prefix}{len(slots)}", symbol, node, variable_axes(node, self.scope))
            slots.append(slot)
            table[node] = slot
        return table[node].symbol

    def quantified(self, node):
        child = self.planner.plan(node, self.scope)
        slots = self.plan.slots
        symbol = sympy.Symbol(f"a{len(slots)}", real=True)
        slots.append(Slot(f"A{len(slots)}", symbol, node, child.out_axes, child))
        return symbol

    def compare(self, node):
        key = node
        if key not in self.compares:
            numeric = node.op not in ("=", "!=") or _has_arith(node)
            code = (f"{self.arith(node.left, numeric)} {'==' if node.op == '=' else node.op} "
                    f"{self.arith(node.right, numeric)}")
            symbol = sympy.Symbol(f"c{len(self.plan.compares)}", real=True)
            self.plan.compares.append((symbol, code, node))
            self.compares[key] = symbol
        return self.compares[key]

    def arith(self, node, numeric):
        if isinstance(node, ast.Arith):
            return f"({self.arith(node.left, numeric)} {node.op} {self.arith(node.right, numeric)})"
        key = (node, numeric)
        if key not in self.terms:
            axes = variable_axes(node, self.scope)
            term = Term(f"V{len(self.plan.terms)}", node, numeric, axes)
            self.plan.terms.append(term)
            self.terms[key] = term
        term = self.terms[key]
        return f"{term.name}[{index_code(term.axes)}]"


def index_code(axes):
    """The subscript of a table over ``axes`` inside the loop nest (0-dim tables: [0])."""
    return ", ".join(f"i{a}" for a in axes) if axes else "0"

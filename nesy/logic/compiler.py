"""Formula -> tensor expression: one axis per logical variable, broadcasting, never copies.

Every intermediate truth tensor of a formula has one axis per variable of the formula, of
size 1 where the subformula does not depend on that variable, so connectives broadcast and a
predicate is evaluated once per grounding of its own arguments (``Smokes(x)`` is ``N x 1``,
``Friends(x, y)`` is ``N x N``; their conjunction is ``N x N`` with no copy of either).
A quantifier reduces its variables' axes with the semantics' aggregator; a guard is a boolean
mask handed to the aggregator. Paired variables (``diag(x, y)``) share one axis.

Where the truths of atoms come from is the job of an *environment*: ``evaluate`` uses plain
truth tables; the knowledge base adds features, neural predicates and functions.
"""

from __future__ import annotations

import math

import numpy as np

from . import ast
from .errors import error_at

DEFAULT_MAX_GROUNDINGS = 1 << 30


class Layout:
    """The axes of one formula: variable name -> axis, and each axis's size."""

    def __init__(self):
        self.sizes = []
        self.names = []  # a label per axis, for messages

    def new_axis(self, size, label):
        self.sizes.append(size)
        self.names.append(label)
        return len(self.sizes) - 1

    @property
    def ndim(self):
        return len(self.sizes)

    def place(self, tensor, axes):
        """``tensor`` whose dims are ``axes`` (ascending) as a tensor over all axes."""
        shape = [1] * self.ndim
        for axis, n in zip(axes, tensor.shape):
            shape[axis] = n
        return tensor.reshape(tuple(shape))


def assign_axes(formula, env, free=()):
    """A ``Layout`` and, per quantifier node, its axes; free variables come first."""
    layout = Layout()
    scope = {}
    for var in free:
        scope[var.name] = layout.new_axis(env.var_size(var), var.name)
    axes_of = {}

    def visit(node, scope):
        if isinstance(node, ast.Quantified):
            inner = dict(scope)
            axes = []
            for binder in node.binders:
                sizes = [env.var_size(v) for v in binder.variables]
                if len(set(sizes)) > 1:
                    listing = ", ".join(f"{v.name}: {n}" for v, n in zip(binder.variables, sizes))
                    raise error_at(
                        binder.span,
                        f"paired variables need equal sizes, got {listing}",
                        env.source(binder.span),
                    )
                label = "=".join(v.name for v in binder.variables)
                axis = layout.new_axis(sizes[0], label)
                axes.append(axis)
                for v in binder.variables:
                    inner[v.name] = axis
            axes_of[id(node)] = (tuple(axes), inner)
            scope = inner
        for child in ast.children(node):
            visit(child, scope)

    visit(formula, scope)
    return layout, scope, axes_of


def dependencies(node, scope, axes_of):
    """The set of axes ``node``'s truth depends on."""
    if isinstance(node, ast.Quantified):
        axes, inner = axes_of[id(node)]
        deps = dependencies(node.body, inner, axes_of)
        if node.guard is not None:
            deps |= dependencies(node.guard, inner, axes_of)
        return deps - set(axes)
    if isinstance(node, ast.Var):
        return {scope[node.name]}
    return set().union(*(dependencies(c, scope, axes_of) for c in ast.children(node)))


def largest_grounding(node, scope, axes_of, layout):
    """(values, axes) of the largest tensor evaluating ``node`` builds."""
    best = (1, ())

    def visit(node, scope):
        nonlocal best
        if isinstance(node, ast.Quantified):  # the body (and guard) before reduction
            _, scope = axes_of[id(node)]
            deps = set().union(
                *(dependencies(c, scope, axes_of) for c in (node.guard, node.body) if c)
            )
        else:  # an atom or a negation too: a tensor over its free variables (truth("F(x, y)"))
            deps = dependencies(node, scope, axes_of)
        size = math.prod(layout.sizes[a] for a in deps)
        if size > best[0]:
            best = (size, tuple(sorted(deps)))
        for child in ast.children(node):
            if not isinstance(child, (ast.Var, ast.Const, ast.Ident, ast.Apply, ast.Arith)):
                visit(child, scope)

    visit(node, scope)
    return best


class Compiler:
    """Evaluates one formula in an environment under a semantics, eagerly."""

    def __init__(self, env, semantics, max_groundings=DEFAULT_MAX_GROUNDINGS, label=None):
        self.env = env
        self.semantics = semantics
        self.max_groundings = max_groundings
        self.label = label

    def evaluate(self, formula, free=()):
        """Truth of ``formula``: a 0-dim tensor, or one axis per variable in ``free``."""
        layout, scope, axes_of = assign_axes(formula, self.env, free)
        size, axes = largest_grounding(formula, scope, axes_of, layout)
        if size > self.max_groundings:
            names = ", ".join(layout.names[a] for a in axes)
            what = f"rule {self.label}" if self.label else "formula"
            raise error_at(
                formula.span,
                f"{what}: grounding {names} has {size:,} values "
                f"({' x '.join(str(layout.sizes[a]) for a in axes)}), above the budget of "
                f"{self.max_groundings:,} (raise max_groundings, or compile the rule)",
                self.env.source(formula.span),
            )
        self.layout, self.axes_of = layout, axes_of
        out = self.node(formula, scope)
        shape = tuple(layout.sizes[scope[v.name]] for v in free)
        if tuple(out.shape) != shape:
            out = out.reshape(shape)
        return out

    def node(self, node, scope):
        sem = self.semantics
        if isinstance(node, ast.Atom):
            tensor, axes = self.env.atom_truth(node, scope)
            return self.layout.place(tensor, axes)
        if isinstance(node, ast.Not):
            return sem.not_(self.node(node.operand, scope))
        if isinstance(node, ast.Binary):
            left = self.node(node.left, scope)
            right = self.node(node.right, scope)
            op = {"and": sem.and_, "or": sem.or_, "->": sem.implies, "<->": sem.equiv}[node.op]
            return op(left, right)
        if isinstance(node, ast.Compare):
            return self.constant(self.compare(node, scope))
        if isinstance(node, ast.Quantified):
            return self.quantified(node)
        raise TypeError(f"cannot evaluate {type(node).__name__}")

    def quantified(self, node):
        axes, inner = self.axes_of[id(node)]
        body = self.node(node.body, inner)
        mask = None
        if node.guard is not None:
            mask = self.guard_mask(node.guard, inner)
        aggregate = self.semantics.forall if node.kind == "forall" else self.semantics.exists
        return aggregate(body, tuple(axes), mask=mask, p=node.option("p"))

    def guard_mask(self, guard, scope):
        """The guard as a boolean array over all axes (truth > 0.5), outside autograd."""
        import nesy

        with nesy.no_grad():
            truth = self.node(guard, scope)
        # detach: a guard that is one whole table is that table, which may require grad
        return np.asarray(truth.detach().numpy() > 0.5)

    def compare(self, node, scope):
        """A crisp comparison as a 0/1 array over all axes."""
        left = self.arith(node.left, scope, node)
        right = self.arith(node.right, scope, node)
        ops = {
            "=": np.equal,
            "!=": np.not_equal,
            "<": np.less,
            "<=": np.less_equal,
            ">": np.greater,
            ">=": np.greater_equal,
        }
        return ops[node.op](left, right)

    def arith(self, node, scope, compare):
        if isinstance(node, ast.Arith):
            left = self.arith(node.left, scope, compare)
            right = self.arith(node.right, scope, compare)
            return {"+": np.add, "-": np.subtract, "*": np.multiply}[node.op](left, right)
        numeric = compare.op not in ("=", "!=") or _has_arith(compare)
        values, axes = self.env.term_values(node, scope, numeric)
        shape = [1] * self.layout.ndim
        for axis, n in zip(axes, np.shape(values)):
            shape[axis] = n
        return np.reshape(values, shape)

    def constant(self, array):
        import nesy

        return nesy.tensor(np.asarray(array, dtype=self.env.dtype))


def _has_arith(compare):
    return isinstance(compare.left, ast.Arith) or isinstance(compare.right, ast.Arith)

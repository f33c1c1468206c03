"""Where truths come from: environments that ground atoms and terms for the compiler.

``TableEnvironment`` serves ``nesy.logic.evaluate``: each predicate is a truth table whose
axes are its arguments, and each variable ranges over the size of the axes it indexes.
The knowledge base's environment (``kb_env.py``) adds domains, features and neural models.
Both share ``select``, which turns a table and an atom's arguments into a tensor over the
atom's variables: constants index, repeated or paired variables take a diagonal, and the
remaining axes are put in the formula's axis order (a view, not a copy).
"""

from __future__ import annotations

import numpy as np

from . import ast
from .errors import error_at


def select(table, args, scope, index_of):
    """``table`` (one axis per argument) restricted to ``args``: (tensor, ascending axes).

    ``index_of(position, const)`` gives a constant's index; ``scope`` maps a variable's
    name to its axis in the formula.
    """
    index = []
    var_axes = []
    for pos, arg in enumerate(args):
        if isinstance(arg, ast.Var):
            index.append(slice(None))
            var_axes.append(scope[arg.name])
        else:
            index.append(index_of(pos, arg))
    if any(not isinstance(i, slice) for i in index):
        table = table[tuple(index)]
    distinct = sorted(set(var_axes))
    if len(distinct) == len(var_axes):
        perm = [var_axes.index(a) for a in distinct]
        if perm != list(range(len(perm))):
            table = table.permute(*perm)
        return table, tuple(distinct)
    # a variable twice (R(x, x)) or paired variables: gather the diagonal
    sizes = {a: table.shape[i] for i, a in enumerate(var_axes)}
    gather = []
    for a in var_axes:
        shape = [1] * len(distinct)
        shape[distinct.index(a)] = sizes[a]
        gather.append(np.arange(sizes[a]).reshape(shape))
    return table[tuple(gather)], tuple(distinct)


class TableEnvironment:
    """Truth tables by predicate name; variable ranges from the shapes they index."""

    def __init__(self, tables, source=None, filename="<formula>"):
        import nesy

        self.tables = {}
        for name, table in tables.items():
            if not isinstance(table, nesy.Tensor):
                table = nesy.as_tensor(np.asarray(table))  # no copy: tables can be large
            if not np.issubdtype(table.dtype, np.floating):
                table = table.to(nesy.float32)
            self.tables[name] = table
        dtypes = {t.dtype for t in self.tables.values()}
        self.dtype = np.float64 if np.dtype(np.float64) in dtypes else np.float32
        if len(dtypes) > 1:  # one dtype per formula, as PyTorch would promote
            self.tables = {k: t.to(nesy.float64) for k, t in self.tables.items()}
        self._source = source
        self.filename = filename
        self.sizes = {}

    def source(self, span):
        return self._source

    def fail(self, span, message):
        raise error_at(span, message, self._source)

    def bind_sizes(self, formula):
        """Each variable's range from the tables it indexes; disagreement is an error."""
        seen = {}

        def visit(node):
            if isinstance(node, ast.Atom):
                table = self.tables.get(node.predicate)
                if table is None:
                    given = ", ".join(sorted(self.tables)) or "none"
                    self.fail(node.span, f"undefined predicate {node.predicate!r} (given: {given})")
                if table.ndim != len(node.args):
                    self.fail(
                        node.span,
                        f"{node.predicate} has {len(node.args)} arguments here but its table "
                        f"has {table.ndim} axes (shape {tuple(table.shape)})",
                    )
                for pos, arg in enumerate(node.args):
                    if isinstance(arg, ast.Var):
                        n = table.shape[pos]
                        if arg.name in seen and seen[arg.name][0] != n:
                            first_n, first_atom, first_pos = seen[arg.name]
                            self.fail(
                                arg.span,
                                f"variable {arg.name} ranges over {n} values here (axis {pos} "
                                f"of {node.predicate}, shape {tuple(table.shape)}) but over "
                                f"{first_n} in {first_atom} (axis {first_pos})",
                            )
                        seen.setdefault(arg.name, (n, str(node), pos))
                    elif isinstance(arg, ast.Apply):
                        self.fail(
                            arg.span, "function terms need a knowledge base (nesy.logic.loads)"
                        )
            for child in ast.children(node):
                visit(child)

        visit(formula)
        self.sizes = {name: n for name, (n, _, _) in seen.items()}

    def var_size(self, var):
        if var.name not in self.sizes:
            self.fail(var.span, f"variable {var.name} does not index any table")
        return self.sizes[var.name]

    def atom_truth(self, atom, scope):
        table = self.tables[atom.predicate]

        def index_of(pos, const):
            n = table.shape[pos]
            if const.value is None or const.value != int(const.value) or not 0 <= const.value < n:
                self.fail(
                    const.span,
                    f"constant {const} is not an index of axis {pos} of {atom.predicate} "
                    f"(size {n})",
                )
            return int(const.value)

        return select(table, atom.args, scope, index_of)

    def term_values(self, term, scope, numeric):
        if isinstance(term, ast.Var):
            return np.arange(self.sizes[term.name]), (scope[term.name],)
        if isinstance(term, ast.Const) and term.value is not None:
            return np.asarray(term.value), ()
        self.fail(term.span, f"cannot compare {term} here")


def resolve_untyped(formula, fail):
    """Identifiers of a stand-alone formula: bound ones are variables; others are errors."""
    from dataclasses import replace

    def term(t, scope):
        if isinstance(t, ast.Ident):
            if t.name not in scope:
                fail(
                    t.span,
                    f"{t.name!r} is not bound by a quantifier (a free variable in a closed "
                    "formula); constants in evaluate() are integer indices",
                )
            return ast.Var(t.name, None, t.span)
        if isinstance(t, ast.Arith):
            return replace(t, left=term(t.left, scope), right=term(t.right, scope))
        return t

    def visit(node, scope):
        if isinstance(node, ast.Quantified):
            inner = set(scope)
            for v in node.variables:
                if v.name in scope:
                    fail(v.span, f"{v.name} is already bound by an enclosing quantifier")
                inner.add(v.name)
            guard = None if node.guard is None else visit(node.guard, inner)
            return replace(node, guard=guard, body=visit(node.body, inner))
        if isinstance(node, ast.Not):
            return replace(node, operand=visit(node.operand, scope))
        if isinstance(node, ast.Binary):
            return replace(node, left=visit(node.left, scope), right=visit(node.right, scope))
        if isinstance(node, ast.Compare):
            return replace(node, left=term(node.left, scope), right=term(node.right, scope))
        if isinstance(node, ast.Atom):
            return replace(node, args=tuple(term(a, scope) for a in node.args))
        return node

    return visit(formula, set())

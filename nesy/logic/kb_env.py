"""Grounding atoms in a knowledge base: tables, features, neural predicates and functions.

A neural predicate is evaluated once per distinct grounding of its arguments: for
``Friends(x, y)`` that is N x N rows of concatenated features, for ``Smokes(x)`` N rows.
Each argument contributes the features of its individuals (a domain's feature table or
embedding, one row of it for a constant, or a function's output for a function term).
A predicate with ``output = softmax`` scores every individual of its last argument's domain
at once (``Digit(x, d)``: one row per image, one column per digit).
"""

from __future__ import annotations

import numpy as np

from . import ast
from .errors import error_at
from .grounding import select


class KBEnvironment:
    """The compiler's view of a knowledge base: sizes, truths, features and values."""

    def __init__(self, kb):
        self.kb = kb
        self.sig = kb.signature  # the knowledge base's own copy (bindings change kinds)
        self.dtype = np.dtype(kb.dtype_name)

    def source(self, span):
        return self.kb._sources.get(span.filename)

    def fail(self, span, message):
        raise error_at(span, message, self.source(span))

    def var_size(self, var):
        return self.kb._domain_size(var.domain, var.span)

    def const_index(self, const, domain):
        info = self.sig.domains[domain]
        index = info.index_of(const.name)
        size = self.kb._domain_size(domain, const.span)
        if index is None or index >= size:
            self.fail(const.span, f"unknown individual {const} of domain {domain}")
        return index

    # --- atoms -------------------------------------------------------------------------

    def atom_truth(self, atom, scope):
        info = self.sig.predicates[atom.predicate]
        if not info.learned:
            def index_of(pos, c):
                return self.const_index(c, info.arg_types[pos])

            sliceable = any(isinstance(a, ast.Const) for a in atom.args) and all(
                isinstance(a, (ast.Var, ast.Const)) for a in atom.args)
            rel = self.kb._inferred_relation(atom.predicate) if sliceable else None
            if sliceable and rel is None:
                rel = self.kb._sparse_fact_relation(atom.predicate, atom.span)
            if rel is not None:
                # sparse atoms (a result, or facts over large domains) with constants: read
                # the slice the constants fix, not the whole table
                from .ground_program import sliced_table

                fixed = {pos: index_of(pos, a) for pos, a in enumerate(atom.args)
                         if isinstance(a, ast.Const)}
                table = sliced_table(rel, fixed, self.kb.dtype_name)
                if table.device != self.kb._device:  # a new tensor each read: not cached
                    table = table.to(self.kb._device)
                free = tuple(a for a in atom.args if isinstance(a, ast.Var))
                return select(table, free, scope, index_of)
            table = self.kb._truth_table(atom.predicate, atom.span)
            return select(table, atom.args, scope, index_of)
        return self.neural_truth(atom, info, scope)

    def neural_truth(self, atom, info, scope):
        model, classes = self.kb._model(atom.predicate, atom.span)
        args = atom.args[:-1] if classes else atom.args
        feats, axes, grid = self.features_on_grid(args, info.arg_types, scope)
        out = self.call_model(model, feats, grid, atom)
        out = self._check_output(out, atom, grid, classes)
        if not classes:
            return out.reshape(grid), axes
        out = out.reshape(grid + (out.shape[-1],))
        last = atom.args[-1]
        if isinstance(last, ast.Apply):
            self.fail(
                last.span,
                f"the class argument of {atom.predicate} must be a variable or a constant, "
                f"not the function term {last}",
            )
        if isinstance(last, ast.Const):
            column = self.const_index(last, info.arg_types[-1])
            return out[(slice(None),) * len(grid) + (column,)], axes
        class_axis = scope[last.name]
        if class_axis in axes:
            self.fail(last.span, f"the class argument {last} also appears among the inputs")
        all_axes = list(axes) + [class_axis]
        order = sorted(range(len(all_axes)), key=lambda i: all_axes[i])
        if order != list(range(len(all_axes))):
            out = out.permute(*order)
        return out, tuple(sorted(all_axes))

    def call_model(self, model, feats, grid, where=None):
        """A built-in model takes the concatenated features of its arguments, one row per
        grounding; a bound module or callable takes one tensor per argument."""
        rows = int(np.prod(grid, dtype=np.int64))
        flat = [self._flat(f, grid, rows) for f in feats]
        if getattr(model, "nesy_builtin", False):
            import nesy

            widths = [f.shape[-1] for f in flat]
            if where is not None and sum(widths) != model.sizes[0]:
                self.fail(
                    where.span,
                    f"feature-size mismatch: the model of {where} takes {model.sizes[0]} "
                    f"features, its arguments give {' + '.join(map(str, widths))}",
                )
            return model(flat[0] if len(flat) == 1 else nesy.cat(flat, dim=-1))
        return model(*flat)

    @staticmethod
    def _flat(tensor, grid, rows):
        if tuple(tensor.shape[:-1]) != grid:
            tensor = tensor.expand(*grid, tensor.shape[-1])
        return tensor.reshape(rows, tensor.shape[-1])

    def features_on_grid(self, args, types, scope):
        """Each argument's features over the grid of the arguments' variables: (tensors
        shaped ``grid' + (features,)`` with size 1 where an argument does not vary, the grid
        axes ascending, the grid's sizes)."""
        parts = [self.term_features(arg, dtype, scope) for arg, dtype in zip(args, types)]
        sizes = {}
        for tensor, arg_axes in parts:
            sizes.update(zip(arg_axes, tensor.shape[:-1]))
        axes = tuple(sorted(sizes))
        out = []
        for tensor, arg_axes in parts:
            shape = [1] * len(axes) + [tensor.shape[-1]]
            for a, n in zip(arg_axes, tensor.shape[:-1]):
                shape[axes.index(a)] = n
            out.append(tensor.reshape(tuple(shape)))
        return out, axes, tuple(sizes[a] for a in axes)

    def term_features(self, term, dtype, scope):
        """(features tensor shaped ``(n_axis..., f)``, axes) of one term."""
        if isinstance(term, ast.Var):
            feats = self.kb._features_of(term.domain, term.span)
            return feats, (scope[term.name],)
        if isinstance(term, ast.Const):
            domain = term.domain or dtype
            feats = self.kb._features_of(domain, term.span)
            return feats[self.const_index(term, domain)], ()
        if isinstance(term, ast.Apply):
            return self.function_features(term, scope)
        self.fail(term.span, f"cannot take features of {term}")

    def function_features(self, term, scope):
        info = self.sig.functions[term.function]
        if info.kind == "table":
            table = self.kb._function_table(term.function, term.span)
            index = []
            axes = []
            for arg, dtype in zip(term.args, info.arg_types):
                if isinstance(arg, ast.Var):
                    index.append(slice(None))
                    axes.append(scope[arg.name])
                elif isinstance(arg, ast.Const):
                    index.append(self.const_index(arg, dtype))
                else:
                    self.fail(arg.span, "a function table takes individuals, not function terms")
            if len(set(axes)) != len(axes) or axes != sorted(axes):
                self.fail(term.span, f"{term}: give a function table its variables in order")
            if any(not isinstance(i, slice) for i in index):
                table = table[tuple(index)]
            return table, tuple(axes)
        model, _ = self.kb._model(term.function, term.span)
        feats, axes, grid = self.features_on_grid(term.args, info.arg_types, scope)
        out = self.call_model(model, feats, grid, term)
        return out.reshape(grid + (out.shape[-1],)), axes

    def _check_output(self, out, atom, grid, classes):
        import nesy

        rows = int(np.prod(grid, dtype=np.int64))
        if not isinstance(out, nesy.Tensor):
            out = nesy.tensor(np.asarray(out, dtype=self.dtype))
        values = out.detach().numpy()
        expected = rows * (out.shape[-1] if classes else 1)
        if values.size != expected:
            self.fail(
                atom.span,
                f"{atom.predicate} returned {values.size} values for {rows} groundings "
                f"(shape {tuple(out.shape)})",
            )
        if np.isnan(values).any():
            self.fail(atom.span, f"{atom.predicate} returned NaN for some groundings")
        if values.min(initial=0.0) < 0.0 or values.max(initial=0.0) > 1.0:
            self.fail(
                atom.span,
                f"{atom.predicate} returned truths outside [0, 1] (min {values.min():g}, "
                f"max {values.max():g}); end the model with a sigmoid or softmax",
            )
        return out

    # --- comparisons -------------------------------------------------------------------

    def term_values(self, term, scope, numeric):
        if isinstance(term, ast.Var):
            info = self.sig.domains[term.domain]
            if info.numeric:
                return np.asarray(info.values, dtype=np.float64), (scope[term.name],)
            if numeric:
                self.fail(term.span, f"{term} is in domain {term.domain}, which has no numbers")
            return np.arange(self.var_size(term)), (scope[term.name],)
        if isinstance(term, ast.Const):
            if term.value is not None:
                return np.asarray(term.value), ()
            if numeric:
                self.fail(term.span, f"{term} is not a number")
            if term.domain is None:
                self.fail(term.span, f"cannot tell which domain's individual {term} is")
            return np.asarray(self.const_index(term, term.domain)), ()
        if isinstance(term, ast.Apply):
            import nesy

            with nesy.no_grad():
                feats, axes = self.function_features(term, scope)
            if feats.shape[-1] != 1:
                self.fail(term.span, f"{term} has {feats.shape[-1]} features; compare needs one")
            return feats.detach().numpy()[..., 0], axes
        self.fail(term.span, f"cannot compare {term}")

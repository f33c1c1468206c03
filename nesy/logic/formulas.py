"""Checking first-order formulas: variable scopes, free variables, and domain inference.

A variable's domain comes from ``x in D`` where it is bound, or from the argument positions
it fills (``Smokes(x)`` with ``predicate Smokes(Person)`` makes ``x`` a Person). Two
different domains for one variable, or none at all, are errors.
"""

from __future__ import annotations

from dataclasses import replace

from . import ast
from .signature import DEFAULT_DOMAIN


class _Binding:
    """One bound (or, in a query, free) variable and what is known about its domain."""

    def __init__(self, var, declared):
        self.var = var
        self.declared = declared  # domain written as ``x in D``, or None
        self.uses = []  # (domain, span)
        self.same_as = []  # bindings compared with ``=`` / ``!=``
        self.reported = False  # used where an error is already reported: infer nothing

    def domain(self):
        if self.declared:
            return self.declared
        return self.uses[0][0] if self.uses else None


def resolve_formula(checker, formula, closed):
    """``formula`` with identifiers resolved and variables typed; problems reported."""
    resolver = _Resolver(checker, closed)
    resolver.collect(formula, {})
    resolver.infer()
    return resolver.rebuild(formula, {})


class _Resolver:
    def __init__(self, checker, closed):
        self.checker = checker
        self.sig = checker.sig
        self.closed = closed
        self.bindings = {}  # id(Var in binder) or ("free", name) -> _Binding
        self.free = {}
        self.unbound = set()  # names reported as free variables of a closed formula

    # pass 1: scopes and uses

    def collect(self, node, scope):
        if isinstance(node, ast.Quantified):
            inner = dict(scope)
            for var in node.variables:
                if var.name in scope:
                    scope[var.name].reported = True
                    self.checker.error(
                        var.span,
                        f"{var.name} is already bound by an enclosing quantifier; use another name",
                    )
                if var.domain is not None and var.domain not in self.sig.domains:
                    self.checker.error(var.span, f"undefined domain {var.domain!r}")
                binding = _Binding(var, var.domain if var.domain in self.sig.domains else None)
                self.bindings[id(var)] = binding
                inner[var.name] = binding
            if node.guard is not None:
                if any(isinstance(n, ast.Quantified) for n in ast.walk(node.guard)):
                    self.checker.error(node.guard.span, "a guard cannot contain a quantifier")
                self.collect(node.guard, inner)
            self.collect(node.body, inner)
        elif isinstance(node, ast.Not):
            self.collect(node.operand, scope)
        elif isinstance(node, ast.Binary):
            self.collect(node.left, scope)
            self.collect(node.right, scope)
        elif isinstance(node, ast.Atom):
            info = self.checker._predicate(node)
            if info is None:
                self.collect_reported(node.args, scope)
            for arg, dtype in zip(node.args, info.arg_types if info else ()):
                self.collect_term(arg, dtype, scope, table=not info.learned)
        elif isinstance(node, ast.Compare):
            left = self.collect_arith(node.left, scope)
            right = self.collect_arith(node.right, scope)
            if isinstance(left, _Binding) and isinstance(right, _Binding):
                left.same_as.append(right)
                right.same_as.append(left)

    def collect_term(self, term, dtype, scope, table=False):
        if isinstance(term, ast.Ident):
            binding = self.lookup(term, scope)
            if binding is not None and dtype is not None:
                binding.uses.append((dtype, term.span))
            return binding
        if isinstance(term, ast.Apply):
            info = self.sig.functions.get(term.function)
            if info is None:
                what = "a predicate" if term.function in self.sig.predicates else "undefined"
                self.checker.error(term.span, f"function {term.function!r} is {what}")
                self.collect_reported(term.args, scope)
                return None
            if len(term.args) != len(info.arg_types):
                self.checker.error(
                    term.span,
                    f"{term.function} takes {len(info.arg_types)} arguments, got {len(term.args)}",
                )
                self.collect_reported(term.args, scope)
                return None
            if table:
                self.checker.error(
                    term.span,
                    f"{term} is a feature vector; a table predicate takes individuals "
                    "(only neural predicates and functions accept function terms)",
                )
            elif dtype is not None and isinstance(info.result, str) and info.result != dtype:
                # a size result (``-> 4``) is a bare feature vector: it may stand for any
                # argument of a neural predicate, and its size is checked when evaluated
                self.checker.error(term.span, f"{term} has domain {info.result}, expected {dtype}")
            for arg, t in zip(term.args, info.arg_types):
                self.collect_term(arg, t, scope)
        return None

    def collect_reported(self, args, scope):
        """Arguments of a term already reported: their variables get no domain from it."""
        for arg in args:
            binding = self.collect_term(arg, None, scope)
            if binding is not None:
                binding.reported = True

    def collect_arith(self, node, scope):
        if isinstance(node, ast.Arith):
            self.collect_arith(node.left, scope)
            self.collect_arith(node.right, scope)
            return None
        return self.collect_term(node, None, scope)

    def lookup(self, ident, scope):
        if ident.name in scope:
            return scope[ident.name]
        if ident.name in self.checker.constants:
            return None  # a constant
        if self.closed:
            self.unbound.add(ident.name)
            self.checker.error(
                ident.span,
                f"{ident.name!r} is not bound by a quantifier and is not a declared "
                "constant (a free variable in a closed formula)",
            )
            return None
        if ident.name not in self.free:
            self.free[ident.name] = _Binding(ast.Var(ident.name, span=ident.span), None)
        return self.free[ident.name]

    # inference

    def infer(self):
        bindings = list(self.bindings.values()) + list(self.free.values())
        for _ in range(len(bindings)):  # propagate through = and != comparisons
            for b in bindings:
                if b.domain() is None:
                    for other in b.same_as:
                        if other.domain() is not None:
                            b.uses.append((other.domain(), b.var.span))
                            break
        for b in bindings:
            domain = b.domain()
            for dtype, span in b.uses:
                if dtype != domain:
                    where = "its binder" if b.declared else f"{b.uses[0][1]}"
                    self.checker.error(
                        span,
                        f"variable {b.var.name} is used as {dtype} here and as {domain} at {where}",
                    )
                    break
            if domain is None and not b.reported:
                if DEFAULT_DOMAIN in self.sig.domains and len(self.sig.domains) == 1:
                    b.declared = DEFAULT_DOMAIN
                else:
                    self.checker.error(
                        b.var.span,
                        f"cannot infer the domain of {b.var.name}; write '{b.var.name} in Domain'",
                    )

    # pass 2: rebuild

    def rebuild(self, node, scope):
        if isinstance(node, ast.Quantified):
            inner = dict(scope)
            variables = {}
            for var in node.variables:
                binding = self.bindings[id(var)]
                typed = replace(var, domain=binding.domain())
                variables[id(var)] = typed
                inner[var.name] = typed
            binders = tuple(
                replace(b, variables=tuple(variables[id(v)] for v in b.variables))
                for b in node.binders
            )
            guard = None if node.guard is None else self.rebuild(node.guard, inner)
            return replace(node, binders=binders, guard=guard, body=self.rebuild(node.body, inner))
        if isinstance(node, ast.Not):
            return replace(node, operand=self.rebuild(node.operand, scope))
        if isinstance(node, (ast.Binary, ast.Compare, ast.Arith)):
            return replace(
                node, left=self.rebuild(node.left, scope), right=self.rebuild(node.right, scope)
            )
        if isinstance(node, ast.Atom):
            info = self.sig.predicates.get(node.predicate)
            types = info.arg_types if info else (None,) * len(node.args)
            return replace(
                node, args=tuple(self.term(a, t, scope) for a, t in zip(node.args, types))
            )
        return self.term(node, None, scope)

    def term(self, term, dtype, scope):
        if isinstance(term, ast.Ident):
            if term.name in scope:
                return replace(scope[term.name], span=term.span)
            if term.name in self.free:
                return ast.Var(term.name, self.free[term.name].domain(), term.span)
            if term.name in self.unbound:
                return term
            return self.constant(term, dtype)
        if isinstance(term, ast.Const):
            return self.constant(term, dtype)
        if isinstance(term, ast.Apply):
            info = self.sig.functions.get(term.function)
            types = info.arg_types if info else (None,) * len(term.args)
            return replace(
                term, args=tuple(self.term(a, t, scope) for a, t in zip(term.args, types))
            )
        return term

    def constant(self, term, dtype):
        if dtype is None:
            domains = self.checker.constants.get(term.name, [])
            if len(domains) == 1:
                dtype = domains[0]
            elif getattr(term, "value", None) is not None:
                return ast.Const(term.name, None, term.value, term.span)
            elif not domains:
                return term
        return self.checker._constant(term, dtype)

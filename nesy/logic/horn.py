"""Checking Horn rules: variables versus constants, domains, and range restriction.

In a Horn rule a bare identifier is a variable unless it is a declared constant. Every
variable of the head, of a negated literal or of a comparison must occur in a positive body
atom (range restriction), so that forward chaining only ever joins known groundings.
"""

from __future__ import annotations

from dataclasses import replace

from . import ast
from .signature import DEFAULT_DOMAIN


def resolve_horn(checker, rule):
    """``rule`` with identifiers resolved and typed; problems reported to ``checker``."""
    types = {}  # variable name -> (domain, span of first use)
    positive = set()
    atoms = [(rule.head, "head")] + [
        (lit.operand if isinstance(lit, ast.Not) else lit, _role(lit)) for lit in rule.body
    ]
    for atom, role in atoms:
        if not isinstance(atom, ast.Atom):
            continue
        info = checker._predicate(atom)
        if info is None:  # reported; its variables count as bound, to report nothing more
            if role == "pos":
                positive.update(a.name for a in atom.args if _is_variable(checker, a))
            continue
        for arg, dtype in zip(atom.args, info.arg_types):
            if _is_variable(checker, arg):
                if role == "pos":
                    positive.add(arg.name)
                if dtype is None:
                    continue
                first = types.setdefault(arg.name, (dtype, arg.span))
                if first[0] != dtype:
                    checker.error(
                        arg.span,
                        f"variable {arg.name} is used as {dtype} here and as {first[0]} at "
                        f"{first[1]}",
                    )
            elif isinstance(arg, ast.Apply):
                checker.error(arg.span, "Horn rules take individuals, not function terms")
    _infer_head_types(checker, rule.head, types)
    unbound = []
    for atom, role in atoms:
        for name, span in _variables(checker, atom):
            if role != "pos" and name not in positive and name not in unbound:
                unbound.append(name)
                where = {"head": "the head", "neg": "a negated literal"}.get(role, "a comparison")
                checker.error(
                    span,
                    f"unbound variable {name} in {where}: it must occur in a positive body atom",
                )
    head = _rebuild_atom(checker, rule.head, types)
    body = tuple(_rebuild_literal(checker, lit, types) for lit in rule.body)
    return replace(rule, head=head, body=body)


def _role(literal):
    if isinstance(literal, ast.Not):
        return "neg"
    return "pos" if isinstance(literal, ast.Atom) else "cmp"


def _infer_head_types(checker, head, types):
    """An undeclared derived predicate takes its argument domains from its first rule."""
    info = checker.sig.predicates.get(head.predicate)
    if info is None or info.declared or len(head.args) != info.arity:
        return
    new = list(info.arg_types)
    for i, arg in enumerate(head.args):
        if new[i] is None and _is_variable(checker, arg) and arg.name in types:
            new[i] = types[arg.name][0]
        elif new[i] is None and isinstance(arg, (ast.Ident, ast.Const)):
            domains = checker.constants.get(arg.name, [])
            if not domains:  # where an untyped argument ends up anyway; the constant joins it
                checker._domain_for_constants(DEFAULT_DOMAIN, head.span)
                domains = [DEFAULT_DOMAIN]
            new[i] = domains[0] if len(domains) == 1 else None
    info.arg_types = tuple(new)
    for arg, dtype in zip(head.args, new):
        if dtype is not None and _is_variable(checker, arg):
            types.setdefault(arg.name, (dtype, arg.span))


def _is_variable(checker, term):
    return isinstance(term, ast.Ident) and term.name not in checker.constants


def _variables(checker, node):
    if isinstance(node, ast.Atom):
        return [(a.name, a.span) for a in node.args if _is_variable(checker, a)]
    if isinstance(node, (ast.Compare, ast.Arith)):
        return _variables(checker, node.left) + _variables(checker, node.right)
    if _is_variable(checker, node):
        return [(node.name, node.span)]
    return []


def _rebuild_literal(checker, lit, types):
    if isinstance(lit, ast.Not):
        return replace(lit, operand=_rebuild_literal(checker, lit.operand, types))
    if isinstance(lit, ast.Atom):
        return _rebuild_atom(checker, lit, types)
    # ``y != "c"``: the constant is an individual of the variable's domain
    left_type = _term_type(checker, lit.right, types)
    right_type = _term_type(checker, lit.left, types)
    return replace(
        lit,
        left=_rebuild_term(checker, lit.left, left_type, types),
        right=_rebuild_term(checker, lit.right, right_type, types),
    )


def _term_type(checker, term, types):
    """The domain of ``term`` when it is a typed variable of the rule, else None."""
    if _is_variable(checker, term) and term.name in types:
        return types[term.name][0]
    return None


def _rebuild_atom(checker, atom, types):
    info = checker.sig.predicates.get(atom.predicate)
    arg_types = (
        info.arg_types if info and info.arity == len(atom.args) else (None,) * len(atom.args)
    )
    return replace(
        atom, args=tuple(_rebuild_term(checker, a, t, types) for a, t in zip(atom.args, arg_types))
    )


def _rebuild_term(checker, term, dtype, types):
    if isinstance(term, ast.Arith):
        return replace(
            term,
            left=_rebuild_term(checker, term.left, None, types),
            right=_rebuild_term(checker, term.right, None, types),
        )
    if _is_variable(checker, term):
        domain = types.get(term.name, (dtype or DEFAULT_DOMAIN, None))[0]
        return ast.Var(term.name, domain, term.span)
    if isinstance(term, (ast.Ident, ast.Const)):
        if dtype is None:
            domains = checker.constants.get(term.name, [])
            if len(domains) == 1:
                dtype = domains[0]
            else:
                value = getattr(term, "value", None)
                return ast.Const(term.name, None, value, term.span, getattr(term, "quoted", False))
        return checker._constant(term, dtype, in_rule=True)
    return term

"""Text -> AST: the Lark grammar next to this file, one transformer method per rule.

Syntax errors become ``RuleError`` with line, column, the source line, a caret and what
the parser expected there. ``import "other.nesy".`` statements are inlined by ``parse_file``
(relative to the importing file), and an import cycle is an error naming the chain.
"""

from __future__ import annotations

import functools
import os
import re

from . import ast
from .errors import RuleError, error_at

_GRAMMAR = os.path.join(os.path.dirname(__file__), "grammar.lark")


@functools.cache
def _lark():
    import lark

    with open(_GRAMMAR, encoding="utf-8") as f:
        return lark.Lark(
            f.read(),
            parser="lalr",
            start=["start", "formula"],
            propagate_positions=True,
            maybe_placeholders=True,
        )


def parse_text(text, filename="<string>", start="start"):
    """The statements of one file, imports not followed (``Import`` nodes kept); with
    ``start="formula"``, one formula."""
    import lark

    try:
        tree = _lark().parse(text, start=start)
    except lark.exceptions.UnexpectedInput as exc:
        raise _syntax_error(exc, text, filename) from None
    try:
        return _Builder(filename, text).transform(tree)
    except lark.exceptions.VisitError as exc:
        if isinstance(exc.orig_exc, RuleError):
            raise exc.orig_exc from None
        raise


def parse_file(path=None, text=None, filename=None):
    """A ``Program`` with imports inlined (depth first, each file once), from a path or text.

    Relative import paths are resolved against the importing file's folder (the current
    folder for text without a file).
    """
    sources = []
    statements = []
    seen = set()

    def visit(text, filename, folder, chain):
        sources.append((filename, text))
        for stmt in parse_text(text, filename):
            if not isinstance(stmt, ast.Import):
                statements.append(stmt)
                continue
            target = os.path.realpath(os.path.join(folder, stmt.path))
            if target in chain:
                names = " -> ".join(os.path.basename(p) for p in chain + [target])
                raise error_at(stmt.span, f"import cycle: {names}", text)
            if target in seen:
                continue
            try:
                with open(target, encoding="utf-8") as f:
                    imported = f.read()
            except OSError as exc:
                raise error_at(
                    stmt.span, f"cannot import {stmt.path!r}: {exc.strerror}", text
                ) from None
            seen.add(target)
            visit(imported, _display_name(target), os.path.dirname(target), chain + [target])

    if path is not None:
        path = os.fspath(path)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        real = os.path.realpath(path)
        seen.add(real)
        visit(text, filename or path, os.path.dirname(real), [real])
        name = filename or path
    else:
        name = filename or "<string>"
        visit(text, name, os.getcwd(), [])
    return ast.Program(tuple(statements), name, tuple(sources))


def _display_name(path):
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return path if rel.startswith(".." + os.sep + "..") else rel


# --- syntax errors -------------------------------------------------------------------------

_READABLE = {
    "NAME": "a name",
    "INT": "a number",
    "DECIMAL": "a number",
    "STRING": "a quoted string",
    "COMPARE": "a comparison (= != < <= > >=)",
    "ADD": "'+', '-'",
    "MUL": "'*'",
    "$END": "end of file",
}


def _describe(name):
    if name in _READABLE:
        return _READABLE[name]
    try:
        pattern = _lark().get_terminal(name).pattern
    except KeyError:
        return name
    if pattern.type == "str":
        return repr(pattern.value)
    return name


def _syntax_error(exc, text, filename):
    import lark

    line, column = getattr(exc, "line", 1), getattr(exc, "column", 1)
    if isinstance(exc, lark.exceptions.UnexpectedCharacters):
        char = text[exc.pos_in_stream] if exc.pos_in_stream < len(text) else "end of file"
        message = f"unexpected character {char!r}"
    elif isinstance(exc, lark.exceptions.UnexpectedEOF) or exc.token.type == "$END":
        message = "unexpected end of file"
        # just after the last token (Lark's $END borrows its end), not after a comment
        token = getattr(exc, "token", None)
        end = getattr(token, "end_line", None), getattr(token, "end_column", None)
        line, column = end if None not in end else _end_position(text)
    else:
        message = f"unexpected {exc.token.value!r}"
    expected = _expected(exc)
    if expected:
        message += "; expected " + _join_or(expected)
    if _starts_line(text, line, column) and "'.'" in expected:
        message += " (is the '.' missing at the end of the statement before?)"
    if line is None or line < 1:
        line, column = _end_position(text)
    span = ast.Span(filename, line, column)
    return error_at(span, "syntax error: " + message, text)


def _expected(exc):
    names = getattr(exc, "expected", None) or getattr(exc, "allowed", None) or ()
    interactive = getattr(exc, "interactive_parser", None)
    if interactive is not None:  # also lists keywords, which Lark folds into NAME otherwise
        names = interactive.accepts()
    described = {_describe(n) for n in names} - {"WS", "COMMENT"}
    described = {d for d in described if d.isascii()}  # the Unicode synonyms are noise here
    # symbols first, then words: "'.', ')' or 'and'" reads better than alphabetical soup
    return sorted(described, key=lambda d: (d[0] != "'" or d[1:2].isalpha(), d))


def _starts_line(text, line, column):
    lines = text.splitlines()
    return 1 <= line <= len(lines) and not lines[line - 1][: column - 1].strip()


def _join_or(items):
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def _end_position(text):
    lines = text.splitlines() or [""]
    return len(lines), len(lines[-1]) + 1


# --- the transformer -----------------------------------------------------------------------


class _Learnable:
    """The parsed ``t(initial) ::`` prefix of a Horn rule."""

    def __init__(self, initial):
        self.initial = initial


def _anonymous_name(span):
    """``rule@LINE:COL`` (``rule@FILE:LINE:COL`` in a file): unique across imports."""
    where = "" if span.filename.startswith("<") else os.path.basename(span.filename) + ":"
    return f"rule@{where}{span.line}:{span.column}"


def _unquote(token):
    return re.sub(r"\\(.)", r"\1", str(token)[1:-1])


def _number(token):
    text = str(token)
    return int(text) if re.fullmatch(r"[0-9]+", text) else float(text)


def _is_number_token(item):
    return getattr(item, "type", None) in ("INT", "DECIMAL")


class _Builder:
    """Lark tree -> AST nodes carrying spans (the file name, line and column)."""

    def __init__(self, filename, text):
        self.filename = filename
        self.text = text

    def transform(self, tree):
        import lark

        transformer = lark.Transformer()
        for name in dir(self):
            if name.startswith("rule_"):
                setattr(transformer, name[5:], lark.v_args(meta=True)(getattr(self, name)))
        return transformer.transform(tree)

    def span(self, meta_or_token):
        line = getattr(meta_or_token, "line", None)
        column = getattr(meta_or_token, "column", None)
        if line is None:
            return ast.Span(self.filename, 1, 1)
        return ast.Span(self.filename, line, column)

    def fail(self, where, message):
        raise error_at(self.span(where), message, self.text)

    # statements

    def rule_start(self, meta, children):
        return tuple(children)

    def rule_import_stmt(self, meta, children):
        return ast.Import(_unquote(children[0]), self.span(meta))

    def rule_semantics_stmt(self, meta, children):
        preset, options = children
        return ast.SemanticsDecl(
            str(preset) if preset is not None else None, options or (), self.span(meta)
        )

    def rule_domain_stmt(self, meta, children):
        name, body = children
        span = self.span(meta)
        if body is None:
            return ast.DomainDecl(str(name), span=span)
        kind, payload = body
        if kind == "sized":
            return ast.DomainDecl(str(name), size=payload, span=span)
        if kind == "range":
            lo, hi, where = payload
            if hi < lo:
                self.fail(where, f"empty range {lo}..{hi} for domain {name}")
            consts = tuple(ast.Const(str(v), str(name), float(v), span) for v in range(lo, hi + 1))
            return ast.DomainDecl(str(name), consts, numeric=True, span=span)
        numeric = all(c.value is not None for c in payload)
        consts = tuple(
            ast.Const(c.name, str(name), c.value if numeric else None, c.span) for c in payload
        )
        return ast.DomainDecl(str(name), consts, numeric=numeric, span=span)

    def rule_enumerated(self, meta, children):
        return ("enumerated", tuple(self._individual(c) for c in children))

    def _individual(self, token):
        span = self.span(token)
        if token.type == "STRING":
            return ast.Const(_unquote(token), span=span)
        if _is_number_token(token):
            return ast.Const(str(token), value=float(_number(token)), span=span)
        return ast.Const(str(token), span=span)

    def rule_int_range(self, meta, children):
        return ("range", (int(children[0]), int(children[1]), children[0]))

    def rule_sized(self, meta, children):
        return ("sized", int(children[0]))

    def rule_features_stmt(self, meta, children):
        domain, (kind, value) = children
        span = self.span(meta)
        if kind == "embedding":
            return ast.FeaturesDecl(str(domain), embedding_size=value, span=span)
        return ast.FeaturesDecl(str(domain), path=value, span=span)

    def rule_embedding(self, meta, children):
        return ("embedding", int(children[0]))

    def rule_table_file(self, meta, children):
        return ("file", _unquote(children[0]))

    def rule_predicate_decl(self, meta, children):
        name, types, model = children
        return ast.PredicateDecl(str(name), types or (), model, self.span(meta))

    def rule_function_decl(self, meta, children):
        name, types, result, model = children
        result = int(result) if result.type == "INT" else str(result)
        return ast.FunctionDecl(str(name), types, result, model, self.span(meta))

    def rule_type_list(self, meta, children):
        return tuple(str(c) for c in children)

    def rule_model(self, meta, children):
        kind, options = children
        return ast.ModelSpec(str(kind), options or (), span=self.span(kind))

    def rule_model_file(self, meta, children):
        return ast.ModelSpec("table", path=_unquote(children[0]), span=self.span(children[0]))

    def rule_constant_decl(self, meta, children):
        *names, domain = children
        return ast.ConstantDecl(
            tuple(str(n) for n in names), str(domain) if domain else None, self.span(meta)
        )

    def rule_rule_stmt(self, meta, children):
        name, options, formula = children
        weight = 1.0
        for opt in options or ():
            if opt.key != "weight":
                self.fail(opt.span, f"unknown rule option {opt.key!r}; expected 'weight'")
            if not isinstance(opt.value, (int, float)) or isinstance(opt.value, bool):
                self.fail(opt.span, f"rule weight must be a number, got {opt.value!r}")
            if opt.value < 0:
                self.fail(opt.span, f"rule weight must be >= 0, got {opt.value}")
            weight = float(opt.value)
        return ast.Constraint(str(name), formula, weight, span=self.span(meta))

    def rule_query_stmt(self, meta, children):
        name, formula = children
        return ast.Query(str(name), formula, self.span(meta))

    def rule_option_list(self, meta, children):
        return tuple(c for c in children if c is not None)

    def rule_option(self, meta, children):
        key, value = children
        return ast.Option(str(key), value, self.span(meta))

    def rule_number(self, meta, children):
        return _number(children[0])

    def rule_string(self, meta, children):
        return _unquote(children[0])

    def rule_word(self, meta, children):
        word = str(children[0])
        return {"true": True, "false": False}.get(word, word)

    def rule_list_value(self, meta, children):
        return tuple(c for c in children if c is not None)

    # facts, Horn rules, anonymous constraints

    def rule_clause(self, meta, children):
        degree_token, formula, body = children
        span = self.span(meta)
        degree = degree_token
        learnable = isinstance(degree, _Learnable)
        if body is not None:
            if not isinstance(formula, ast.Atom):
                self.fail(formula.span, f"the head of a rule must be an atom, got '{formula}'")
            if learnable:
                return ast.HornRule(formula, body, degree.initial, span, learnable=True)
            return ast.HornRule(formula, body, degree, span)
        if learnable:
            self.fail(span, "'t(...) ::' makes a Horn rule's confidence learnable; a fact's "
                      "degree is given ('0.7 :: Fact.') or set from Python with set_truths")
        if isinstance(formula, ast.Atom):
            return ast.Fact(formula, 1.0 if degree is None else degree, span)
        if isinstance(formula, ast.Not) and isinstance(formula.operand, ast.Atom):
            if degree is not None:
                self.fail(span, "a negated fact has degree 0; write 'DEGREE :: Atom.' instead")
            return ast.Fact(formula.operand, 0.0, span)
        if degree is not None:
            self.fail(
                span,
                "'DEGREE ::' applies to a fact or a Horn rule; give a constraint a weight "
                "with 'rule NAME (weight = W): formula.'",
            )
        return ast.Constraint(_anonymous_name(span), formula, 1.0, anonymous=True, span=span)

    def rule_degree(self, meta, children):
        return float(_number(children[0]))

    def rule_learnable_degree(self, meta, children):
        """``t(0.5) ::`` (``t(_)``: from 0.5), as in ProbLog: a learnable confidence."""
        inner = str(children[0]).split("(", 1)[1].split(")", 1)[0].strip()
        return _Learnable(0.5 if inner == "_" else float(inner))

    def rule_body(self, meta, children):
        for literal in children:
            inner = literal.operand if isinstance(literal, ast.Not) else literal
            if not isinstance(inner, (ast.Atom, ast.Compare)):
                self.fail(
                    literal.span,
                    f"a rule body holds atoms, 'not' atoms and comparisons, got '{literal}'",
                )
        return tuple(children)

    # formulas

    def rule_iff(self, meta, children):
        return ast.Binary("<->", children[0], children[1], self.span(meta))

    def rule_implies(self, meta, children):
        return ast.Binary("->", children[0], children[1], self.span(meta))

    def rule_disj(self, meta, children):
        return ast.Binary("or", children[0], children[1], self.span(meta))

    def rule_conj(self, meta, children):
        return ast.Binary("and", children[0], children[1], self.span(meta))

    def rule_negation(self, meta, children):
        return ast.Not(children[0], self.span(meta))

    def rule_forall(self, meta, children):
        return self._quantified("forall", meta, children)

    def rule_exists(self, meta, children):
        return self._quantified("exists", meta, children)

    def _quantified(self, kind, meta, children):
        options, binders, guard, body = children
        for opt in options or ():
            if opt.key != "p":
                self.fail(opt.span, f"unknown quantifier option {opt.key!r}; expected 'p'")
            if isinstance(opt.value, bool) or not isinstance(opt.value, (int, float)):
                self.fail(opt.span, f"p must be a positive number, got {opt.value!r}")
            if opt.value <= 0:
                self.fail(opt.span, f"p must be a positive number, got {opt.value}")
        return ast.Quantified(kind, binders, guard, body, options or (), self.span(meta))

    def rule_quant_options(self, meta, children):
        return tuple(children)

    def rule_binder_list(self, meta, children):
        return tuple(children)

    def rule_binder(self, meta, children):
        name, domain = children
        var = ast.Var(str(name), str(domain) if domain else None, self.span(name), bool(domain))
        return ast.Binder((var,), self.span(meta))

    def rule_paired(self, meta, children):
        variables = tuple(b.variables[0] for b in children)
        if len(variables) < 2:
            self.fail(meta, "diag(...) pairs at least two variables")
        return ast.Binder(variables, self.span(meta))

    def rule_guard(self, meta, children):
        return children[0]

    def rule_atom(self, meta, children):
        name, *args = children
        args = tuple(a for a in args if a is not None)
        return ast.Atom(str(name), args, self.span(meta))

    def rule_comparison(self, meta, children):
        left, op, right = children
        return ast.Compare(str(op), left, right, self.span(meta))

    def rule_arith_op(self, meta, children):
        left, op, right = children
        return ast.Arith(str(op), left, right, self.span(meta))

    def rule_ident(self, meta, children):
        return ast.Ident(str(children[0]), self.span(meta))

    def rule_quoted(self, meta, children):
        return ast.Const(_unquote(children[0]), span=self.span(meta), quoted=True)

    def rule_number_term(self, meta, children):
        token = children[0]
        return ast.Const(str(token), value=float(_number(token)), span=self.span(meta))

    def rule_apply(self, meta, children):
        name, *args = children
        return ast.Apply(str(name), tuple(a for a in args if a is not None), self.span(meta))


__all__ = ["parse_text", "parse_file", "RuleError"]

"""The checker: names, arities, types, variables, degrees and stratification.

It returns a copy of the program in which every bare identifier is a ``Var`` (with its
domain) or a ``Const`` (with its domain), plus the ``Signature``; every problem it finds is
reported at once as ``file:line:col: error: message`` lines in one ``RuleError``. Warnings
(a second ``semantics`` statement, declarations nothing uses, quantified variables their
formula never uses) do not stop it: they are the checked program's ``warnings``.

Rules for identifiers: in a fact a bare identifier is a constant; in a Horn rule it is a
variable unless declared as a constant (an individual of a listed domain or a ``constant``
declaration); in a formula it is a variable where a quantifier binds it and a constant
otherwise, and an unknown constant there is reported as a free variable.
"""

from __future__ import annotations

from dataclasses import replace

from . import ast
from .errors import Reporter
from .signature import DEFAULT_DOMAIN, DomainInfo, FunctionInfo, PredicateInfo, Signature
from .stratify import check_stratification

MODEL_OPTIONS = {
    "mlp": {"hidden", "activation", "output", "dropout"},
    "extern": set(),
    "table": set(),
}
OUTPUTS = ("sigmoid", "softmax")


def check(program):
    """The checked program (``signature`` and ``warnings`` set), or ``RuleError`` listing
    the errors (and, in its ``warnings`` attribute, the warnings)."""
    checker = _Checker(program)
    checked = checker.run()
    checker.reporter.raise_if_errors()
    return replace(checked, warnings=tuple(checker.reporter.warnings))


class _Checker:
    def __init__(self, program):
        self.program = program
        self.reporter = Reporter(program.sources)
        self.sig = Signature()
        self.constants = {}  # name -> list of domain names declaring it
        self.semantics_span = None  # where the last semantics statement so far is

    def error(self, span, message):
        self.reporter.error(span, message)

    def warning(self, span, message):
        self.reporter.warning(span, message)

    # --- declarations --------------------------------------------------------------------

    def run(self):
        statements = self.program.statements
        # domains first, then what refers to them, so declarations may come in any order
        kinds = (ast.DomainDecl, ast.ConstantDecl, ast.FeaturesDecl, ast.SemanticsDecl,
                 ast.PredicateDecl, ast.FunctionDecl)
        for kind in kinds:
            for stmt in statements:
                if type(stmt) is kind:
                    getattr(self, "_declare_" + kind.__name__)(stmt)
        self._infer_undeclared(statements)
        resolved = list(statements)
        # Horn rules first: an undeclared derived predicate takes its domains from them;
        # then facts, so that formulas see every constant of the implicit domain
        order = sorted(range(len(statements)), key=lambda i: _ORDER.get(type(statements[i]), 2))
        filled = False
        names = {}
        for i in order:
            stmt = statements[i]
            if not filled and not isinstance(stmt, ast.HornRule):
                self._default_untyped()
                filled = True
            if isinstance(stmt, (ast.Constraint, ast.Query)):
                kind = "rule" if isinstance(stmt, ast.Constraint) else "query"
                if stmt.name in names:
                    first = names[stmt.name]
                    self.error(stmt.span, f"duplicate {kind} name {stmt.name!r} (first at {first})")
                names[stmt.name] = stmt.span
            handler = getattr(self, "_resolve_" + type(stmt).__name__, None)
            resolved[i] = handler(stmt) if handler else stmt
        if not filled:
            self._default_untyped()
        check_stratification([s for s in resolved if isinstance(s, ast.HornRule)], self)
        self._warn_unused(resolved)
        return replace(self.program, statements=tuple(resolved), signature=self.sig)

    def _declare_SemanticsDecl(self, stmt):
        from .semantics import Semantics

        if self.semantics_span is not None:
            self.warning(
                stmt.span,
                f"semantics given again: the last semantics statement wins, so this one "
                f"replaces the one at {self.semantics_span}",
            )
        self.semantics_span = stmt.span
        spec = {} if stmt.preset is None else {"preset": stmt.preset}
        for opt in stmt.options:
            spec[opt.key] = opt.value
        if not spec:
            self.error(stmt.span, "semantics needs a preset name or options")
            return
        try:
            self.sig.semantics = Semantics.resolve(spec)
        except (ValueError, TypeError) as exc:
            self.error(self._bad_semantics_option(stmt), f"bad semantics: {exc}")

    def _bad_semantics_option(self, stmt):
        """Where a wrong semantics declaration is wrong: the first option that fails on its
        own, else the statement (an unknown preset)."""
        from .semantics import Semantics

        base = {} if stmt.preset is None else {"preset": stmt.preset}
        for opt in stmt.options:
            try:
                Semantics.resolve({**base, opt.key: opt.value})
            except (ValueError, TypeError):
                return opt.span
        return stmt.span

    def _declare_DomainDecl(self, stmt):
        if stmt.name in self.sig.domains:
            first = self.sig.domains[stmt.name].span
            self.error(stmt.span, f"duplicate domain {stmt.name!r} (first declared at {first})")
            return
        info = DomainInfo(stmt.name, size=stmt.size, span=stmt.span)
        if stmt.individuals is not None:
            names = [c.name for c in stmt.individuals]
            seen = set()
            for c in stmt.individuals:
                if c.name in seen:
                    self.error(c.span, f"individual {c.name!r} listed twice in {stmt.name}")
                seen.add(c.name)
                self.constants.setdefault(c.name, []).append(stmt.name)
            info.individuals = names
            if stmt.numeric:
                info.values = [c.value for c in stmt.individuals]
        if stmt.size is not None and stmt.size < 1:
            self.error(stmt.span, f"domain {stmt.name} must have at least one individual")
        self.sig.domains[stmt.name] = info

    def _declare_FeaturesDecl(self, stmt):
        info = self.sig.domains.get(stmt.domain)
        if info is None:
            self.error(stmt.span, f"features for undefined domain {stmt.domain!r}")
            return
        if info.embedding_size is not None or info.features_path is not None:
            self.error(stmt.span, f"features of {stmt.domain} are given twice")
        if stmt.embedding_size is not None and stmt.embedding_size < 1:
            self.error(stmt.span, "an embedding needs a size of at least 1")
        info.embedding_size = stmt.embedding_size
        info.features_path = stmt.path

    def _declare_PredicateDecl(self, stmt):
        if self._duplicate_name(stmt):
            return
        self._check_types(stmt.arg_types, stmt.span)
        kind = "table"
        if stmt.model is not None:
            kind = self._check_model(stmt.model, stmt.arg_types, predicate=True)
        self.sig.predicates[stmt.name] = PredicateInfo(
            stmt.name, tuple(stmt.arg_types), kind, stmt.model, True, stmt.span
        )

    def _declare_FunctionDecl(self, stmt):
        if self._duplicate_name(stmt):
            return
        self._check_types(stmt.arg_types, stmt.span)
        if isinstance(stmt.result, str):
            self._check_types((stmt.result,), stmt.span)
        elif stmt.result < 1:
            self.error(stmt.span, "a function's feature size must be at least 1")
        kind = "table"
        if stmt.model is not None:
            kind = self._check_model(stmt.model, stmt.arg_types, predicate=False)
        self.sig.functions[stmt.name] = FunctionInfo(
            stmt.name, tuple(stmt.arg_types), stmt.result, kind, stmt.model, stmt.span
        )

    def _duplicate_name(self, stmt):
        first = self.sig.predicates.get(stmt.name) or self.sig.functions.get(stmt.name)
        if first is not None:
            self.error(stmt.span, f"duplicate name {stmt.name!r} (first declared at {first.span})")
        return first is not None

    def _declare_ConstantDecl(self, stmt):
        domain = stmt.domain or DEFAULT_DOMAIN
        if stmt.domain is not None and stmt.domain not in self.sig.domains:
            self.error(stmt.span, f"undefined domain {stmt.domain!r}")
            return
        info = self._domain_for_constants(domain, stmt.span)
        for name in stmt.names:
            if domain in self.constants.get(name, []):
                continue
            if info.individuals is None:
                self.error(stmt.span, f"domain {domain} does not list individuals by name")
                return
            info.individuals.append(name)
            self.constants.setdefault(name, []).append(domain)

    def _domain_for_constants(self, name, span):
        info = self.sig.domains.get(name)
        if info is None:  # the implicit default domain of untyped programs
            info = DomainInfo(name, individuals=[], span=span, implicit=True)
            self.sig.domains[name] = info
        return info

    def _check_types(self, types, span):
        for t in types:
            if t not in self.sig.domains:
                self.error(span, f"undefined domain {t!r}")

    def _check_model(self, model, arg_types, predicate):
        kind = model.kind
        if kind not in MODEL_OPTIONS:
            self.error(
                model.span,
                f"unknown model {kind!r}; expected one of {sorted(MODEL_OPTIONS)} or a "
                "quoted table file",
            )
            return "table"
        for opt in model.options:
            if opt.key not in MODEL_OPTIONS[kind]:
                allowed = sorted(MODEL_OPTIONS[kind]) or "none"
                self.error(opt.span, f"unknown option {opt.key!r} for {kind}; expected {allowed}")
        if kind == "mlp":
            self._check_mlp(model, arg_types, predicate)
            return "neural"
        return "extern" if kind == "extern" else "table"

    def _check_mlp(self, model, arg_types, predicate):
        from nesy.nn.activations import ACTIVATIONS

        hidden = model.option("hidden", ())
        hidden = hidden if isinstance(hidden, tuple) else (hidden,)
        if not all(isinstance(h, int) and not isinstance(h, bool) and h > 0 for h in hidden):
            self.error(
                _option_span(model, "hidden"), f"hidden must be positive integers, got {hidden!r}"
            )
        activation = model.option("activation", "relu")
        if not isinstance(activation, str) or activation.lower() not in ACTIVATIONS:
            self.error(
                _option_span(model, "activation"),
                f"unknown activation {activation!r}; expected one of {sorted(ACTIVATIONS)}",
            )
        output = model.option("output", "sigmoid")
        where = _option_span(model, "output")
        if not predicate and model.option("output") is not None:
            self.error(where, "a function's mlp has a linear output; drop 'output'")
        elif output not in OUTPUTS:
            self.error(where, f"unknown output {output!r}; expected one of {list(OUTPUTS)}")
        elif output == "softmax" and len(arg_types) < 2:
            self.error(
                where,
                "output = softmax needs a class argument: the last argument's domain lists "
                "the classes, e.g. Digit(Image, Num)",
            )
        dropout = model.option("dropout", 0.0)
        if (
            isinstance(dropout, bool)
            or not isinstance(dropout, (int, float))
            or not 0 <= dropout < 1
        ):
            self.error(
                _option_span(model, "dropout"), f"dropout must be in [0, 1), got {dropout!r}"
            )

    # --- undeclared predicates (Datalog style) ---------------------------------------------

    def _infer_undeclared(self, statements):
        """Predicates used in facts or Horn heads without a declaration become tables over
        the domains of their constants (``Thing`` for undeclared constants)."""
        for stmt in statements:
            if isinstance(stmt, ast.Fact):
                atom = stmt.atom
                known = (
                    atom.predicate in self.sig.predicates or atom.predicate in self.sig.functions
                )
                if not known:
                    types = []
                    for arg in atom.args:
                        domains = self.constants.get(_const_name(arg), []) if _is_const(arg) else []
                        types.append(domains[0] if len(domains) == 1 else DEFAULT_DOMAIN)
                    self._new_predicate(atom, tuple(types), "table")
                self._seed_implicit(atom)
            elif isinstance(stmt, ast.HornRule):
                head = stmt.head
                if head.predicate not in self.sig.predicates:
                    self._new_predicate(head, (None,) * len(head.args), "derived")
                elif self.sig.predicates[head.predicate].kind == "table":
                    self.sig.predicates[head.predicate].kind = "derived"

    def _seed_implicit(self, atom):
        """A fact's constants join an implicit domain in file order (Horn rules, checked
        first, add only the constants no fact has)."""
        info = self.sig.predicates.get(atom.predicate)
        if info is None or info.arity != len(atom.args):
            return
        for arg, dtype in zip(atom.args, info.arg_types):
            domain = self.sig.domains.get(dtype)
            if domain is not None and domain.implicit and _is_const(arg):
                if domain.index_of(arg.name) is None:
                    domain.individuals.append(arg.name)

    def _default_untyped(self):
        for info in self.sig.predicates.values():
            if None in info.arg_types:
                info.arg_types = tuple(DEFAULT_DOMAIN if t is None else t for t in info.arg_types)
                self._domain_for_constants(DEFAULT_DOMAIN, info.span)

    def _new_predicate(self, atom, types, kind):
        self.sig.predicates[atom.predicate] = PredicateInfo(
            atom.predicate, types, kind, None, False, atom.span
        )
        if DEFAULT_DOMAIN in types:  # noqa: SIM102
            self._domain_for_constants(DEFAULT_DOMAIN, atom.span)

    # --- statements ------------------------------------------------------------------------

    def _resolve_Fact(self, stmt):
        if not 0.0 <= stmt.degree <= 1.0:
            self.error(stmt.span, f"degree {stmt.degree:g} is outside [0, 1]")
        info = self._predicate(stmt.atom)
        if info is None:
            return stmt
        args = []
        for arg, dtype in zip(stmt.atom.args, info.arg_types):
            if isinstance(arg, ast.Apply):
                self.error(arg.span, "a fact's arguments are constants, not function terms")
                args.append(arg)
                continue
            args.append(self._constant(arg, dtype, in_fact=True))
        return replace(stmt, atom=replace(stmt.atom, args=tuple(args)))

    def _resolve_HornRule(self, stmt):
        from .horn import resolve_horn

        if stmt.confidence is not None and not 0.0 <= stmt.confidence <= 1.0:
            self.error(stmt.span, f"confidence {stmt.confidence:g} is outside [0, 1]")
        head_info = self.sig.predicates.get(stmt.head.predicate)
        if head_info is not None and head_info.learned:
            self.error(
                stmt.head.span,
                f"{stmt.head.predicate} is a learned predicate; it cannot be a rule head",
            )
        return resolve_horn(self, stmt)

    def _resolve_Constraint(self, stmt):
        from .formulas import resolve_formula

        return replace(stmt, formula=resolve_formula(self, stmt.formula, closed=True))

    def _resolve_Query(self, stmt):
        from .formulas import resolve_formula

        return replace(stmt, formula=resolve_formula(self, stmt.formula, closed=False))

    # --- helpers shared by formulas and Horn rules ------------------------------------------

    def _predicate(self, atom):
        info = self.sig.predicates.get(atom.predicate)
        if info is None:
            if atom.predicate in self.sig.functions:
                self.error(atom.span, f"{atom.predicate} is a function, not a predicate")
            else:
                self.error(atom.span, f"undefined predicate {atom.predicate!r}")
            return None
        if len(atom.args) != info.arity:
            self.error(
                atom.span,
                f"{atom.predicate} takes {info.arity} argument{'s' * (info.arity != 1)}, "
                f"got {len(atom.args)}",
            )
            return None
        return info

    def _constant(self, term, dtype, in_fact=False, in_rule=False):
        """``term`` (Ident or Const) as a ``Const`` of domain ``dtype``, or reported.

        A constant of a fact or a Horn rule joins an implicit domain (Datalog's universe is
        every constant of the program); only a fact's makes the name a constant elsewhere,
        so that a bare name in a Horn rule stays a variable."""
        name = _const_name(term)
        info = self.sig.domains.get(dtype)
        if info is None:
            return term
        value = getattr(term, "value", None)
        if info.index_of(name) is None:
            if (in_fact or in_rule) and info.implicit:
                info.individuals.append(name)
            elif info.individuals is None and info.size is None:
                pass  # size known only later (features, Python): checked when evaluated
            elif self.constants.get(name):
                others = " and ".join(self.constants[name])
                self.error(term.span, f"{name!r} is an individual of {others}, not of {dtype}")
            else:
                self.error(term.span, f"unknown individual {name!r} of domain {dtype}")
        if in_fact and info.implicit and dtype not in self.constants.get(name, []):
            self.constants.setdefault(name, []).append(dtype)
        if info.numeric:
            value = info.values[info.index_of(name)] if info.index_of(name) is not None else value
        return ast.Const(name, dtype, value, term.span, getattr(term, "quoted", False))


    # --- warnings ---------------------------------------------------------------------------

    def _warn_unused(self, statements):
        """Warn about declared domains, predicates and functions that no statement uses, and
        about variables that a quantifier binds but its formula never mentions."""
        predicates, functions, domains = set(), set(), set()
        for stmt in statements:
            for node in ast.walk(stmt):
                if isinstance(node, ast.Atom):
                    predicates.add(node.predicate)
                elif isinstance(node, ast.Apply):
                    functions.add(node.function)
                elif isinstance(node, (ast.Var, ast.Const)) and node.domain is not None:
                    domains.add(node.domain)
                elif isinstance(node, ast.Quantified):
                    self._warn_unused_variables(node)
        for info in list(self.sig.predicates.values()) + list(self.sig.functions.values()):
            domains.update(info.arg_types)
            if isinstance(getattr(info, "result", None), str):
                domains.add(info.result)
        for name, info in self.sig.predicates.items():
            if info.declared and name not in predicates:
                self.warning(info.span, f"predicate {name} is declared but no fact, rule or "
                             "query uses it")
        for name, info in self.sig.functions.items():
            if name not in functions:
                self.warning(info.span, f"function {name} is declared but no rule or query "
                             "uses it")
        for name, info in self.sig.domains.items():
            if not info.implicit and name not in domains:
                self.warning(info.span, f"domain {name} is declared but no predicate, "
                             "function or quantifier uses it")

    def _warn_unused_variables(self, node):
        mentioned = {
            n.name
            for part in (node.guard, node.body)
            if part is not None
            for n in ast.walk(part)
            if isinstance(n, (ast.Var, ast.Ident))
        }
        for var in node.variables:
            if var.name not in mentioned:
                self.warning(var.span, f"variable {var.name} is bound by {node.kind} but its "
                             "formula never uses it")


# the order statements are resolved in (see ``run``); the rest keep their file order
_ORDER = {ast.HornRule: 0, ast.Fact: 1}


def _option_span(model, key):
    """Where option ``key`` of ``model`` is written, else the model itself."""
    return next((opt.span for opt in model.options if opt.key == key), model.span)


def _is_const(term):
    return isinstance(term, (ast.Ident, ast.Const))


def _const_name(term):
    return term.name

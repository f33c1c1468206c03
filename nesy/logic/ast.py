"""The program as frozen dataclasses, each node with its source span.

The parser builds these from the Lark tree; the checker returns a copy in which every bare
identifier has become a ``Var`` or a ``Const``. Nodes compare by value and print as the
source they came from (``str(node)``), so error messages and ``repr(kb)`` can quote rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# --- positions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Span:
    """Where a node starts (1-based line and column) in which file."""

    filename: str
    line: int
    column: int

    def __str__(self):
        return f"{self.filename}:{self.line}:{self.column}"


NOWHERE = Span("<python>", 1, 1)


def _node(cls):
    """A frozen dataclass whose ``span`` is ignored by ``==`` and ``hash``."""
    return dataclass(frozen=True)(cls)


def _span_field():
    return field(default=NOWHERE, compare=False, repr=False)


# --- terms ---------------------------------------------------------------------------------


@_node
class Ident:
    """A bare identifier before the checker decides: variable or constant."""

    name: str
    span: Span = _span_field()

    def __str__(self):
        return self.name


@_node
class Var:
    """A logical variable; ``domain`` is filled in by the checker."""

    name: str
    domain: str | None = None
    span: Span = _span_field()
    written: bool = field(default=False, compare=False, repr=False)  # ``x in D`` in source

    def __str__(self):
        return self.name


@_node
class Const:
    """A constant (an individual). ``name`` is its canonical text: ``ann``, ``"ann"`` and
    ``ann`` in a fact are the same constant; a number's name is its literal (``3``)."""

    name: str
    domain: str | None = None
    value: float | None = None  # numeric constants keep their value for arithmetic
    span: Span = _span_field()
    # written ``"ann"``: printed quoted again, since a bare name in a formula or a Horn rule
    # reads back as a variable
    quoted: bool = field(default=False, compare=False, repr=False)

    def __str__(self):
        if self.value is not None or (_is_plain_name(self.name) and not self.quoted):
            return self.name
        return '"' + self.name.replace("\\", "\\\\").replace('"', '\\"') + '"'


@_node
class Apply:
    """A function applied to terms: ``left(p)``."""

    function: str
    args: tuple
    span: Span = _span_field()

    def __str__(self):
        return f"{self.function}({', '.join(map(str, self.args))})"


@_node
class Arith:
    """Arithmetic in comparisons: ``left op right`` with op in ``+ - *``."""

    op: str
    left: object
    right: object
    span: Span = _span_field()

    def __str__(self):
        return f"{_wrap_arith(self.left, self.op)} {self.op} {_wrap_arith(self.right, self.op)}"


def _wrap_arith(node, op):
    if isinstance(node, Arith) and op == "*" and node.op in "+-":
        return f"({node})"
    return str(node)


# --- formulas ------------------------------------------------------------------------------


@_node
class Atom:
    """``Predicate(arg, ...)``."""

    predicate: str
    args: tuple
    span: Span = _span_field()

    def __str__(self):
        return f"{self.predicate}({', '.join(map(str, self.args))})"


@_node
class Compare:
    """A crisp comparison of numbers, ``x != y`` or ``d1 + d2 = total(p)``: truth 0 or 1."""

    op: str
    left: object
    right: object
    span: Span = _span_field()

    def __str__(self):
        return f"{self.left} {self.op} {self.right}"


@_node
class Not:
    operand: object
    span: Span = _span_field()

    def __str__(self):
        return f"not {_wrap(self.operand, 0)}"


@_node
class Binary:
    """A binary connective: ``op`` is one of ``and``, ``or``, ``->``, ``<->``."""

    op: str
    left: object
    right: object
    span: Span = _span_field()

    def __str__(self):
        level = PRECEDENCE[self.op]
        # -> is right-associative, the others left-associative
        left_level = level + 1 if self.op == "->" else level
        right_level = level if self.op == "->" else level + 1
        return f"{_wrap(self.left, left_level)} {self.op} {_wrap(self.right, right_level)}"


# Binding strength of the binary connectives, loosest first.
PRECEDENCE = {"<->": 1, "->": 2, "or": 3, "and": 4}


@_node
class Binder:
    """Variables bound together: one variable, or several paired ones (``diag(x, y)``) that
    range jointly over equal-sized domains."""

    variables: tuple  # of Var (domain None until checked unless written ``x in D``)
    span: Span = _span_field()

    @property
    def paired(self):
        return len(self.variables) > 1

    def __str__(self):
        parts = [f"{v.name} in {v.domain}" if v.written else v.name for v in self.variables]
        return f"diag({', '.join(parts)})" if self.paired else parts[0]


@_node
class Quantified:
    """``forall`` or ``exists`` over binders, with an optional guard (a mask) and options
    such as ``p``."""

    kind: str  # "forall" or "exists"
    binders: tuple
    guard: object | None
    body: object
    options: tuple = ()  # of Option
    span: Span = _span_field()

    @property
    def variables(self):
        return tuple(v for b in self.binders for v in b.variables)

    def option(self, key, default=None):
        for opt in self.options:
            if opt.key == key:
                return opt.value
        return default

    def __str__(self):
        opts = f"[{', '.join(map(str, self.options))}]" if self.options else ""
        guard = f" where {self.guard}" if self.guard is not None else ""
        binders = ", ".join(map(str, self.binders))
        return f"{self.kind}{opts} {binders}{guard}: {self.body}"


def _wrap(node, level):
    """Parenthesise ``node`` when it binds more loosely than ``level`` (0: under ``not``)."""
    # a quantifier's body extends to the right: unparenthesised under ``not`` it would
    # swallow what follows the ``not`` (``(not forall x: A(x)) and B``)
    if isinstance(node, Quantified):
        return f"({node})"
    if isinstance(node, Binary) and (level == 0 or PRECEDENCE[node.op] < level):
        return f"({node})"
    if isinstance(node, Compare) and level == 0:
        return f"({node})"
    return str(node)


# --- statements ----------------------------------------------------------------------------


@_node
class Option:
    """``key = value`` in an option list; lists become tuples."""

    key: str
    value: object
    span: Span = _span_field()

    def __str__(self):
        return f"{self.key} = {_format_value(self.value)}"


def _format_value(value):
    if isinstance(value, tuple):
        return "[" + ", ".join(map(_format_value, value)) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and not _is_plain_name(value):
        return '"' + value + '"'
    return str(value)


def _is_plain_name(text):
    return text.isidentifier() and text.isascii()


@_node
class Import:
    path: str
    span: Span = _span_field()


@_node
class SemanticsDecl:
    """``semantics product.``, ``semantics godel(p_forall = 4).`` or ``semantics (and = min).``"""

    preset: str | None
    options: tuple
    span: Span = _span_field()


@_node
class DomainDecl:
    """A domain (type): its individuals listed, an integer range, a size, or nothing (size
    and features given later from a feature table or from Python)."""

    name: str
    individuals: tuple | None = None  # of Const
    size: int | None = None
    numeric: bool = False  # individuals are numbers usable in arithmetic
    span: Span = _span_field()


@_node
class FeaturesDecl:
    """Features of a domain's individuals: ``embedding(n)`` (trainable) or a table file."""

    domain: str
    embedding_size: int | None = None
    path: str | None = None
    span: Span = _span_field()


@_node
class ModelSpec:
    """A built-in model (``mlp(hidden = [16, 16])``), ``extern`` (bound from Python), or a
    table file (``"friends.csv"``) for a given predicate or function."""

    kind: str
    options: tuple = ()
    path: str | None = None
    span: Span = _span_field()

    def option(self, key, default=None):
        for opt in self.options:
            if opt.key == key:
                return opt.value
        return default


@_node
class PredicateDecl:
    name: str
    arg_types: tuple
    model: ModelSpec | None = None
    span: Span = _span_field()


@_node
class FunctionDecl:
    """A function from individuals to features: ``result`` is a domain name (the result has
    that domain's features) or a feature size."""

    name: str
    arg_types: tuple
    result: str | int
    model: ModelSpec | None = None
    span: Span = _span_field()


@_node
class ConstantDecl:
    names: tuple
    domain: str | None = None
    span: Span = _span_field()


@_node
class Fact:
    """``Edge(a, b).``, ``0.7 :: Edge(a, b).`` or ``not Edge(a, c).`` (degree 0)."""

    atom: Atom
    degree: float = 1.0
    span: Span = _span_field()

    def __str__(self):
        if self.degree == 0.0:
            return f"not {self.atom}."
        prefix = "" if self.degree == 1.0 else f"{self.degree:g} :: "
        return f"{prefix}{self.atom}."


@_node
class HornRule:
    """``Head :- literal, ...`` with literals atoms, negated atoms or comparisons, and an
    optional confidence (``0.9 :: Head :- ...``); ``t(0.9) :: Head :- ...`` makes it
    ``learnable`` from that initial value (ProbLog's notation)."""

    head: Atom
    body: tuple
    confidence: float | None = None
    span: Span = _span_field()
    learnable: bool = False

    def __str__(self):
        prefix = "" if self.confidence is None else f"{self.confidence:g} :: "
        if self.learnable:
            prefix = f"t({self.confidence:g}) :: "
        return f"{prefix}{self.head} :- {', '.join(map(str, self.body))}."


@_node
class Constraint:
    """A closed formula to satisfy, with a name and a weight in the satisfaction."""

    name: str
    formula: object
    weight: float = 1.0
    anonymous: bool = False
    span: Span = _span_field()

    def __str__(self):
        return str(self.formula)


@_node
class Query:
    """A named formula to evaluate on demand; free variables give a table of truths."""

    name: str
    formula: object
    span: Span = _span_field()


@_node
class Program:
    """All statements of a rule file (imports already inlined, in order) and its sources."""

    statements: tuple
    filename: str = "<string>"
    sources: tuple = ()  # ((filename, text), ...) for error carets
    signature: object = field(default=None, compare=False, repr=False)  # set by the checker
    # the checker's warnings (``Diagnostic`` with severity "warning"), sorted by position
    warnings: tuple = field(default=(), compare=False, repr=False)

    def of_type(self, cls):
        return [s for s in self.statements if isinstance(s, cls)]


# --- traversal ---------------------------------------------------------------------------


def children(node):
    """The nodes directly below ``node``: a quantifier's variables, guard and body; the
    operands of connectives, comparisons and arithmetic; the arguments of atoms and function
    terms; the parts of statements. Leaves (variables, constants, identifiers) have none."""
    if isinstance(node, Quantified):
        guard = [] if node.guard is None else [node.guard]
        return [*node.variables, *guard, node.body]
    if isinstance(node, Not):
        return [node.operand]
    if isinstance(node, (Binary, Compare, Arith)):
        return [node.left, node.right]
    if isinstance(node, (Atom, Apply)):
        return list(node.args)
    if isinstance(node, Fact):
        return [node.atom]
    if isinstance(node, HornRule):
        return [node.head, *node.body]
    if isinstance(node, (Constraint, Query)):
        return [node.formula]
    return []


def walk(node):
    """``node`` and every node below it, depth first, without recursion."""
    stack = [node]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(children(node)))

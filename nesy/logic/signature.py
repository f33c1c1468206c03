"""What a checked program declares: its domains, predicates and functions.

The checker builds a ``Signature``; the knowledge base reads it to allocate tables, models
and embeddings. Undeclared names used in facts and Horn rules get entries here too (their
arguments in the default domain ``Thing``), so a Datalog-style file needs no declarations.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .ast import NOWHERE, Span

DEFAULT_DOMAIN = "Thing"


@dataclass
class DomainInfo:
    """A domain: named individuals (``individuals``), or only a size, or neither yet."""

    name: str
    individuals: list | None = None  # names, in order: index i is individual i
    values: list | None = None  # numbers, for numeric domains
    size: int | None = None
    embedding_size: int | None = None
    features_path: str | None = None
    span: Span = NOWHERE
    implicit: bool = False

    @property
    def numeric(self):
        return self.values is not None

    def known_size(self):
        if self.individuals is not None:
            return len(self.individuals)
        return self.size

    def index_of(self, name):
        """Index of the individual called ``name`` (sized domains: ``"0"``..``"n-1"``)."""
        if self.individuals is not None:
            positions = self.__dict__.get("_positions")
            if positions is None or positions[0] is not self.individuals or positions[1] != len(
                    self.individuals):  # rebuilt when the list is replaced or grows
                positions = (self.individuals, len(self.individuals),
                             {n: i for i, n in reversed(list(enumerate(self.individuals)))})
                self.__dict__["_positions"] = positions
            return positions[2].get(name)
        if name.isdigit() and (self.size is None or int(name) < self.size):
            return int(name)
        return None


@dataclass
class PredicateInfo:
    """A predicate. ``kind``: ``table`` (truths given by facts, files or Python),
    ``derived`` (head of Horn rules), ``neural`` (a built-in model), ``extern`` (bound from
    Python)."""

    name: str
    arg_types: tuple
    kind: str = "table"
    model: object = None  # ast.ModelSpec
    declared: bool = False
    span: Span = NOWHERE

    @property
    def arity(self):
        return len(self.arg_types)

    @property
    def learned(self):
        return self.kind in ("neural", "extern")


@dataclass
class FunctionInfo:
    """A function from individuals to features: ``result`` is a domain or a feature size."""

    name: str
    arg_types: tuple
    result: object
    kind: str = "table"
    model: object = None
    span: Span = NOWHERE


@dataclass
class Signature:
    domains: dict = field(default_factory=dict)
    predicates: dict = field(default_factory=dict)
    functions: dict = field(default_factory=dict)
    semantics: object = None  # a Semantics, or None for the default

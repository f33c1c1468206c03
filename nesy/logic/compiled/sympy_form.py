"""Fuzzy connectives as SymPy expressions: a rule body becomes a formula in its atoms' truths.

Each built-in connective of :mod:`nesy.logic.semantics` has a SymPy form here, stability
projections included (``pi_0(x) = (1 - eps) x + eps``, ``pi_1(x) = (1 - eps) x``, with ``eps``
the symbol :data:`EPS`). The non-smooth operators are small SymPy functions of their own
(:class:`Min2`, :class:`Max2`, :class:`GodelImplies`, :class:`GoguenImplies`) whose
derivatives are written out to give the subgradients the eager path gives: ``min`` and
``max`` share the gradient equally at ties (as ``nesy.minimum`` does), Goedel's and Goguen's
implications pass gradient only where ``x > y``. SymPy's own ``Min`` would flatten
``min(min(a, b), c)`` into one ``Min(a, b, c)`` and split ties differently, hence these.

>>> import sympy
>>> a, b = sympy.symbols("a b")
>>> form = connective("and", "prod", False)(a, b)
>>> sympy.diff(form, a)
b
"""

from __future__ import annotations

import sympy

EPS = sympy.Symbol("epsilon", positive=True)  # the stability epsilon, EPS in generated code


class Share(sympy.Function):
    """d max(a, b) / da: 1 where a > b, 1/2 at a tie, 0 where a < b (ties share equally)."""

    nargs = 2

    def fdiff(self, argindex=1):
        return sympy.S.Zero


class Above(sympy.Function):
    """The indicator of a > b (0 or 1)."""

    nargs = 2

    def fdiff(self, argindex=1):
        return sympy.S.Zero


class Min2(sympy.Function):
    """Goedel t-norm: T(a, b) = min(a, b)."""

    nargs = 2

    def fdiff(self, argindex=1):
        a, b = self.args
        return Share(b, a) if argindex == 1 else Share(a, b)

    def _latex(self, printer):
        return r"\min\left(%s, %s\right)" % tuple(map(printer._print, self.args))


class Max2(sympy.Function):
    """Goedel t-conorm: S(a, b) = max(a, b)."""

    nargs = 2

    def fdiff(self, argindex=1):
        a, b = self.args
        return Share(a, b) if argindex == 1 else Share(b, a)

    def _latex(self, printer):
        return r"\max\left(%s, %s\right)" % tuple(map(printer._print, self.args))


class GodelImplies(sympy.Function):
    """Goedel implication: I(a, b) = 1 if a <= b else b."""

    nargs = 2

    def fdiff(self, argindex=1):
        a, b = self.args
        return sympy.S.Zero if argindex == 1 else Above(a, b)

    def _latex(self, printer):
        a, b = map(printer._print, self.args)
        return r"\begin{cases} 1 & %s \le %s \\ %s & \text{otherwise} \end{cases}" % (a, b, b)


class GoguenDa(sympy.Function):
    """d I / da of Goguen's implication: 0 where a <= b, else -b / a^2."""

    nargs = 2

    def fdiff(self, argindex=1):
        raise NotImplementedError("second derivatives of Goguen's implication")


class GoguenDb(sympy.Function):
    """d I / db of Goguen's implication: 0 where a <= b, else 1 / a."""

    nargs = 2

    def fdiff(self, argindex=1):
        raise NotImplementedError("second derivatives of Goguen's implication")


class GoguenImplies(sympy.Function):
    """Goguen implication: I(a, b) = 1 if a <= b else b / a."""

    nargs = 2

    def fdiff(self, argindex=1):
        return GoguenDa(*self.args) if argindex == 1 else GoguenDb(*self.args)

    def _latex(self, printer):
        a, b = map(printer._print, self.args)
        return (r"\begin{cases} 1 & %s \le %s \\ \frac{%s}{%s} & \text{otherwise} "
                r"\end{cases}" % (a, b, b, a))


def pi_0(x):
    """pi_0(x) = (1 - eps) x + eps"""
    return (1 - EPS) * x + EPS


def pi_1(x):
    """pi_1(x) = (1 - eps) x"""
    return (1 - EPS) * x


def _and_prod(x, y, stable):
    if stable:
        x, y = pi_0(x), pi_0(y)
    return x * y


def _or_probsum(x, y, stable):
    if stable:
        x, y = pi_1(x), pi_1(y)
    return x + y - x * y


def _implies_reichenbach(x, y, stable):
    if stable:
        x, y = pi_0(x), pi_1(y)
    return 1 - x + x * y


def _implies_goguen(x, y, stable):
    return GoguenImplies(pi_0(x) if stable else x, y)


# kind -> name -> SymPy form (x, y, stable) of the built-in connectives, as semantics.py
CONNECTIVES = {
    "not": {"standard": lambda x, stable: 1 - x},
    "and": {
        "min": lambda x, y, stable: Min2(x, y),
        "prod": _and_prod,
        "luk": lambda x, y, stable: Max2(x + y - 1, 0),
    },
    "or": {
        "max": lambda x, y, stable: Max2(x, y),
        "probsum": _or_probsum,
        "luk": lambda x, y, stable: Min2(x + y, 1),
    },
    "implies": {
        "kleene_dienes": lambda x, y, stable: Max2(1 - x, y),
        "godel": lambda x, y, stable: GodelImplies(x, y),
        "reichenbach": _implies_reichenbach,
        "goguen": _implies_goguen,
        "luk": lambda x, y, stable: Min2(1 - x + y, 1),
    },
}
AGGREGATORS = ("min", "max", "mean", "pmean", "pmean_error")


class NotFusable(Exception):
    """A formula the compiled path cannot run; the message says why."""


def connective(kind, name, stable):
    """The SymPy form of the ``kind`` connective ``name``; ``NotFusable`` if it has none."""
    if name not in CONNECTIVES[kind]:
        raise NotFusable(f"the {kind} operator {name!r} is registered from Python and has "
                         "no SymPy form")
    form = CONNECTIVES[kind][name]
    if kind == "not":
        return lambda x: form(x, stable)
    return lambda x, y: form(x, y, stable)


class SymbolicSemantics:
    """A semantics' connectives on SymPy expressions (``E(x, y) = T(I(x, y), I(y, x))``);
    an operator without a SymPy form raises ``NotFusable`` when a formula uses it."""

    def __init__(self, semantics):
        self.semantics = semantics

    def _op(self, kind):
        name = getattr(self.semantics, f"{kind}_op")
        return connective(kind, name, self.semantics.stable)

    def not_(self, x):
        return self._op("not")(x)

    def binary(self, op, x, y):
        if op == "and":
            return self._op("and")(x, y)
        if op == "or":
            return self._op("or")(x, y)
        if op == "->":
            return self._op("implies")(x, y)
        implies, and_ = self._op("implies"), self._op("and")  # <->
        return and_(implies(x, y), implies(y, x))


def unsupported_aggregator(name):
    if name not in AGGREGATORS:
        return f"the aggregator {name!r} is registered from Python and has no fused form"
    return None


class Quantifier(sympy.Function):
    """A quantifier over a body, for display: (body, variables, aggregator, p, guard)."""

    def _latex(self, printer):
        body, variables, aggregator, p, guard = self.args
        names = ", ".join(printer._print(v) for v in variables)
        symbol = r"\forall" if type(self).__name__ == "ForAll" else r"\exists"
        agg = str(aggregator).replace("_", r"\_")
        option = rf",\, p={printer._print(p)}" if agg.startswith("pmean") else ""
        where = "" if guard == sympy.true else rf"\,:\, {printer._print(guard)} > 0.5"
        return (rf"{symbol}_{{{names}{where}}}^{{\mathrm{{{agg}}}{option}}}"
                rf"\left({printer._print(body)}\right)")


class ForAll(Quantifier):
    """forall over ``variables``: args (body, variables, aggregator, p, guard)."""


class Exists(Quantifier):
    """exists over ``variables``: args (body, variables, aggregator, p, guard)."""

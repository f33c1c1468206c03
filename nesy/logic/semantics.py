"""Fuzzy semantics of the rule language: connectives and aggregators by name, and presets.

Every operator is a small callable on truth tensors in [0, 1] with the formula in its docstring,
defined as LTNtorch's ``ltn.fuzzy_ops`` (stable variants included). A not-operator is
``fn(x, stable=True)``, a binary one ``fn(x, y, stable=True)`` (operators without a stable
variant ignore the flag), an aggregator ``fn(xs, dims, p=2.0, mask=None, stable=True)`` (see
:mod:`nesy.logic.aggregators`). They are registered by kind and name; ``register_operator``
adds one after checking the laws its kind must obey (``check_operator``). A :class:`Semantics`
picks one operator per connective and quantifier.

>>> import nesy
>>> s = Semantics.resolve("lukasiewicz")
>>> x, y = nesy.tensor([0.2, 0.9]), nesy.tensor([0.5, 0.5])
>>> s.implies(x, y)
tensor([1. , 0.6])
"""

from __future__ import annotations

import inspect
import itertools
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import NamedTuple

import numpy as np

import nesy
from nesy.tensor import Tensor

from . import aggregators, fused
from .aggregators import EPS, empty_groundings, pi_0, pi_1

__all__ = [
    "EPS", "KINDS", "PRESETS", "Semantics", "check_operator", "operator", "operator_names",
    "pi_0", "pi_1", "register_operator", "unregister_operator",
]


# --- connectives ----------------------------------------------------------------------------
def not_standard(x, stable=True):
    """Standard negation: N(x) = 1 - x."""
    return 1.0 - x


def and_min(x, y, stable=True):
    """Goedel t-norm: T(x, y) = min(x, y)."""
    return nesy.minimum(x, y)


def and_prod(x, y, stable=True):
    """Product t-norm: T(x, y) = x y; stable: x, y = pi_0(x), pi_0(y) (gradients at 0)."""
    if stable:
        return fused.connective(fused.AndProdStable, x, y)
    return x * y


def and_luk(x, y, stable=True):
    """Lukasiewicz t-norm: T(x, y) = max(x + y - 1, 0)."""
    return nesy.maximum(x + y - 1.0, 0.0)


def or_max(x, y, stable=True):
    """Goedel t-conorm: S(x, y) = max(x, y)."""
    return nesy.maximum(x, y)


def or_probsum(x, y, stable=True):
    """Probabilistic sum: S(x, y) = x + y - x y; stable: x, y = pi_1(x), pi_1(y)."""
    if stable:
        return fused.connective(fused.OrProbsumStable, x, y)
    return x + y - x * y


def or_luk(x, y, stable=True):
    """Lukasiewicz t-conorm: S(x, y) = min(x + y, 1)."""
    return nesy.minimum(x + y, 1.0)


def implies_kleene_dienes(x, y, stable=True):
    """Kleene-Dienes implication: I(x, y) = max(1 - x, y)."""
    return nesy.maximum(1.0 - x, y)


def implies_godel(x, y, stable=True):
    """Goedel implication: I(x, y) = 1 if x <= y else y."""
    return nesy.where(x <= y, 1.0, y)


def implies_reichenbach(x, y, stable=True):
    """Reichenbach implication: I(x, y) = 1 - x + x y; stable: x = pi_0(x), y = pi_1(y)."""
    if stable:
        return fused.connective(fused.ImpliesReichenbachStable, x, y)
    return 1.0 - x + x * y


def implies_goguen(x, y, stable=True):
    """Goguen implication: I(x, y) = 1 if x <= y else y / x; stable: x = pi_0(x)."""
    if stable:
        x = pi_0(x)
    holds = x <= y
    # y / x only counts where x > y >= 0; dividing by a stand-in 1 elsewhere keeps x = 0 in
    # the unused branch from sending inf or NaN into the gradient
    return nesy.where(holds, 1.0, y / nesy.where(holds, 1.0, x))


def implies_luk(x, y, stable=True):
    """Lukasiewicz implication: I(x, y) = min(1 - x + y, 1)."""
    return nesy.minimum(1.0 - x + y, 1.0)


# --- the registry ---------------------------------------------------------------------------
KINDS = ("not", "and", "or", "implies", "aggregator")
_REGISTRY = {kind: {} for kind in KINDS}
_BUILTIN = {}  # kind -> the built-in names, which cannot be replaced; filled below


def _check_kind(kind):
    if kind not in _REGISTRY:
        raise ValueError(f"unknown operator kind {kind!r}; known kinds: {', '.join(KINDS)}")


def register_operator(kind, name, fn, check=True):
    """Make ``fn`` available as the ``kind`` operator ``name``, after ``check_operator``.

    Registering a name again replaces the earlier operator (a notebook cell may run twice);
    the built-in operators cannot be replaced.
    """
    _check_kind(kind)
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"an operator name must be an identifier, got {name!r}")
    if not callable(fn):
        raise TypeError(f"{kind} operator {name!r} must be callable, got {type(fn).__name__}")
    if name in _BUILTIN.get(kind, ()):
        raise ValueError(f"{name!r} is a built-in {kind} operator; register yours under "
                         "another name")
    if check:
        check_operator(kind, fn, name)
    _REGISTRY[kind][name] = fn
    return fn


def unregister_operator(kind, name):
    """Remove an operator added with :func:`register_operator` (not a built-in one)."""
    operator(kind, name)
    if name in _BUILTIN[kind]:
        raise ValueError(f"{name!r} is a built-in {kind} operator and cannot be removed")
    del _REGISTRY[kind][name]


def operator(kind, name):
    """The ``kind`` operator registered as ``name``."""
    _check_kind(kind)
    try:
        return _REGISTRY[kind][name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown {kind} operator {name!r}; known: "
                         f"{', '.join(operator_names(kind))}") from None


def operator_names(kind):
    """The names of the ``kind`` operators, sorted."""
    _check_kind(kind)
    return sorted(_REGISTRY[kind])


def _register_builtins():
    for kind, ops in {
        "not": {"standard": not_standard},
        "and": {"min": and_min, "prod": and_prod, "luk": and_luk},
        "or": {"max": or_max, "probsum": or_probsum, "luk": or_luk},
        "implies": {"kleene_dienes": implies_kleene_dienes, "godel": implies_godel,
                    "reichenbach": implies_reichenbach, "goguen": implies_goguen,
                    "luk": implies_luk},
        "aggregator": aggregators.BUILTIN,
    }.items():
        for name, fn in ops.items():
            register_operator(kind, name, fn, check=False)  # the tests run the checks
    return {kind: frozenset(names) for kind, names in _REGISTRY.items()}


_BUILTIN.update(_register_builtins())


# --- the laws an operator must obey ---------------------------------------------------------
_GRID = np.array([0.0, 1e-3, 0.05, 0.1, 0.2, 0.25, 1 / 3, 0.4, 0.5, 0.6, 2 / 3, 0.75, 0.8,
                  0.9, 0.95, 0.999, 1.0])
_TOL = {False: 1e-12, True: 1e-3}
# a stable variant moves inputs by up to EPS; its point laws may hold that close to the point
# (stable Goguen: I(0, 0) = 0, but I(0, y) = 1 from y = EPS on)
_NUDGE = 2 * EPS
_P_VALUES = (0.5, 2.0, 6.0)


class _Law(NamedTuple):
    name: str
    sel: object  # the entries of the output the law is about
    cmp: str  # "eq", "ge" or "le"
    expected: object  # a number, an array, or a function of the whole output
    nudge: bool = False  # a point law: with stable=True it may hold at nudged inputs


class _Probe(NamedTuple):
    inputs: tuple  # float64 arrays, one per tensor argument
    args: tuple  # further positional arguments (an aggregator's dims)
    kwargs: dict
    shape: tuple  # the output shape the call must give
    laws: list
    describe: object  # output index -> where, in words


def _binary_probe(kind):
    n, g = len(_GRID), _GRID
    X, Y = np.meshgrid(g, g, indexing="ij")
    f = {"and": "T", "or": "S", "implies": "I"}[kind]
    corners = np.ix_([0, n - 1], [0, n - 1])
    laws = {
        "and": [_Law("T(x, 1) = x", np.s_[:, -1], "eq", g, True),
                _Law("T(x, 0) = 0", np.s_[:, 0], "eq", 0.0, True)],
        "or": [_Law("S(x, 0) = x", np.s_[:, 0], "eq", g, True),
               _Law("S(x, 1) = 1", np.s_[:, -1], "eq", 1.0, True)],
        "implies": [_Law("I(0, y) = 1", np.s_[0, :], "eq", 1.0, True),
                    _Law("I(x, 1) = 1", np.s_[:, -1], "eq", 1.0, True),
                    _Law("I(1, y) = y", np.s_[-1, :], "eq", g, True)],
    }[kind]
    table = {"and": [[0, 0], [0, 1]], "or": [[0, 1], [1, 1]], "implies": [[1, 1], [0, 1]]}
    laws.append(_Law("Boolean agreement on {0, 1}", corners, "eq", np.array(table[kind]), True))
    if kind != "implies":
        laws.append(_Law(f"{f}(x, y) = {f}(y, x)", np.s_[:, :], "eq", lambda v: v.T))
    x_cmp = "le" if kind == "implies" else "ge"
    x_mono = "nonincreasing" if kind == "implies" else "nondecreasing"
    laws += [_Law(f"{x_mono} in x", np.s_[1:, :], x_cmp, lambda v: v[:-1, :]),
             _Law("nondecreasing in y", np.s_[:, 1:], "ge", lambda v: v[:, :-1])]
    return _Probe((g[:, None], g[None, :]), (), {}, (n, n), laws,
                  lambda i: f"x={X[i]:.4g}, y={Y[i]:.4g}")


def _not_probe():
    laws = [_Law("N(0) = 1", np.s_[0], "eq", 1.0, True),
            _Law("N(1) = 0", np.s_[-1], "eq", 0.0, True),
            _Law("Boolean agreement on {0, 1}", np.s_[[0, -1]], "eq", np.array([1, 0]), True),
            _Law("nonincreasing", np.s_[1:], "le", lambda v: v[:-1])]
    return _Probe((_GRID,), (), {}, (len(_GRID),), laws, lambda i: f"x={_GRID[i]:.4g}")


def _aggregator_probes(p, k=4):
    n, rng = len(_GRID), np.random.default_rng(0)

    def probe(xs, laws, **kwargs):
        return _Probe((xs,), ((1,),), {"p": p, **kwargs}, (len(xs), 1), laws,
                      lambda i: f"xs={np.array2string(xs[i[0]], precision=4)}, p={p}")

    const = np.repeat(_GRID[:, None], k, axis=1)
    yield probe(const, [_Law("A(c, ..., c) = c", np.s_[:], "eq", _GRID[:, None], True),
                        _Law("A(0, ..., 0) = 0", np.s_[0], "eq", 0.0, True),
                        _Law("A(1, ..., 1) = 1", np.s_[-1], "eq", 1.0, True)])
    base = rng.integers(0, n - 1, (8, k))
    raised = np.repeat(base, k, axis=0)  # row j * k + i: row j with entry i raised
    rows = np.arange(len(raised))
    raised[rows, rows % k] = rng.integers(raised[rows, rows % k] + 1, n)
    yield probe(_GRID[np.concatenate([base, raised])], [_Law(
        "nondecreasing in each entry", np.s_[len(base):], "ge",
        lambda v: np.repeat(v[: len(base)], k, axis=0))])
    xs, other = _GRID[rng.integers(0, n, (8, k))], _GRID[rng.integers(0, n, (8, k))]
    mask = rng.random((8, k)) < 0.5
    mask[np.arange(8), rng.integers(0, k, 8)] = True
    yield probe(np.concatenate([xs, np.where(mask, xs, other)]), [_Law(
        "masked-out entries are ignored", np.s_[8:], "eq", lambda v: v[:8])],
        mask=np.concatenate([mask, mask]))


def _probes(kind):
    if kind == "not":
        return [_not_probe()]
    if kind == "aggregator":
        return [pr for p in _P_VALUES for pr in _aggregator_probes(p)]
    return [_binary_probe(kind)]


def check_operator(kind, fn, name=None):
    """Check that ``fn`` behaves as a ``kind`` operator; ValueError naming the failed law.

    On a grid of float64 values in [0, 1], with ``stable=False`` to 1e-12 and with
    ``stable=True`` to 1e-3: the range [0, 1]; the boundary laws (T(x, 1) = x, T(x, 0) = 0;
    S(x, 0) = x, S(x, 1) = 1; I(0, y) = 1, I(x, 1) = 1, I(1, y) = y; N(0) = 1, N(1) = 0; an
    aggregate of c, ..., c is c); agreement with the Boolean tables on {0, 1}; commutativity
    of and/or; monotonicity (implies nonincreasing in x, not nonincreasing, the rest
    nondecreasing); that an aggregator ignores masked-out entries and keeps the reduced axes;
    that float32 stays float32.
    """
    _check_kind(kind)
    label = f"{kind} operator {name or getattr(fn, '__name__', fn)!r}"
    for stable in (False, True):
        for probe in _probes(kind):
            _check_probe(label, fn, probe, stable)
    probe = _probes(kind)[0]
    out = _call(label, fn, probe, stable=True, dtype=np.float32)
    if out.dtype != np.float32:
        raise ValueError(f"{label} fails the law 'preserves float32': float32 inputs gave "
                         f"{out.dtype}")


def _call(label, fn, probe, stable, shift=(), dtype=np.float64):
    shift = shift or (0.0,) * len(probe.inputs)
    tensors = [nesy.tensor(np.clip(a + s, 0.0, 1.0), dtype=dtype)
               for a, s in zip(probe.inputs, shift)]
    try:
        with nesy.no_grad():
            out = fn(*tensors, *probe.args, stable=stable, **probe.kwargs)
    except Exception as e:
        raise ValueError(f"{label} failed when called with stable={stable}: "
                         f"{type(e).__name__}: {e}") from e
    if not isinstance(out, Tensor) or tuple(out.shape) != probe.shape:
        got = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
        raise ValueError(f"{label} fails the law 'returns a tensor of shape {probe.shape}' "
                         f"(stable={stable}): got {got}")
    return out


def _check_probe(label, fn, probe, stable):
    v = _call(label, fn, probe, stable).numpy().astype(np.float64)
    shifts = [()]
    if stable and any(law.nudge for law in probe.laws):
        shifts += list(itertools.product((-_NUDGE, 0.0, _NUDGE), repeat=len(probe.inputs)))
    nudged = [_call(label, fn, probe, stable, s).numpy().astype(np.float64) for s in shifts[1:]]
    laws = [_Law("range [0, 1]", np.s_[...], "ge", 0.0),
            _Law("range [0, 1]", np.s_[...], "le", 1.0)] + probe.laws
    for law in laws:
        got, expected, err = _violation(law, v)
        if law.nudge:
            for w in nudged:
                err = np.minimum(err, _violation(law, w)[2])
        bad = ~(err <= _TOL[stable])  # NaN fails too
        if bad.any():
            worst = np.unravel_index(np.argmax(np.where(bad, np.nan_to_num(err, nan=np.inf),
                                                        -np.inf)), err.shape)
            at = tuple(ix[law.sel][worst] for ix in np.indices(v.shape))
            sym = {"eq": "", "ge": ">= ", "le": "<= "}[law.cmp]
            raise ValueError(
                f"{label} fails the law '{law.name}' (stable={stable}): got "
                f"{got[worst]:.6g}, expected {sym}{expected[worst]:.6g} at {probe.describe(at)}"
            )


def _violation(law, v):
    got = np.asarray(v[law.sel], dtype=np.float64)
    expected = law.expected(v) if callable(law.expected) else law.expected
    expected = np.broadcast_to(np.asarray(expected, dtype=np.float64), got.shape)
    err = {"eq": lambda: np.abs(got - expected), "ge": lambda: expected - got,
           "le": lambda: got - expected}[law.cmp]()
    return got, expected, err


# --- semantics ------------------------------------------------------------------------------
_FIELDS = {"not": "not_op", "and": "and_op", "or": "or_op", "implies": "implies_op",
           "forall": "forall_op", "exists": "exists_op", "p_forall": "p_forall",
           "p_exists": "p_exists", "stable": "stable", "certainty": "certainty",
           "threshold": "threshold"}
_KIND_OF = {"not": "not", "and": "and", "or": "or", "implies": "implies",
            "forall": "aggregator", "exists": "aggregator"}


def _positive(key, p):
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not (0 < p < math.inf):
        raise ValueError(f"{key!r} must be a finite number > 0, got {p!r}")
    return float(p)


@dataclass(frozen=True, repr=False)
class Semantics:
    """One operator per connective and quantifier, by registered name; defaults: product.

    ``Semantics.resolve`` builds one from a preset name, a mapping or nothing:

    >>> Semantics.resolve({"preset": "godel", "implies": "goguen"}).implies_op
    'goguen'
    """

    not_op: str = "standard"
    and_op: str = "prod"
    or_op: str = "probsum"
    implies_op: str = "reichenbach"
    forall_op: str = "pmean_error"
    exists_op: str = "pmean"
    p_forall: float = 2.0
    p_exists: float = 2.0
    stable: bool = True
    certainty: bool = False  # forward chaining computes MYCIN/EMYCIN certainty factors
    threshold: float = 0.2  # with certainty: a rule fires above this premise CF (MYCIN)

    def __post_init__(self):
        for key, kind in _KIND_OF.items():
            value = getattr(self, _FIELDS[key])
            if not isinstance(value, str) or value not in _REGISTRY[kind]:
                raise ValueError(f"unknown {key!r} operator {value!r}; known {kind} operators: "
                                 f"{', '.join(operator_names(kind))}")
        for key in ("p_forall", "p_exists"):
            object.__setattr__(self, key, _positive(key, getattr(self, key)))
        if not isinstance(self.stable, (bool, np.bool_)):
            raise ValueError(f"'stable' must be true or false, got {self.stable!r}")
        object.__setattr__(self, "stable", bool(self.stable))
        if not isinstance(self.certainty, (bool, np.bool_)):
            raise ValueError(f"'certainty' must be true or false, got {self.certainty!r}")
        object.__setattr__(self, "certainty", bool(self.certainty))
        t = self.threshold
        if isinstance(t, bool) or not isinstance(t, numbers.Real) or not 0 <= t < 1:
            raise ValueError(f"'threshold' must be a number in [0, 1), got {t!r}")
        object.__setattr__(self, "threshold", float(t))

    @classmethod
    def resolve(cls, spec=None):
        """A Semantics from None (product), a preset name, a Semantics, or a mapping.

        A mapping's keys are among ``not and or implies forall exists p_forall p_exists
        stable``, with an optional ``preset`` for the keys left out (default product).
        """
        if spec is None:
            return PRESETS["product"]
        if isinstance(spec, Semantics):
            return spec
        if isinstance(spec, str):
            return _preset(spec)
        if not isinstance(spec, Mapping):
            raise ValueError(f"semantics must be a preset name ({', '.join(sorted(PRESETS))}), "
                             f"a mapping or a Semantics, got {type(spec).__name__}")
        valid = (*_FIELDS, "preset")
        for key in spec:
            if key not in valid:
                raise ValueError(f"unknown semantics key {key!r}; valid keys: "
                                 f"{', '.join(valid)}")
        settings = _preset(spec.get("preset", "product")).to_dict()
        settings.update((k, v) for k, v in spec.items() if k != "preset")
        return cls(**{_FIELDS[k]: v for k, v in settings.items()})

    def to_dict(self):
        """The mapping form: ``{"not": ..., "and": ..., ..., "stable": ...}``."""
        return {key: getattr(self, field) for key, field in _FIELDS.items()}

    @property
    def name(self):
        """The preset this equals, or "custom"."""
        presets = {**PRESETS, **CHAINING_PRESETS}
        return next((name for name, s in presets.items() if s == self), "custom")

    def __repr__(self):
        settings = ", ".join(f"{k}={v!r}" for k, v in self.to_dict().items())
        return f"Semantics(name={self.name!r}, {settings})"

    def not_(self, x):
        """N(x), the not-operator."""
        return operator("not", self.not_op)(x, stable=self.stable)

    def and_(self, x, y):
        """T(x, y), the t-norm."""
        return operator("and", self.and_op)(x, y, stable=self.stable)

    def or_(self, x, y):
        """S(x, y), the t-conorm."""
        return operator("or", self.or_op)(x, y, stable=self.stable)

    def implies(self, x, y):
        """I(x, y), the implication."""
        return operator("implies", self.implies_op)(x, y, stable=self.stable)

    def equiv(self, x, y):
        """Equivalence: E(x, y) = T(I(x, y), I(y, x))."""
        return self.and_(self.implies(x, y), self.implies(y, x))

    def forall(self, xs, dims, mask=None, p=None):
        """forall over the axes ``dims`` (kept, size 1); 1 where ``mask`` keeps nothing."""
        return self._quantify(self.forall_op, self.p_forall if p is None else p, 1.0,
                              xs, dims, mask)

    def exists(self, xs, dims, mask=None, p=None):
        """exists over the axes ``dims`` (kept, size 1); 0 where ``mask`` keeps nothing."""
        return self._quantify(self.exists_op, self.p_exists if p is None else p, 0.0,
                              xs, dims, mask)

    def _quantify(self, name, p, vacuous, xs, dims, mask):
        out = operator("aggregator", name)(xs, dims, p=_positive("p", p), mask=mask,
                                           stable=self.stable)
        if mask is None:
            return out
        # LTNtorch replaces the NaN of an empty aggregation; here nothing is NaN to begin with
        return nesy.where(empty_groundings(xs, dims, mask), vacuous, out)

    def aggregate(self, values, weights=None):
        """The forall aggregator over closed-formula truths, as a 0-dim tensor (SatAgg).

        With non-negative ``weights``, a weighted mean replaces the mean (pmean_error:
        1 - (sum_i w_i (1 - x_i)^p / sum_i w_i)^(1/p)); min and max drop weight-0 entries, as
        does any aggregator without a ``weights`` parameter. All weights 0 gives 1.
        """
        if isinstance(values, (list, tuple)):
            values = nesy.stack([v.reshape(()) for v in values])
        if values.ndim != 1:
            raise ValueError(f"aggregate expects a 1-D tensor of truths, got {values.ndim}-D")
        if values.shape[0] == 0:
            return nesy.ones((), dtype=values.dtype)
        fn = operator("aggregator", self.forall_op)
        if weights is None:
            return fn(values, (0,), p=self.p_forall, stable=self.stable).reshape(())
        w = _weights(weights, values)
        mask = w > 0
        extra = {"weights": w} if _takes_weights(fn) else {}
        out = fn(values, (0,), p=self.p_forall, mask=mask, stable=self.stable, **extra)
        return nesy.where(nesy.any(mask), out, 1.0).reshape(())


def _weights(weights, values):
    w = weights if isinstance(weights, Tensor) else nesy.tensor(np.asarray(weights, float),
                                                                device=values.device)
    w = nesy.cast(w, values.dtype)
    if tuple(w.shape) != tuple(values.shape):
        raise ValueError(f"weights of shape {tuple(w.shape)} for {values.shape[0]} truths")
    data = w.detach().numpy()
    if not (np.isfinite(data).all() and (data >= 0).all()):
        raise ValueError("weights must be finite and non-negative")
    return w


def _takes_weights(fn):
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == "weights" or p.kind is p.VAR_KEYWORD for p in params)


def _preset(name):
    if isinstance(name, str) and name in CHAINING_PRESETS:
        return CHAINING_PRESETS[name]
    if not isinstance(name, str) or name not in PRESETS:
        raise ValueError(f"unknown semantics preset {name!r}; known presets: "
                         f"{', '.join(sorted([*PRESETS, *CHAINING_PRESETS]))}")
    return PRESETS[name]


PRESETS = MappingProxyType({
    "product": Semantics(),
    "godel": Semantics(and_op="min", or_op="max", implies_op="godel", forall_op="min",
                       exists_op="max"),
    "lukasiewicz": Semantics(and_op="luk", or_op="luk", implies_op="luk", forall_op="mean",
                             exists_op="max"),
})

# Presets for forward chaining only. ``certainty``: ``kb.infer()`` computes MYCIN/EMYCIN
# certainty factors in [-1, 1] (``certainty.py``); formulas use Goedel's connectives.
CHAINING_PRESETS = MappingProxyType({
    "certainty": Semantics(and_op="min", or_op="max", implies_op="kleene_dienes",
                           forall_op="min", exists_op="max", certainty=True),
})

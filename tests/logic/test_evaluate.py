"""Tests for nesy.logic.evaluate: random formulas against a naive LTNtorch grounding, guards,
paired variables, quantifier options, errors, dtypes and gradients."""

import numpy as np
import pytest

import nesy
from nesy.logic import RuleError, evaluate

torch = pytest.importorskip("torch")
ltn = pytest.importorskip("ltn")
ops = ltn.fuzzy_ops

SORTS = "abc"  # a variable's name starts with its sort: a0, a1, b0, ...


# --- the reference: every subformula over the full grid of all variables -------------------
# Each binder gets its own axis of a grid spanning all binders of the formula; an atom is its
# table indexed by the grid's index arrays (the cross product, with copies, as LTNtorch
# grounds), a quantifier aggregates its axes with LTNtorch's aggregator and is spread back
# over the grid. The connectives and aggregators of each semantics are written out here.
def ltn_semantics(name):
    """(and, or, implies, forall, exists) of a semantics as LTNtorch callables; aggregators
    as (name, p, stable)."""
    return {
        "product": lambda: (
            ops.AndProd(stable=True),
            ops.OrProbSum(stable=True),
            ops.ImpliesReichenbach(stable=True),
            ("pmean_error", 2.0, True),
            ("pmean", 2.0, True),
        ),
        "godel": lambda: (
            ops.AndMin(),
            ops.OrMax(),
            ops.ImpliesGodel(),
            ("min", None, None),
            ("max", None, None),
        ),
        "lukasiewicz": lambda: (
            ops.AndLuk(),
            ops.OrLuk(),
            ops.ImpliesLuk(),
            ("mean", None, None),
            ("max", None, None),
        ),
        "custom": lambda: (
            ops.AndLuk(),
            ops.OrProbSum(stable=True),
            ops.ImpliesGoguen(stable=True),
            ("pmean_error", 3.0, True),
            ("pmean", 1.5, True),
        ),
        "custom_unstable": lambda: (
            ops.AndProd(stable=False),
            ops.OrProbSum(stable=False),
            ops.ImpliesKleeneDienes(),
            ("min", None, None),
            ("mean", None, None),
        ),
    }[name]()


# unstable p-means and Goguen have NaN gradients at 0 in LTNtorch: the custom mappings avoid them
SEMANTICS = {
    "product": "product",
    "godel": "godel",
    "lukasiewicz": "lukasiewicz",
    "custom": {
        "and": "luk",
        "or": "probsum",
        "implies": "goguen",
        "forall": "pmean_error",
        "p_forall": 3.0,
        "exists": "pmean",
        "p_exists": 1.5,
    },
    "custom_unstable": {
        "and": "prod",
        "or": "probsum",
        "implies": "kleene_dienes",
        "forall": "min",
        "exists": "mean",
        "stable": False,
    },
}


def ltn_aggregate(spec, xs, dims, mask, p_option, vacuous):
    """LTNtorch's aggregation over ``dims`` (kept); an empty guard gives ``vacuous``."""
    name, p, stable = spec
    p = p if p_option is None else p_option
    if mask is not None:
        empty = ~mask.any(dim=dims, keepdim=True)
        mask = mask | empty  # aggregate something defined there; replaced below
    if name == "max":  # LTNtorch has no max aggregator
        kept = xs if mask is None else torch.where(mask, xs, 0.0)
        out = torch.amax(kept, dim=dims, keepdim=True)
    else:
        if name in ("min", "mean"):
            op = ops.AggregMin() if name == "min" else ops.AggregMean()
        else:
            op = {"pmean": ops.AggregPMean, "pmean_error": ops.AggregPMeanError}[name]
            op = op(p=p, stable=stable)
        out = op(xs, dim=dims, keepdim=True, mask=mask)
    return out if mask is None else torch.where(empty, vacuous, out)


class Reference:
    """Grounds a formula (nested tuples, see ``Generator``) naively with LTNtorch's operators."""

    def __init__(self, tables, semantics):
        self.tables = tables
        self.neg = ops.NotStandard()
        self.and_, self.or_, self.implies, self.forall, self.exists = ltn_semantics(semantics)
        self.equiv = ops.Equiv(self.and_, self.implies)

    def __call__(self, formula, sizes):
        self.grid = []  # the size of each binder's axis
        self.axis_of = {}  # id(binder) -> axis
        self._axes(formula, sizes)
        self.index = [
            torch.arange(n)
            .reshape([n if i == a else 1 for i in range(len(self.grid))])
            .expand(self.grid)
            for a, n in enumerate(self.grid)
        ]
        out = self.node(formula, {})
        return out.reshape(-1)[0]

    def _axes(self, node, sizes):
        if node[0] == "q":
            for binder in node[2]:
                self.axis_of[id(binder)] = len(self.grid)
                self.grid.append(sizes[binder[0][0]])
        for child in subformulas(node):
            self._axes(child, sizes)

    def full(self, t):
        return torch.broadcast_to(t, self.grid)

    def term(self, t, scope):
        if t[0] == "var":
            return self.index[scope[t[1]]]
        if t[0] == "const":
            return torch.full(self.grid, t[1], dtype=torch.int64)
        return self.term(t[1], scope) + self.term(t[2], scope)

    def node(self, node, scope):
        kind = node[0]
        if kind == "atom":
            index = tuple(self.term(a, scope) for a in node[2])
            return self.full(self.tables[node[1]][index])
        if kind == "not":
            return self.neg(self.node(node[1], scope))
        if kind == "bin":
            op = {"and": self.and_, "or": self.or_, "->": self.implies, "<->": self.equiv}
            return op[node[1]](self.node(node[2], scope), self.node(node[3], scope))
        if kind == "cmp":
            compare = {"=": torch.eq, "!=": torch.ne, "<": torch.lt, ">=": torch.ge}[node[1]]
            return compare(self.term(node[2], scope), self.term(node[3], scope)).double()
        _, quantifier, binders, guard, body, p = node
        inner = dict(scope)
        for binder in binders:
            for name in binder:
                inner[name] = self.axis_of[id(binder)]
        dims = tuple(self.axis_of[id(b)] for b in binders)
        mask = None
        if guard is not None:
            with torch.no_grad():
                mask = self.node(guard, inner) > 0.5
        spec, vacuous = (self.forall, 1.0) if quantifier == "forall" else (self.exists, 0.0)
        return self.full(ltn_aggregate(spec, self.node(body, inner), dims, mask, p, vacuous))


# --- random closed formulas ------------------------------------------------------------------
class Generator:
    """Random tables and closed formulas over them, as nested tuples with their text."""

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)

    def case(self):
        rng = self.rng
        self.sizes = {s: int(rng.integers(1, 5)) for s in SORTS}
        self.schema = {}
        for name in "PQR"[: rng.integers(1, 4)]:
            self.schema[name] = tuple(rng.choice(list(SORTS), rng.integers(1, 4)))
        self.used_sorts = sorted({s for sorts in self.schema.values() for s in sorts})
        tables = {
            name: rng.random(tuple(self.sizes[s] for s in sorts))
            for name, sorts in self.schema.items()
        }
        while True:
            formula = self.formula(3, {}, top=True)
            grid = np.prod([self.sizes[b[0][0]] for b in binders_of(formula)])
            if grid <= 4096:
                return tables, formula, dict(self.sizes)

    def formula(self, depth, scope, top=False):
        rng = self.rng
        r = rng.random()
        if top and r < 0.85 or not top and depth > 0 and r < 0.3:
            return self.quantified(depth, scope)
        if depth == 0 or r < 0.45:
            if scope and rng.random() < 0.2:
                return self.compare(scope)
            return self.atom(scope)
        if r < 0.6:
            return ("not", self.formula(depth - 1, scope))
        op = str(rng.choice(["and", "or", "->", "<->"]))
        return ("bin", op, self.formula(depth - 1, scope), self.formula(depth - 1, scope))

    def quantified(self, depth, scope):
        rng = self.rng
        inner = dict(scope)
        binders = []
        for _ in range(rng.integers(1, 3)):
            sort = str(rng.choice(self.used_sorts))
            binder = [self.fresh(sort, inner)]
            inner[binder[0]] = sort
            if rng.random() < 0.2:  # a paired binder: diag(a0, a1)
                binder.append(self.fresh(sort, inner))
                inner[binder[1]] = sort
            binders.append(tuple(binder))
        new = [v for b in binders for v in b]
        guard = None
        if rng.random() < 0.3:
            guard = self.compare(inner) if rng.random() < 0.5 else self.atom(inner)
        body = self.formula(depth - 1, inner)
        for v in new:  # every variable must index a table, to have a range
            if not uses(body, v) and not (guard and uses(guard, v)):
                body = ("bin", "and", body, self.atom(inner, must=v))
        p = float(rng.choice([1.0, 2.0, 3.5, 5.0])) if rng.random() < 0.2 else None
        kind = "forall" if rng.random() < 0.5 else "exists"
        return ("q", kind, tuple(binders), guard, body, p)

    @staticmethod
    def fresh(sort, scope):
        return next(f"{sort}{i}" for i in range(10) if f"{sort}{i}" not in scope)

    def atom(self, scope, must=None):
        rng = self.rng
        names = list(self.schema)
        if must is not None:
            names = [n for n in names if scope[must] in self.schema[n]]
        name = str(rng.choice(names))
        sorts = self.schema[name]
        args = []
        for s in sorts:
            candidates = [v for v, vs in scope.items() if vs == s]
            if candidates and rng.random() < 0.85:
                args.append(("var", str(rng.choice(candidates))))
            else:
                args.append(("const", int(rng.integers(0, self.sizes[s]))))
        if must is not None:
            pos = int(rng.choice([i for i, s in enumerate(sorts) if s == scope[must]]))
            args[pos] = ("var", must)
        return ("atom", name, tuple(args))

    def compare(self, scope):
        rng = self.rng
        names = list(scope)
        left = ("var", str(rng.choice(names)))
        if rng.random() < 0.5:
            right = ("var", str(rng.choice(names)))
        else:
            right = ("const", int(rng.integers(0, 4)))
        if rng.random() < 0.2:
            left = ("add", left, ("var", str(rng.choice(names))))
        return ("cmp", str(rng.choice(["=", "!=", "<", ">="])), left, right)


def uses(node, var):
    """Whether ``var`` indexes a table in ``node`` (a comparison gives it no range)."""
    if node[0] == "atom":
        return ("var", var) in node[2]
    return any(uses(c, var) for c in subformulas(node))


def subformulas(node):
    return [c for c in node[1:] if isinstance(c, tuple) and c and isinstance(c[0], str)]


def binders_of(node):
    found = list(node[2]) if node[0] == "q" else []
    for c in subformulas(node):
        found += binders_of(c)
    return found


def text(node):
    """The formula in the rule language, fully parenthesised."""
    kind = node[0]
    if kind == "var":
        return node[1]
    if kind == "const":
        return str(node[1])
    if kind == "add":
        return f"{text(node[1])} + {text(node[2])}"
    if kind == "atom":
        return f"{node[1]}({', '.join(text(a) for a in node[2])})"
    if kind == "not":
        return f"not ({text(node[1])})"
    if kind in ("bin", "cmp"):
        return f"({text(node[2])} {node[1]} {text(node[3])})"
    _, quantifier, binders, guard, body, p = node
    option = "" if p is None else f"[p = {p:g}]"
    names = ", ".join(b[0] if len(b) == 1 else f"diag({', '.join(b)})" for b in binders)
    where = "" if guard is None else f" where {text(guard)}"
    return f"({quantifier}{option} {names}{where}: {text(body)})"


CASES = [Generator(seed).case() for seed in range(100)]


def nesy_leaves(tables, dtype=nesy.float64):
    return {k: nesy.tensor(v, dtype=dtype, requires_grad=True) for k, v in tables.items()}


def grad_of(t, shape):
    """A nesy or torch tensor's gradient as an array; none counts as zeros."""
    return np.zeros(shape) if t.grad is None else t.grad.numpy()


@pytest.mark.parametrize("semantics", sorted(SEMANTICS))
def test_random_formulas_match_the_naive_reference(semantics):
    for i, (tables, formula, sizes) in enumerate(CASES):
        source = text(formula)
        ours = nesy_leaves(tables)
        theirs = {k: torch.tensor(v, requires_grad=True) for k, v in tables.items()}
        out = evaluate(source, ours, semantics=SEMANTICS[semantics])
        ref = Reference(theirs, semantics)(formula, sizes)
        where = f"case {i}: {source}"
        assert out.dtype == np.float64, where
        np.testing.assert_allclose(out.item(), ref.item(), rtol=1e-9, atol=1e-12, err_msg=where)
        if out.requires_grad:
            out.backward()
        if ref.requires_grad:
            ref.backward()
        for k, v in tables.items():
            np.testing.assert_allclose(
                grad_of(ours[k], v.shape),
                grad_of(theirs[k], v.shape),
                rtol=1e-9,
                atol=1e-12,
                err_msg=f"d/d{k}, {where}",
            )


def test_the_random_formulas_cover_the_language():
    sources = [text(f) for _, f, _ in CASES]
    for construct in [
        "forall",
        "exists",
        "diag(",
        " where ",
        "[p = ",
        "not (",
        " and ",
        " or ",
        " -> ",
        " <-> ",
        " != ",
        " + ",
    ]:
        assert sum(construct in s for s in sources) >= 3, construct
    assert any(a[1] == b[1] for _, f, _ in CASES for a, b in repeated_args(f))  # R(x, x)


def repeated_args(node):
    if node[0] == "atom":
        return [
            (a, b) for i, a in enumerate(node[2]) for b in node[2][i + 1 :] if a[0] == b[0] == "var"
        ]
    return [p for c in subformulas(node) for p in repeated_args(c)]


# --- guards ---------------------------------------------------------------------------------
def pmean_error(xs, p=2.0):
    """Stable pmean_error of a 1-D array, written out."""
    xs = (1 - 1e-4) * np.asarray(xs)
    return 1 - np.mean((1 - xs) ** p) ** (1 / p)


def pmean(xs, p=2.0):
    xs = (1 - 1e-4) * np.asarray(xs) + 1e-4
    return np.mean(xs**p) ** (1 / p)


def test_guard_on_distinct_variables():
    R = np.random.default_rng(0).random((4, 4))
    off_diagonal = R[~np.eye(4, dtype=bool)]
    out = evaluate("forall x, y where x != y: R(x, y)", {"R": R})
    np.testing.assert_allclose(out.item(), pmean_error(off_diagonal), rtol=1e-9)
    out = evaluate("forall x, y where x != y: R(x, y)", {"R": R}, semantics="godel")
    assert out.item() == pytest.approx(off_diagonal.min())


def test_guard_on_a_crisp_table():
    rng = np.random.default_rng(1)
    C = rng.random((3, 5)) < 0.5
    C[0] = False  # x = 0 has no y
    R = rng.random((3, 5))
    inner = [pmean(R[x][C[x]]) if C[x].any() else 0.0 for x in range(3)]
    out = evaluate("forall x: exists y where C(x, y): R(x, y)", {"C": C, "R": R})
    np.testing.assert_allclose(out.item(), pmean_error(inner), rtol=1e-9)
    inner = [R[x][C[x]].mean() if C[x].any() else 1.0 for x in range(3)]
    out = evaluate(
        "exists x: forall y where C(x, y): R(x, y)", {"C": C, "R": R}, semantics="lukasiewicz"
    )
    np.testing.assert_allclose(out.item(), max(inner), rtol=1e-9)


@pytest.mark.parametrize("semantics", sorted(SEMANTICS))
def test_empty_guard_gives_one_for_forall_and_zero_for_exists(semantics):
    P = nesy.tensor(np.random.default_rng(2).random(3), dtype=nesy.float64, requires_grad=True)
    sem = SEMANTICS[semantics]
    forall = evaluate("forall x where x != x: P(x)", {"P": P}, semantics=sem)
    exists = evaluate("exists x where x < 0: P(x)", {"P": P}, semantics=sem)
    assert (forall.item(), exists.item()) == (1.0, 0.0)
    (forall + exists).backward()
    np.testing.assert_array_equal(grad_of(P, (3,)), 0.0)


def test_guard_takes_no_gradient():
    rng = np.random.default_rng(3)
    G = nesy.tensor(rng.random((3, 3)), dtype=nesy.float64, requires_grad=True)
    R = nesy.tensor(rng.random((3, 3)), dtype=nesy.float64, requires_grad=True)
    evaluate("forall x, y where G(x, y): R(x, y)", {"G": G, "R": R}).backward()
    assert G.grad is None or not G.grad.numpy().any()
    assert R.grad.numpy().any()


# --- paired variables and quantifier options, against LTNtorch ------------------------------
def ltn_var(name, n):
    return ltn.Variable(name, torch.arange(n, dtype=torch.float64)[:, None])


def ltn_table(table):
    return ltn.Predicate(func=lambda *args: table[tuple(a[:, 0].long() for a in args)])


@pytest.mark.parametrize(
    "formula",
    [
        "forall diag(x, y): R(x, y)",
        "forall diag(x, y): exists z: T(x, y, z)",
        "exists diag(x, y), z: T(x, y, z)",
    ],
)
def test_paired_variables_match_ltn_diag(formula):
    rng = np.random.default_rng(4)
    arrays = {"R": rng.random((4, 4)), "T": rng.random((4, 4, 3))}
    ours = nesy_leaves(arrays)
    theirs = {k: torch.tensor(v, requires_grad=True) for k, v in arrays.items()}
    forall = ltn.Quantifier(ops.AggregPMeanError(p=2), quantifier="f")
    exists = ltn.Quantifier(ops.AggregPMean(p=2), quantifier="e")
    x, y, z = ltn_var("x", 4), ltn_var("y", 4), ltn_var("z", 3)
    R, T = ltn_table(theirs["R"]), ltn_table(theirs["T"])
    ref = {
        "forall diag(x, y): R(x, y)": lambda: forall(ltn.diag(x, y), R(x, y)),
        "forall diag(x, y): exists z: T(x, y, z)": lambda: forall(
            ltn.diag(x, y), exists(z, T(x, y, z))
        ),
        "exists diag(x, y), z: T(x, y, z)": lambda: exists([*ltn.diag(x, y), z], T(x, y, z)),
    }[formula]().value
    out = evaluate(formula, ours)
    np.testing.assert_allclose(out.item(), ref.item(), rtol=1e-6)
    out.backward()
    ref.backward()
    for k in arrays:
        np.testing.assert_allclose(
            grad_of(ours[k], arrays[k].shape),
            grad_of(theirs[k], arrays[k].shape),
            rtol=1e-5,
            atol=1e-7,
        )


def test_paired_variables_are_the_diagonal():
    R = np.random.default_rng(5).random((4, 4))
    out = evaluate("exists diag(x, y): R(x, y)", {"R": R}, semantics="godel")
    assert out.item() == np.diag(R).max()
    same = evaluate("exists x: R(x, x)", {"R": R}, semantics="godel")
    assert same.item() == out.item()


def test_quantifier_p_option():
    R = np.random.default_rng(6).random((3, 4))
    out = evaluate("forall[p = 5] x: exists[p = 6] y: R(x, y)", {"R": R})
    inner = [pmean(R[x], 6.0) for x in range(3)]
    np.testing.assert_allclose(out.item(), pmean_error(inner, 5.0), rtol=1e-9)
    default = evaluate("forall x: exists y: R(x, y)", {"R": R})
    np.testing.assert_allclose(default.item(), pmean_error([pmean(r) for r in R]), rtol=1e-9)
    godel = evaluate("forall[p = 5] x: exists[p = 6] y: R(x, y)", {"R": R}, semantics="godel")
    assert godel.item() == R.max(axis=1).min()  # min and max take no p


# --- errors ---------------------------------------------------------------------------------
def rule_error(formula, tables, **kwargs):
    with pytest.raises(RuleError) as info:
        evaluate(formula, tables, **kwargs)
    return info.value


TABLES = {"R": np.full((3, 4), 0.5), "P": np.full(3, 0.5), "Q": np.full(5, 0.5)}


def test_error_variable_ranges_disagree():
    e = rule_error("forall x, y:\n    R(x, y) and\n    Q(y)", TABLES)
    assert (e.line, e.column) == (3, 7)
    assert "variable y" in e.message and "5" in e.message and "4" in e.message
    assert "Q(y)" in str(e) and "^" in str(e)


@pytest.mark.parametrize(
    "formula, position, words",
    [
        ("forall x: S(x)", (1, 11), ["undefined predicate", "'S'"]),
        ("forall x: R(x)", (1, 11), ["R", "1 argument", "2 axes"]),
        ("forall x: P(x) and R(x, y)", (1, 25), ["'y'", "not bound"]),
        ("forall x: R(x, 4)", (1, 16), ["constant 4", "size 4"]),
        ("forall x: R(x, 1.5)", (1, 16), ["constant 1.5"]),
        (
            "exists x: P(x) and\n  forall diag(x2, y): R(x2, y)",
            (2, 10),
            ["paired", "x2: 3", "y: 4"],
        ),
    ],
)
def test_errors_name_the_problem_and_its_place(formula, position, words):
    e = rule_error(formula, TABLES)
    assert (e.line, e.column) == position
    for word in words:
        assert word in e.message


def test_grounding_budget():
    formula = "forall x: exists y: P(x) and R(x, y)"
    assert 0 < evaluate(formula, TABLES, max_groundings=12).item() < 1
    e = rule_error(formula, TABLES, max_groundings=11)
    assert (e.line, e.column) == (1, 1)
    for word in ["formula", "x, y", "12 values", "3 x 4", "budget of 11"]:
        assert word in e.message


# --- dtypes and gradients -------------------------------------------------------------------
@pytest.mark.parametrize("semantics", sorted(SEMANTICS))
def test_float32_in_float32_out(semantics):
    rng = np.random.default_rng(7)
    arrays = {"R": rng.random((3, 4)), "P": rng.random(3)}
    tables = nesy_leaves(arrays, dtype=nesy.float32)
    formula = "forall x: P(x) -> exists y where x != y: R(x, y)"
    out = evaluate(formula, tables, semantics=SEMANTICS[semantics])
    assert out.dtype == np.float32
    out.backward()
    for t in tables.values():
        assert t.grad is None or t.grad.dtype == np.float32
    ref = evaluate(formula, arrays, semantics=SEMANTICS[semantics])
    assert ref.dtype == np.float64
    np.testing.assert_allclose(out.item(), ref.item(), rtol=1e-5)


def test_mixed_dtypes_promote_to_float64():
    out = evaluate(
        "forall x: P(x) and Q(x)", {"P": np.float32([0.5, 0.6]), "Q": np.float64([0.7, 0.8])}
    )
    assert out.dtype == np.float64


def test_gradients_reach_only_tables_that_require_them():
    rng = np.random.default_rng(8)
    P = nesy.tensor(rng.random(3), dtype=nesy.float64, requires_grad=True)
    Q = nesy.tensor(rng.random(3), dtype=nesy.float64)
    out = evaluate("forall x: P(x) -> Q(x)", {"P": P, "Q": Q})
    out.backward()
    assert P.grad is not None and P.grad.numpy().all()
    assert Q.grad is None
    assert not evaluate("forall x: Q(x)", {"Q": Q}).requires_grad


@pytest.mark.parametrize(
    "formula, semantics",
    [
        ("forall x: exists y: R(x, y) -> P(x)", "product"),
        ("forall x, y where x != y: R(x, y) <-> (P(x) or not P(y))", "product"),
        ("forall diag(x, y): R(x, y) and R(y, x)", "product"),
        ("forall[p = 3.5] x: exists[p = 3] y: R(x, x) and R(x, y)", "product"),
        (
            "exists x: forall y: R(x, y) -> P(y)",
            {"and": "luk", "implies": "goguen", "forall": "pmean_error"},
        ),
    ],
)
def test_gradcheck_through_evaluate(formula, semantics):
    rng = np.random.default_rng(9)
    R = nesy.tensor(rng.uniform(0.1, 0.9, (3, 3)), dtype=nesy.float64, requires_grad=True)
    P = nesy.tensor(rng.uniform(0.1, 0.9, 3), dtype=nesy.float64, requires_grad=True)
    assert nesy.gradcheck(
        lambda r, p: evaluate(formula, {"R": r, "P": p}, semantics=semantics), R, P
    )

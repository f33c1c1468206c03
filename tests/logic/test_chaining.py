"""Tests for forward chaining (nesy.logic.chaining, KnowledgeBase.infer): crisp least models
against a naive set-based Datalog evaluator, fuzzy values written out in NumPy, stratified
negation, confidences, gradients and the convergence report."""

import itertools

import numpy as np
import pytest

import nesy
from nesy.logic import ast, loads

PRESETS = ("product", "godel", "lukasiewicz")
ENGINES = ("dense", "sparse")


# --- a naive Datalog reference: sets of ground atoms ------------------------------------------
def datalog(kb, strata):
    """The least model of ``kb``'s crisp facts and Horn rules, stratum by stratum (``strata``:
    head predicates per stratum, given by hand), by naive iteration over every grounding."""
    model = {
        (p, args)
        for p, info in kb.signature.predicates.items()
        if info.kind == "table"
        for args in _facts(kb, p)
    }
    horn = [s for s in kb.program.statements if isinstance(s, ast.HornRule)]
    domain = kb.signature.domains
    for heads in strata:
        rules = [r for r in horn if r.head.predicate in heads]
        while True:
            new = set()
            for rule in rules:
                names = sorted({v.name: v for v in _vars(rule)}.items())
                ranges = [domain[v.domain].individuals for _, v in names]
                for values in itertools.product(*ranges):
                    bind = dict(zip((n for n, _ in names), values))
                    if all(_holds(lit, bind, model) for lit in rule.body):
                        new.add(_ground(rule.head, bind))
            if new <= model:
                break
            model |= new
    return model


def _facts(kb, predicate):
    return [args for args, t in kb.atoms(predicate).items() if t == 1.0]


def _vars(rule):
    lits = [rule.head, *rule.body]
    atoms = [lit.operand if isinstance(lit, ast.Not) else lit for lit in lits]
    terms = [a for x in atoms for a in (x.args if isinstance(x, ast.Atom) else (x.left, x.right))]
    return [t for t in terms if isinstance(t, ast.Var)]


def _ground(atom, bind):
    return atom.predicate, tuple(
        bind[a.name] if isinstance(a, ast.Var) else a.name for a in atom.args
    )


def _holds(lit, bind, model):
    if isinstance(lit, ast.Not):
        return not _holds(lit.operand, bind, model)
    if isinstance(lit, ast.Compare):
        left, right = (
            bind[t.name] if isinstance(t, ast.Var) else t.name for t in (lit.left, lit.right)
        )
        return {"=": left == right, "!=": left != right}[lit.op]
    return _ground(lit, bind) in model


def random_graph_kb(rules, seed, semantics, n=6, p=0.3):
    rng = np.random.default_rng(seed)
    nodes = [f"n{i}" for i in range(n)]
    edges = [f"Edge({a}, {b})." for a in nodes for b in nodes if rng.random() < p]
    parents = [f"Par({a}, {b})." for a in nodes for b in nodes if rng.random() < p / 2]
    text = "\n".join(
        [
            f"domain V = {{{', '.join(nodes)}}}.",
            "predicate Edge(V, V). predicate Par(V, V). predicate Node(V).",
            *(f"Node({a})." for a in nodes),
            *edges,
            *parents,
            rules,
        ]
    )
    return loads(text, semantics=semantics)


def derived_model(kb):
    """The atoms of derived predicates at truth 1, after checking every truth is 0 or 1."""
    out = set()
    for p, info in kb.signature.predicates.items():
        if info.kind != "derived":
            continue
        truths = kb.atoms(p)
        assert set(truths.values()) <= {0.0, 1.0}, p
        out |= {(p, args) for args, t in truths.items() if t == 1.0}
    return out


TC = """Path(x, y) :- Edge(x, y).
        Path(x, z) :- Edge(x, y), Path(y, z).
        Tc(x, y) :- Edge(x, y).
        Tc(x, z) :- Tc(x, y), Tc(y, z).
        FromZero(y) :- Path(n0, y).
        Root(n0, y) :- Edge(n0, y)."""
SAME_GENERATION = """Sg(x, x) :- Node(x).
        Sg(x, y) :- Par(x, xp), Sg(xp, yp), Par(y, yp), x != y."""
NEGATION = """Path(x, y) :- Edge(x, y).
        Path(x, z) :- Edge(x, y), Path(y, z).
        Unreach(x, y) :- Node(x), Node(y), not Path(x, y).
        Lonely(x) :- Node(x), not Linked(x).
        Linked(x) :- Path(x, y), x != y."""
PROGRAMS = {
    "tc": (TC, [["Path", "Tc", "FromZero", "Root"]]),
    "same_generation": (SAME_GENERATION, [["Sg"]]),
    "negation": (NEGATION, [["Path", "Linked"], ["Unreach"], ["Lonely"]]),
}


@pytest.mark.parametrize("semantics", PRESETS)
@pytest.mark.parametrize("program", sorted(PROGRAMS))
@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("engine", ENGINES)
def test_crisp_least_model_matches_datalog(program, semantics, seed, engine):
    rules, strata = PROGRAMS[program]
    kb = random_graph_kb(rules, seed, semantics)
    report = kb.infer(engine=engine)
    assert report.converged
    expected = {a for a in datalog(kb, strata) if a[0] in {p for s in strata for p in s}}
    assert derived_model(kb) == expected


@pytest.mark.parametrize("engine", ENGINES)
def test_crisp_least_model_on_a_denser_graph(engine):
    kb = random_graph_kb(NEGATION, seed=7, semantics="product", n=9, p=0.15)
    kb.infer(engine=engine)
    strata = PROGRAMS["negation"][1]
    expected = {a for a in datalog(kb, strata) if a[0] in {p for s in strata for p in s}}
    assert derived_model(kb) == expected


# --- fuzzy values, written out ----------------------------------------------------------------
# a -> b -> c and a -> d -> c, and a direct a -> c
DIAMOND = """domain V = {a, b, c, d}.
predicate Edge(V, V). predicate Node(V).
Node(a). Node(b). Node(c). Node(d).
0.8 :: Edge(a, b). 0.6 :: Edge(b, c). 0.5 :: Edge(a, d). 0.7 :: Edge(d, c). 0.3 :: Edge(a, c).
Path(x, y) :- Edge(x, y).
CONF Path(x, z) :- Edge(x, y), Path(y, z).
Unreach(x, y) :- Node(x), Node(y), not Path(x, y).
"""
T_NORM = {
    "product": lambda *x: np.prod(x),
    "godel": lambda *x: min(x),
    "lukasiewicz": lambda *x: max(0.0, sum(x) - (len(x) - 1)),
}
T_CONORM = {
    "product": lambda *x: 1 - np.prod([1 - v for v in x]),
    "godel": lambda *x: max(x),
    "lukasiewicz": lambda *x: min(1.0, sum(x)),
}


def diamond(semantics, confidence=None):
    prefix = "" if confidence is None else f"{confidence} ::"
    return loads(DIAMOND.replace("CONF", prefix), semantics=semantics, dtype="float64")


def expected_path_ac(semantics, confidence=1.0):
    t, s = T_NORM[semantics], T_CONORM[semantics]
    via_b = t(confidence, 0.8, 0.6)  # Path(b, c) = Edge(b, c): c has no way out
    via_d = t(confidence, 0.5, 0.7)
    return s(0.3, s(via_b, via_d))


@pytest.mark.parametrize("semantics", PRESETS)
@pytest.mark.parametrize("engine", ENGINES)
def test_fuzzy_path_values(semantics, engine):
    kb = diamond(semantics)
    kb.infer(engine=engine)
    path = kb.atoms("Path", min_truth=1e-9)
    assert path[("a", "c")] == pytest.approx(expected_path_ac(semantics), abs=1e-12)
    assert path[("b", "c")] == pytest.approx(0.6)
    assert path[("a", "b")] == pytest.approx(0.8)
    assert set(path) == {("a", "b"), ("b", "c"), ("a", "d"), ("d", "c"), ("a", "c")}
    assert float(kb.truth("Path(a, c)").item()) == pytest.approx(path[("a", "c")])


@pytest.mark.parametrize("semantics", PRESETS)
@pytest.mark.parametrize("engine", ENGINES)
def test_rule_confidence(semantics, engine):
    kb = diamond(semantics, confidence=0.9)
    kb.infer(engine=engine)
    got = float(kb.truth("Path(a, c)").item())
    assert got == pytest.approx(expected_path_ac(semantics, 0.9), abs=1e-12)
    assert float(kb.truth("Path(a, b)").item()) == pytest.approx(0.8)  # the first rule: 1


@pytest.mark.parametrize("semantics", PRESETS)
@pytest.mark.parametrize("engine", ENGINES)
def test_stratified_negation_uses_final_truths(semantics, engine):
    kb = diamond(semantics)
    report = kb.infer(engine=engine)
    assert report.strata == [["Path"], ["Unreach"]]
    assert report.iterations[1] == 1  # not recursive: one round
    unreach = kb.truth("Unreach(x, y)").numpy()
    path = kb.truth("Path(x, y)").numpy()
    np.testing.assert_allclose(unreach, 1 - path, atol=1e-12)


@pytest.mark.parametrize("engine", ENGINES)
def test_comparison_is_a_crisp_mask(engine):
    kb = loads(
        """domain V = {a, b}. predicate Edge(V, V).
                  0.4 :: Edge(a, a). 0.7 :: Edge(a, b).
                  Out(x, y) :- Edge(x, y), x != y.""",
        semantics="product",
    )
    kb.infer(engine=engine)
    assert kb.atoms("Out", min_truth=1e-9) == {("a", "b"): pytest.approx(0.7)}


@pytest.mark.parametrize("engine", ENGINES)
def test_facts_about_a_derived_predicate_count(engine):
    kb = loads("""domain V = {a, b, c}. predicate Edge(V, V).
                  0.5 :: Edge(a, b). 0.5 :: Edge(b, c). 0.2 :: Path(a, c).
                  Path(x, y) :- Edge(x, y). Path(x, z) :- Edge(x, y), Path(y, z).""")
    kb.infer(engine=engine)
    assert float(kb.truth("Path(a, c)").item()) == pytest.approx(1 - 0.8 * 0.75)


# --- the knowledge base after infer -----------------------------------------------------------
def test_reading_a_derived_predicate_infers():
    kb = diamond("godel")
    assert kb.atoms("Path", min_truth=0.55) == pytest.approx(
        {("a", "b"): 0.8, ("b", "c"): 0.6, ("d", "c"): 0.7, ("a", "c"): 0.6})
    assert kb.truth("Path(a, c)").item() == pytest.approx(0.6)


@pytest.mark.parametrize("engine", ENGINES)
def test_constraints_and_queries_read_inferred_tables(engine):
    kb = loads(
        DIAMOND.replace("CONF", "") + "rule reach: Path(a, c).\nquery q: Path(a, y).\n",
        semantics="godel",
    )
    assert float(kb.rule_truth("reach").item()) == pytest.approx(0.6)  # infers on its own
    kb.infer(engine=engine)
    assert float(kb.rule_truth("reach").item()) == pytest.approx(0.6)
    np.testing.assert_allclose(kb.truth("q").numpy(), [0.0, 0.8, 0.6, 0.5], atol=1e-6)


@pytest.mark.parametrize("engine", ENGINES)
def test_infer_again_after_changing_facts(engine):
    kb = diamond("godel")
    kb.infer(engine=engine)
    assert float(kb.truth("Path(a, c)").item()) == pytest.approx(0.6)
    kb.add_fact("Edge", "b", "c", degree=0.9)  # forgets the inferred tables
    assert float(kb.truth("Path(a, c)").item()) == pytest.approx(0.8)
    kb.set_truths("Edge", np.zeros((4, 4)))
    assert kb.atoms("Path", min_truth=1e-9) == {}


# --- gradients --------------------------------------------------------------------------------
CYCLIC = """domain V = {a, b, c}. predicate Edge(V, V).
Path(x, y) :- Edge(x, y).
0.9 :: Path(x, z) :- Edge(x, y), Path(y, z).
"""


@pytest.mark.parametrize("engine", ENGINES)
def test_gradcheck_through_a_cyclic_fixpoint(engine):
    kb = loads(CYCLIC, semantics="product", dtype="float64")
    rng = np.random.default_rng(0)
    edge = nesy.tensor(rng.uniform(0.1, 0.5, (3, 3)), dtype=nesy.float64, requires_grad=True)

    def path(e):
        kb.set_truths("Edge", e)
        assert kb.infer(engine=engine, max_iters=500, tol=1e-15).converged
        return kb.truth("Path(x, c)")

    assert nesy.gradcheck(path, edge)


@pytest.mark.parametrize("semantics", PRESETS)
@pytest.mark.parametrize("engine", ENGINES)
def test_gradient_direction(semantics, engine):
    kb = diamond(semantics)
    values = kb._fact_table("Edge", ast.NOWHERE).numpy().copy()
    edge = nesy.tensor(values, requires_grad=True)
    kb.set_truths("Edge", edge)
    kb.infer(engine=engine)
    kb.truth("Path(a, c)").backward()
    grad = edge.grad.numpy()
    assert (grad >= 0).all()  # every operator is monotone
    for i, j in [(0, 2), (1, 2), (0, 1)]:  # a -> c, b -> c, a -> b
        bumped = values.copy()
        bumped[i, j] += 1e-4
        kb.set_truths("Edge", bumped)
        kb.infer(engine=engine)
        slope = (float(kb.truth("Path(a, c)").item()) - expected_path_ac(semantics)) / 1e-4
        assert grad[i, j] == pytest.approx(slope, abs=1e-6)


@pytest.mark.parametrize("engine", ENGINES)
def test_gradient_reaches_a_bound_model(engine):
    kb = loads(CYCLIC, semantics="product", dtype="float64")
    kb.set_features("V", np.eye(3))
    w = nesy.tensor(
        np.random.default_rng(1).normal(size=(3, 3)), dtype=nesy.float64, requires_grad=True
    )

    def path(w):
        kb.bind("Edge", lambda x, y: ((x @ w) * y).sum(-1).sigmoid())
        assert kb.infer(engine=engine, max_iters=500, tol=1e-15).converged
        return kb.truth("Path(a, y)")

    assert nesy.gradcheck(path, w)


# --- the report -------------------------------------------------------------------------------
def chain(n):
    nodes = [f"v{i}" for i in range(n)]
    edges = " ".join(f"Edge({a}, {b})." for a, b in zip(nodes, nodes[1:]))
    return loads(
        f"domain V = {{{', '.join(nodes)}}}. predicate Edge(V, V). {edges}\n"
        "Path(x, y) :- Edge(x, y). Path(x, z) :- Edge(x, y), Path(y, z).",
        semantics="godel",
    )


@pytest.mark.parametrize("engine", ENGINES)
def test_report_of_a_long_chain(engine):
    kb = chain(40)
    report = kb.infer(engine=engine)
    assert report.converged and report.max_change == 0.0
    assert report.strata == [["Path"]]
    assert 39 <= report.iterations[0] <= 41  # depth grows one edge a round
    assert len(kb.atoms("Path", min_truth=1.0)) == 40 * 39 // 2


def test_too_few_iterations_is_reported():
    kb = chain(8)
    report = kb.infer(max_iters=2)
    assert not report.converged
    assert report.iterations == [2] and report.max_change == 1.0
    assert len(kb.atoms("Path", min_truth=1.0)) < 8 * 7 // 2
    with pytest.raises(ValueError, match="max_iters"):
        kb.infer(max_iters=0)


def test_a_registered_or_is_folded_pairwise():
    from nesy.logic.semantics import register_operator, unregister_operator

    register_operator("or", "test_probsum", lambda x, y, stable=True: x + y - x * y)
    try:
        kb = loads(DIAMOND.replace("CONF", ""), semantics={"or": "test_probsum"}, dtype="float64")
        kb.infer()
        got = float(kb.truth("Path(a, c)").item())
    finally:
        unregister_operator("or", "test_probsum")
    assert got == pytest.approx(expected_path_ac("product"), abs=1e-12)


def test_a_quoted_constant_in_a_body_comparison():
    kb = nesy.logic.loads(
        'Edge(a, b). Edge(b, c). Edge(c, a).\nPath(x, y) :- Edge(x, y).\n'
        'Path(x, z) :- Edge(x, y), Path(y, z).\nNotToC(x, y) :- Path(x, y), y != "c".\n'
    )
    kb.infer()
    pairs = {(x, y) for x in "abc" for y in "abc" if y != "c"}
    assert set(kb.atoms("NotToC", 0.5)) == pairs

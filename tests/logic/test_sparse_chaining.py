"""The sparse forward-chaining engine on what the dense one cannot hold, learnable rule
confidences, certainty factors through ``kb.infer`` and the knowledge base's fact APIs.

(Agreement of both engines with clingo and with naive references on random programs is in
``test_chaining_reference.py``; hand-computed fuzzy values in ``test_chaining.py``.)"""

import numpy as np
import pytest

import nesy
from nesy.logic import loads
from nesy.logic.relations import Relation

TC = """domain Node size {n}. predicate Edge(Node, Node).
Path(x, y) :- Edge(x, y).
Path(x, z) :- Edge(x, y), Path(y, z).
"""


def closure(n, edges):
    """Reachability by breadth-first search from every node: the reference."""
    succ = [[] for _ in range(n)]
    for a, b in edges:
        succ[a].append(b)
    out = set()
    for s in range(n):
        seen, todo = set(), list(succ[s])
        while todo:
            v = todo.pop()
            if v not in seen:
                seen.add(v)
                todo.extend(succ[v])
        out.update((s, v) for v in seen)
    return out


# --- scale -----------------------------------------------------------------------------------
def test_a_long_chain_needs_as_many_rounds_as_it_is_long():
    n = 2100  # dense: 2100^3 groundings a round; recursion 2100 deep
    kb = loads(TC.format(n=n))
    kb.add_facts("Edge", np.stack([np.arange(n - 1), np.arange(1, n)], axis=1))
    report = kb.infer()
    assert report.engine == "sparse" and report.converged
    assert report.iterations[0] == n - 1
    assert kb.count("Path") == n * (n - 1) // 2
    rows, truths = kb.relation("Path")
    assert (rows[:, 0] < rows[:, 1]).all() and (truths == 1).all()
    assert "Edge" not in kb._tables  # the facts never became a dense n x n table


@pytest.mark.parametrize("semantics", ["godel", "product"])
def test_random_graph_closure_matches_breadth_first_search(semantics):
    rng = np.random.default_rng(3)
    n = 400
    edges = {tuple(e) for e in rng.integers(0, n, (900, 2)) if e[0] != e[1]}
    kb = loads(f"semantics {semantics}.\n" + TC.format(n=n))
    kb.add_facts("Edge", np.array(sorted(edges)))
    kb.infer(engine="sparse")
    rows, _ = kb.relation("Path", min_truth=0.5)
    assert set(map(tuple, rows.tolist())) == closure(n, edges)


def test_unrelated_body_atoms_are_not_crossed():
    n = 200_000  # a cross product of A and B would be 4e10 rows
    kb = loads(f"""semantics godel. domain D size {n}.
        predicate A(D). predicate B(D).
        Some(x) :- A(x), B(y).""")
    rng = np.random.default_rng(0)
    kb.add_facts("A", np.arange(0, n, 2)[:, None], rng.uniform(0.1, 0.9, n // 2))
    kb.add_facts("B", np.arange(1, n, 2)[:, None], rng.uniform(0.1, 0.6, n // 2))
    kb.infer()
    rows_a, a = kb.relation("A")
    _, b = kb.relation("B")
    rows, truth = kb.relation("Some")
    expected = dict(zip(rows_a[:, 0].tolist(), np.minimum(a, b.max()).tolist()))
    got = dict(zip(rows[:, 0].tolist(), truth.tolist()))
    assert got.keys() == expected.keys()  # Some(x) = min(A(x), max_y B(y))
    np.testing.assert_allclose([got[k] for k in expected], list(expected.values()), rtol=1e-6)


def test_a_relation_over_a_huge_key_space_uses_a_hash_index():
    n = 3000  # 3000^3 = 2.7e10 possible atoms of Tri: more than the direct index holds
    kb = loads(f"""domain D size {n}. predicate E(D, D).
        Tri(x, y, z) :- E(x, y), E(y, z), E(z, x).""")
    edges = {(0, 1), (1, 2), (2, 0), (5, 6), (6, 5), (2999, 7), (7, 8), (8, 2999)}
    kb.add_facts("E", np.array(sorted(edges)))
    kb.infer()
    assert kb._inferred["Tri"].bits > 0  # hashed
    rows, _ = kb.relation("Tri")
    expected = {(a, b, c) for a, b in edges for c in range(n)
                if (b, c) in edges and (c, a) in edges}
    assert set(map(tuple, rows.tolist())) == expected and len(expected) == 6


def test_relation_keys_and_index():
    rel = Relation((4, 5))
    keys = rel.encode([np.array([3, 0, 3]), np.array([4, 2, 4])])
    assert rel.merge(keys, np.array([0.5, 1.0, 0.7])) == 2  # the duplicate rises 0.5 -> 0.7
    assert rel.rows().tolist() == [[3, 4], [0, 2]]
    assert rel.truth_of(rel.encode([np.array([3, 1]), np.array([4, 1])])).tolist() == [0.7, 0]
    assert rel.merge(keys[:1], np.array([0.6])) == 0  # not higher: no change
    left, right = rel.matches((0,), np.array([3, 2, 0]))
    assert sorted(zip(left.tolist(), right.tolist())) == [(0, 0), (2, 1)]
    with pytest.raises(ValueError, match="2\\^62"):
        Relation((1 << 32, 1 << 32))


# --- gradients and learnable confidences --------------------------------------------------------
CYCLIC = """domain V = {a, b, c}. predicate Edge(V, V).
Path(x, y) :- Edge(x, y).
0.9 :: Path(x, z) :- Edge(x, y), Path(y, z).
"""


@pytest.mark.parametrize("budget", [None, 5])
@pytest.mark.parametrize("semantics", ["product", "godel", "lukasiewicz"])
def test_sparse_gradcheck_through_a_cyclic_fixpoint(semantics, budget):
    # budget 5: Path's 9 possible atoms are over it, so Path(x, c) is read as a slice of 3
    kb = loads(CYCLIC, semantics=semantics, dtype="float64", max_groundings=budget or 1 << 30)
    rng = np.random.default_rng(0)
    edge = nesy.tensor(rng.uniform(0.1, 0.5, (3, 3)), dtype=nesy.float64, requires_grad=True)

    def path(e):
        kb.set_truths("Edge", e)
        assert kb.infer(engine="sparse", tol=1e-15).converged
        return kb.truth("Path(x, c)")

    assert nesy.gradcheck(path, edge)
    if budget is not None:
        with pytest.raises(nesy.logic.RuleError, match="budget"):
            kb.truth("Path(x, y)")


FLU = """semantics product.
domain Patient size 120.
predicate Fever(Patient). predicate Cough(Patient).
{a} :: Flu(p) :- Fever(p), Cough(p).
{b} :: Flu(p) :- Fever(p).
"""


@pytest.mark.parametrize("engine", ["dense", "sparse"])
def test_learnable_confidences_are_recovered_from_observed_conclusions(engine):
    rng = np.random.default_rng(0)
    fever, cough = rng.random(120), rng.random(120)
    observed = 1 - (1 - 0.8 * fever * cough) * (1 - 0.3 * fever)  # the rules with 0.8, 0.3
    kb = loads(FLU.format(a="t(0.5)", b="t(_)"), dtype="float64")
    kb.set_truths("Fever", fever)
    kb.set_truths("Cough", cough)
    assert kb.confidences() == {"Flu#1": pytest.approx(0.5), "Flu#2": pytest.approx(0.5)}
    opt = nesy.optim.Adam(kb.parameters(), lr=0.1)
    for _ in range(150):
        opt.zero_grad()
        kb.infer(engine=engine)
        loss = ((kb.truth("Flu(p)") - nesy.tensor(observed)) ** 2).mean()
        loss.backward()
        opt.step()
    assert kb.confidences() == {"Flu#1": pytest.approx(0.8, abs=1e-3),
                                "Flu#2": pytest.approx(0.3, abs=1e-3)}


def test_learnable_confidence_gradient_matches_finite_differences():
    kb = loads(FLU.format(a="t(0.4)", b="0.3"), dtype="float64")
    rng = np.random.default_rng(1)
    kb.set_truths("Fever", rng.random(120))
    kb.set_truths("Cough", rng.random(120))
    w = kb.learned_confidences.Flu_1

    def flu_sum():
        kb.infer(engine="sparse")
        return kb.truth("Flu(p)").sum()

    flu_sum().backward()
    h = 1e-6
    base = w.detach().numpy().copy()
    values = []
    for sign in (1, -1):
        with nesy.no_grad():
            w.copy_(nesy.tensor(base + sign * h))
            kb._invalidate()
            values.append(float(flu_sum().item()))
    assert float(w.grad.item()) == pytest.approx((values[0] - values[1]) / (2 * h), rel=1e-6)


def test_learnable_confidence_syntax_state_and_errors():
    kb = loads("Fever(ann). t(0.25) :: Flu(p) :- Fever(p). Cold(p) :- Fever(p).")
    rule = kb.program.statements[1]
    assert rule.learnable and rule.confidence == 0.25
    assert str(rule) == "t(0.25) :: Flu(p) :- Fever(p)."
    assert list(kb.state_dict()) == ["learned_confidences.Flu_1"]
    assert kb.confidences() == {"Flu#1": pytest.approx(0.25), "Cold#1": 1.0}
    assert kb.atoms("Flu", min_truth=0.1) == {("ann",): pytest.approx(0.25)}
    with pytest.raises(nesy.logic.RuleError, match="learnable"):
        loads("t(0.5) :: Fever(ann).")
    with pytest.raises(nesy.logic.RuleError, match="outside"):
        loads("Fever(ann). t(1.5) :: Flu(p) :- Fever(p).")
    # t(...) not followed by '::' is an atom of a predicate called t
    assert loads("t(a). s(x) :- t(x).").atoms("s", min_truth=1) == {("a",): 1.0}


def test_training_refreshes_the_fixpoint_through_satisfaction():
    kb = loads("""domain P = {a, b}. predicate Fever(P).
        Fever(a). 0.5 :: Fever(b).
        t(0.2) :: Flu(p) :- Fever(p).
        rule flu_a: Flu(a).""")
    opt = nesy.optim.Adam(kb.parameters(), lr=0.2)
    for _ in range(60):
        opt.zero_grad()
        kb.loss().backward()  # no explicit infer: satisfaction() runs it
        opt.step()
    assert kb.confidences()["Flu#1"] > 0.9
    assert kb.atoms("Flu")[("a",)] == pytest.approx(kb.confidences()["Flu#1"], rel=1e-5)


# --- certainty factors through kb.infer ------------------------------------------------------
MYCIN = """semantics certainty.
0.9 :: Fever(ann). Cough(ann). 0.5 :: Fatigue(ann). not Vaccinated(ann).
0.7 :: Infection(p) :- Fever(p), Cough(p).
0.4 :: Infection(p) :- Fatigue(p).
0.8 :: Measles(p) :- Fever(p), not Vaccinated(p).
"""


def test_certainty_semantics_runs_emycin_in_infer_and_explain():
    kb = loads(MYCIN)
    assert kb.infer().engine == "certainty"
    assert kb.atoms("Infection")[("ann",)] == pytest.approx(0.63 + 0.2 - 0.63 * 0.2)
    assert kb.truth("Measles(ann)").item() == pytest.approx(0.8 * 0.9)  # not V = -(-1)
    tree = kb.explain("Measles(ann)")
    (derivation,) = tree.derivations
    assert derivation.contribution == pytest.approx(0.72)
    assert [(lit.text, lit.truth) for lit in derivation.body] == [
        ("Fever(ann)", pytest.approx(0.9)), ("not Vaccinated(ann)", 1.0)]
    contributions = [d.contribution for d in kb.explain("Infection(ann)").derivations]
    assert contributions == [pytest.approx(0.63), pytest.approx(0.2)]


def test_certainty_threshold_option():
    text = MYCIN.replace("semantics certainty.", "semantics certainty(threshold = 0.6).")
    kb = loads(text)
    assert kb.semantics.threshold == 0.6
    assert kb.atoms("Infection")[("ann",)] == pytest.approx(0.63)  # Fatigue 0.5 does not fire
    with pytest.raises(nesy.logic.RuleError, match="threshold"):
        loads("semantics certainty(threshold = 1.5).")


# --- facts, counts and individuals ----------------------------------------------------------
def test_add_facts_by_index_or_name_and_read_them_back():
    kb = loads("domain P = {ann, bob, cid}. predicate Knows(P, P). Knows(ann, bob).")
    kb.add_facts("Knows", [("bob", "cid"), ("cid", "ann")], degrees=[0.5, 1.0])
    kb.add_facts("Knows", np.array([[2, 2]]))
    assert kb.facts("Knows") == {("ann", "bob"): 1.0, ("bob", "cid"): 0.5,
                                 ("cid", "ann"): 1.0, ("cid", "cid"): 1.0}
    assert kb.count("Knows") == 4 and kb.count("Knows", min_truth=0.8) == 3
    assert kb.individuals("P") == ["ann", "bob", "cid"]
    with pytest.raises(ValueError, match="unknown individual 'dan'"):
        kb.add_facts("Knows", [("ann", "dan")])
    with pytest.raises(ValueError, match="outside 0..2"):
        kb.add_facts("Knows", np.array([[0, 3]]))
    with pytest.raises(ValueError, match="degrees must lie in"):
        kb.add_facts("Knows", np.array([[0, 1]]), degrees=[1.5])
    with pytest.raises(ValueError, match="2 arguments"):
        kb.add_facts("Knows", np.array([[0, 1, 2]]))


def test_facts_of_a_learned_predicate_are_its_supervision():
    kb = loads("""domain P = {a, b}. features P = embedding(2).
        predicate Smokes(P) = mlp. Smokes(a). not Smokes(b).""")
    assert kb.facts("Smokes") == {("a",): 1.0, ("b",): 0.0}


# --- the ground program's differentiable pieces ----------------------------------------------
@pytest.mark.parametrize("kind", ["max", "probsum", "sum"])
def test_segment_or_values_and_gradcheck(kind):
    from nesy.logic.ground_program import segment_or

    heads = np.array([2, 0, 2, 2, 0, 3])  # head 1 has no instance: 0
    x = nesy.tensor([0.3, 0.9, 0.6, 0.2, 0.4, 0.7], dtype=nesy.float64, requires_grad=True)
    out = segment_or(kind, x, heads, 4).detach().numpy()
    groups = [[0.9, 0.4], [], [0.3, 0.6, 0.2], [0.7]]
    expected = {"max": [max(g, default=0) for g in groups],
                "probsum": [1 - np.prod([1 - v for v in g]) for g in groups],
                "sum": [sum(g) for g in groups]}[kind]
    np.testing.assert_allclose(out, expected, atol=1e-12)
    assert nesy.gradcheck(lambda t: segment_or(kind, t, heads, 4), x)


def test_probsum_gradient_where_an_instance_is_certain():
    from nesy.logic.ground_program import segment_or

    heads = np.array([0, 0, 0, 1, 1])
    x = nesy.tensor([1.0, 0.5, 0.2, 1.0, 1.0], dtype=nesy.float64, requires_grad=True)
    segment_or("probsum", x, heads, 2).sum().backward()
    # d/dx_i [1 - prod (1 - x_j)] = prod_{j != i} (1 - x_j): only the certain one moves it
    np.testing.assert_allclose(x.grad.numpy(), [0.5 * 0.8, 0, 0, 0, 0], atol=1e-12)


def test_scatter_into_a_dense_table_gradcheck():
    from nesy.logic.ground_program import Scatter

    keys = np.array([5, 0, 3])
    x = nesy.tensor([0.2, 0.7, 0.4], dtype=nesy.float64, requires_grad=True)
    table = Scatter.apply(x, keys, (2, 3)).detach().numpy()
    np.testing.assert_array_equal(table, [[0.7, 0, 0], [0.4, 0, 0.2]])
    assert nesy.gradcheck(lambda t: Scatter.apply(t, keys, (2, 3)), x)


def test_atoms_with_constants_read_slices_of_a_sparse_result_not_its_dense_table():
    n = 400  # Path has n^2 = 160,000 possible atoms, above this budget for a dense table
    text = TC.format(n=n)
    edges = np.stack([np.arange(n - 1), np.arange(1, n)], axis=1)
    small, big = loads(text, max_groundings=50_000), loads(text)
    for kb in (small, big):
        kb.add_facts("Edge", edges)
        kb.infer(engine="sparse")
    with pytest.raises(nesy.logic.RuleError, match="budget"):
        small.truth("Path(x, y)")  # every atom: the dense table is needed
    assert small.truth("Path(3, 9)").item() == 1.0
    assert small.truth("Path(9, 3)").item() == 0.0
    assert small.truth("Path(x, 7)").numpy().tolist() == [1.0] * 7 + [0.0] * (n - 7)
    assert str(small.explain("Path(3, 9)", k=2)) == str(big.explain("Path(3, 9)", k=2))
    assert small.explain("Path(3, 9)").truth == 1.0


def test_facts_over_large_domains_are_read_by_slices_too():
    n = 3000  # Edge has 9e6 possible atoms: its facts stay rows (above SPARSE_FACTS_ABOVE)
    kb = loads("semantics godel.\n" + TC.format(n=n))
    kb.add_facts("Edge", np.stack([np.arange(n - 1), np.arange(1, n)], axis=1),
                 np.linspace(0.1, 1.0, n - 1))
    kb.infer(engine="sparse")
    row = kb.truth("Edge(5, y)").numpy()
    assert row.shape == (n,) and np.flatnonzero(row).tolist() == [6]
    assert row[6] == pytest.approx(np.linspace(0.1, 1.0, n - 1)[5])
    tree = kb.explain("Path(5, 8)")
    assert tree.truth == pytest.approx(np.linspace(0.1, 1.0, n - 1)[5:8].min())
    kb.add_facts("Edge", np.array([[5, 7]]))  # a new fact is seen by the next read
    assert kb.truth("Edge(5, 7)").item() == 1.0
    assert "Edge" not in kb._tables  # no 9e6-value dense table was built for any of this

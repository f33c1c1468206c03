"""Goedel fixpoints by descending thresholds (``nesy/logic/thresholds.py``) against the
sparse engine's delta levels, a naive grounding, and a max-min closure written here; and the
key-range scans the growing relations are probed with."""

import itertools
from dataclasses import replace

import numpy as np
import pytest

from nesy.logic import loads, thresholds
from nesy.logic.relations import Relation

from .test_chaining_reference import (
    FUZZY_SEEDS,
    derived_truths,
    generate,
    godel_fixpoint,
    nesy_text,
)

TC = """semantics godel.
domain Node size {n}. predicate Edge(Node, Node).
Path(x, y) :- Edge(x, y).
Path(x, z) :- Edge(x, y), Path(y, z).
"""


@pytest.fixture
def runs(monkeypatch):
    """How many strata the threshold closure ran (it falls back when it does not apply)."""
    count = []
    run = thresholds.ThresholdClosure.run

    def counted(self):
        count.append(self.group)
        return run(self)

    monkeypatch.setattr(thresholds.ThresholdClosure, "run", counted)
    return count


def sparse(text):
    kb = loads(text, dtype="float64")
    report = kb.infer(engine="sparse")
    assert report.converged, text
    return kb


def widest_paths(n, edges):
    """Max-min closure by Floyd-Warshall: the best bottleneck over every path of >= 1 edge."""
    w = np.zeros((n, n))
    for (a, b), d in edges.items():
        w[a, b] = max(w[a, b], d)
    for k in range(n):
        w = np.maximum(w, np.minimum(w[:, k:k + 1], w[k:k + 1, :]))
    return w


def graph_kb(n, edges):
    kb = loads(TC.format(n=n), dtype="float64")
    rows = np.array(list(edges), dtype=np.int64).reshape(-1, 2)
    kb.add_facts("Edge", rows, np.array(list(edges.values())))
    return kb


def path_table(kb, n):
    rows, truths = kb.relation("Path")
    table = np.zeros((n, n))
    table[rows[:, 0], rows[:, 1]] = truths
    return table


@pytest.mark.parametrize("seed", range(6))
def test_fuzzy_transitive_closure_equals_widest_paths(seed, runs):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 40))
    m = int(rng.integers(n, 3 * n))
    pairs = {(int(a), int(b)) for a, b in rng.integers(0, n, (m, 2))}
    edges = {p: float(rng.choice([0.2, 0.35, 0.5, 0.8, 1.0])) for p in pairs}
    kb = graph_kb(n, edges)
    kb.infer(engine="sparse")
    assert runs, "the threshold closure did not run"
    np.testing.assert_array_equal(path_table(kb, n), widest_paths(n, edges))


def test_more_distinct_truths_than_levels_fall_back_to_delta_levels(runs, monkeypatch):
    rng = np.random.default_rng(7)
    n = 30
    pairs = {(int(a), int(b)) for a, b in rng.integers(0, n, (80, 2))}
    edges = {p: float(rng.random()) for p in pairs}  # ~80 distinct truths
    monkeypatch.setattr(thresholds, "MAX_LEVELS", 10)
    kb = graph_kb(n, edges)
    kb.infer(engine="sparse")
    assert not runs
    np.testing.assert_array_equal(path_table(kb, n), widest_paths(n, edges))


def positive(prog):
    """The program without its negated literals (thresholds apply to every stratum)."""
    return replace(prog, rules=[replace(r, body=tuple(x for x in r.body if not x.negated))
                                for r in prog.rules])


@pytest.mark.parametrize("seed", FUZZY_SEEDS)
def test_random_goedel_programs_match_a_naive_grounding(seed, runs):
    """Recursion, mutual recursion, rule confidences, constants, comparisons; with and
    without negation (a stratum that negates a fuzzy relation falls back)."""
    for prog in (generate(1000 + seed, fuzzy=True, n_constants=(4, 6), n_vars=3),
                 positive(generate(1000 + seed, fuzzy=True, n_constants=(4, 6), n_vars=3))):
        text = nesy_text(prog, "godel")
        kb, expected = sparse(text), godel_fixpoint(prog)
        for p in prog.idb:  # (dropping literals may drop constants from the domain)
            got = derived_truths(kb, p, prog.arity[p])
            for args, t in got.items():
                assert t == pytest.approx(expected.get((p, args), 0.0), abs=1e-12), text
            assert {a for (q, a), t in expected.items() if q == p and t > 0} <= set(got), text


def test_the_random_programs_take_the_threshold_closure(runs):
    for seed in FUZZY_SEEDS:
        sparse(nesy_text(positive(generate(1000 + seed, fuzzy=True, n_constants=(4, 6),
                                           n_vars=3)), "godel"))
    assert len(runs) == len(FUZZY_SEEDS)  # one stratum each, without negation
    runs.clear()
    for seed in FUZZY_SEEDS:  # with negation, of fuzzy relations too: several strata each
        sparse(nesy_text(generate(1000 + seed, fuzzy=True, n_constants=(4, 6), n_vars=3),
                         "godel"))
    assert len(runs) >= 2 * len(FUZZY_SEEDS), len(runs)


def test_a_negated_fuzzy_relation_is_an_input_of_truth_one_minus_it(runs):
    text = """semantics godel. domain N size 3. predicate E(N). predicate B(N).
        0.9 :: E(0). 0.7 :: E(1). 0.4 :: E(2).
        0.3 :: B(0). 0.8 :: B(1).
        P(x) :- E(x), not B(x).
        Q(x) :- B(x), not E(x).
        R(x) :- not P(x), E(x).
    """
    kb = sparse(text)
    assert runs
    # P = min(E, 1 - B); Q = min(B, 1 - E), B read positively and E negated in one stratum;
    # R a stratum up, negating the derived P; P(1) = 0.2 comes only from not B(1) passing
    expected = {"P": [0.7, 0.2, 0.4], "Q": [0.1, 0.3, 0.0], "R": [0.3, 0.7, 0.4]}
    dense = loads(text, dtype="float64")
    dense.infer(engine="dense")
    for p, values in expected.items():
        got = [kb.truth(f"{p}({i})").item() for i in range(3)]
        assert got == pytest.approx(values, abs=1e-12), p
        assert got == pytest.approx([dense.truth(f"{p}({i})").item() for i in range(3)])


def test_thresholds_and_delta_levels_agree_on_a_larger_graph(monkeypatch):
    rng = np.random.default_rng(3)
    n = 300
    pairs = {(int(a), int(b)) for a, b in rng.integers(0, n, (900, 2)) if a != b}
    edges = {p: float(rng.integers(1, 101)) / 100 for p in pairs}
    tables = []
    for levels in (thresholds.MAX_LEVELS, 0):
        monkeypatch.setattr(thresholds, "MAX_LEVELS", levels)
        kb = graph_kb(n, edges)
        kb.infer(engine="sparse")
        tables.append(path_table(kb, n))
    np.testing.assert_array_equal(tables[0], tables[1])
    assert (tables[0] > 0).sum() > n * n // 2


def test_a_round_limit_takes_the_delta_levels(runs):
    # the closure's rounds run per threshold: with max_iters the engine cuts by rounds as the
    # other engines do, and the facts of a derived predicate are never lost
    text = "semantics godel. domain N size 5. predicate P(N). predicate Q(N).\n" \
        "0.9 :: P(0). 0.6 :: P(1). 0.8 :: Q(2). 0.5 :: Q(3). 0.3 :: Q(4).\nQ(x) :- P(x).\n"
    kb = loads(text, dtype="float64")
    assert kb.infer(engine="sparse", max_iters=2).converged
    assert not runs
    assert kb.atoms("Q") == pytest.approx({("0",): 0.9, ("1",): 0.6, ("2",): 0.8, ("3",): 0.5,
                                           ("4",): 0.3})
    chain = graph_kb(6, {(i, i + 1): 0.5 for i in range(5)})
    report = chain.infer(engine="sparse", max_iters=2)
    assert not report.converged and report.changes[0] > 0
    assert 0 < chain.count("Path") < 15
    full = graph_kb(6, {(i, i + 1): 0.5 for i in range(5)})
    assert full.infer(engine="sparse").converged and runs
    assert full.count("Path") == 15


def test_a_rule_confidence_is_a_threshold(runs):
    text = TC.format(n=4).replace("Path(x, z) :-", "0.6 :: Path(x, z) :-") + (
        "0.9 :: Edge(0, 1). 0.8 :: Edge(1, 2). Edge(2, 3).\n")
    kb = sparse(text)
    assert runs
    expected = {(0, 1): 0.9, (1, 2): 0.8, (2, 3): 1.0, (0, 2): 0.6, (1, 3): 0.6,
                (0, 3): 0.6}
    table = path_table(kb, 4)
    for (a, b), t in expected.items():
        assert table[a, b] == pytest.approx(t), (a, b)
    assert (table > 0).sum() == len(expected)


# --- key-range scans ------------------------------------------------------------------------
@pytest.mark.parametrize("sizes", [(7, 9), (5, 4, 6)])
def test_scanning_key_ranges_finds_what_the_probe_index_finds(sizes):
    rng = np.random.default_rng(len(sizes))
    rel = Relation(sizes)
    space = int(np.prod(sizes))
    keys = rng.choice(space, space // 2, replace=False)
    rel.merge(keys.astype(np.int64), rng.random(len(keys)) + 0.01)
    for j in range(1, len(sizes) + 1):
        positions = tuple(range(j))
        probe = rng.integers(0, int(np.prod(sizes[:j])), 5)
        width = rel._scan_width(positions, len(probe))
        assert width == int(np.prod(sizes[j:]))
        scanned = sorted(zip(*(a.tolist() for a in rel._scan_matches(probe, width))))
        rel._probes[positions] = None  # force the index
        kind, a, b = rel.probe_index(positions)
        wanted = []
        sub = rel.sub_key([rel.decode(rel.current_keys, p) for p in positions], positions)
        for i, s in enumerate(probe):
            wanted += [(i, r) for r in np.flatnonzero(sub == s).tolist()]
        assert scanned == sorted(wanted)
        assert rel.matches(positions, probe)[0].size == len(wanted)


def test_a_sparse_relation_is_not_scanned():
    rel = Relation((1000, 1000))
    rel.merge(np.arange(10, dtype=np.int64) * 1001, np.ones(10))
    assert rel._scan_width((0,), 5) == 0  # 5 probes x 1000 keys > 4 x 10 atoms
    assert rel._scan_width((1,), 1) == 0  # not a leading position
    assert list(itertools.chain(*rel.matches((0,), np.array([3])))) == [0, 3]


def test_serial_and_parallel_twins_of_a_kernel_agree_with_plain_python():
    from nesy.logic import relation_kernels as K

    rng = np.random.default_rng(5)
    n = 700
    keys = rng.choice(1200, n, replace=False).astype(np.int32)
    rows = rng.integers(0, n, 50_000)  # above SERIAL_BELOW: the parallel twin runs by size
    slots = np.full(1200, -1, np.int64)
    slots[keys] = np.arange(n)
    probe = rng.integers(0, 40, 9)
    for twin, args, outs in [
        (K.decode, (keys, rows, 30, 30), [np.empty(len(rows), np.int64)]),
        (K.scan_counts, (probe, slots, 30), [np.empty(len(probe), np.int64)]),
    ]:
        results = []
        for kernel in (twin.parallel, twin.serial, twin.parallel.py_func):
            out = [o.copy() for o in outs]
            kernel(*args, *out)
            results.append(out[0])
        np.testing.assert_array_equal(results[0], results[1])
        np.testing.assert_array_equal(results[0], results[2])
    out = np.empty(len(rows), np.int64)
    K.decode(keys, rows, 30, 30, out)
    np.testing.assert_array_equal(out, (keys[rows] // 30) % 30)

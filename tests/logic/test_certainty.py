"""Tests for certainty factors (nesy.logic.certainty): EMYCIN's combination on textbook values
and its algebra, and forward chaining over CFs on small MYCIN-style programs computed by hand."""

import functools

import numpy as np
import pytest

from nesy.logic import loads
from nesy.logic.certainty import combine, combine_all, infer_cf

DIAGNOSIS = """
domain Patient = {ann, bob, cid}.
predicate Fever(Patient). predicate Cough(Patient). predicate Fatigue(Patient).
predicate Viral(Patient).
0.9 :: Fever(ann).   Cough(ann).          0.5 :: Fatigue(ann).   not Viral(ann).
0.6 :: Fever(bob).   0.15 :: Cough(bob).  0.8 :: Fatigue(bob).   0.5 :: Viral(bob).
0.3 :: Fever(cid).   0.25 :: Cough(cid).  not Fatigue(cid).
0.7 :: Infection(p) :- Fever(p), Cough(p).
0.4 :: Infection(p) :- Fatigue(p).
0.8 :: Bacterial(p) :- Infection(p), not Viral(p).
"""


# --- EMYCIN's combination -----------------------------------------------------------------
@pytest.mark.parametrize(
    "a, b, expected",
    [
        (0.6, 0.4, 0.76),
        (-0.6, -0.4, -0.76),
        (0.6, -0.4, 0.2 / 0.6),
        (-0.6, 0.4, -0.2 / 0.6),
        (0.5, 0.0, 0.5),
        (-0.5, 0.0, -0.5),
        (1.0, -0.5, 1.0),
        (-1.0, 0.9, -1.0),
        (1.0, -1.0, 0.0),  # conflicting certainties: defined as 0
        (1.0, 1.0, 1.0),
        (-1.0, -1.0, -1.0),
    ],
)
def test_combine_textbook_values(a, b, expected):
    assert float(combine(a, b)) == pytest.approx(expected)


def test_combine_commutative_associative_in_range():
    rng = np.random.default_rng(0)
    a, b, c = rng.uniform(-0.999, 0.999, size=(3, 10_000))
    np.testing.assert_allclose(combine(a, b), combine(b, a), atol=1e-12)
    np.testing.assert_allclose(combine(combine(a, b), c), combine(a, combine(b, c)), atol=1e-9)
    edges = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
    for out in (combine(a, b), combine(*np.meshgrid(edges, edges))):
        assert out.min() >= -1.0 and out.max() <= 1.0


def test_combine_identity_and_monotone():
    rng = np.random.default_rng(1)
    a, b = rng.uniform(-1, 1, size=(2, 1000))
    np.testing.assert_allclose(combine(a, 0.0), a)
    assert (combine(a, b + 0.001 * (1 - b)) >= combine(a, b) - 1e-12).all()


def test_combine_all_equals_any_sequential_fold():
    """The closed-form fold is the pairwise fold in every order: grounding order is moot."""
    rng = np.random.default_rng(2)
    for _ in range(50):
        xs = rng.uniform(-0.99, 0.99, size=rng.integers(1, 8))
        folded = float(combine_all(xs, (0,)))
        for _ in range(5):
            order = rng.permutation(xs)
            assert functools.reduce(combine, order) == pytest.approx(folded, abs=1e-9)
        assert -1.0 <= folded <= 1.0


def test_combine_all_over_axes():
    xs = np.array([[0.6, 0.4, 0.0], [-0.6, -0.4, 0.0]])
    np.testing.assert_allclose(combine_all(xs, (1,)), [0.76, -0.76])
    np.testing.assert_allclose(combine_all(xs, ()), xs)


# --- forward chaining over CFs ------------------------------------------------------------
def test_diagnosis_by_hand():
    cf, report = infer_cf(loads(DIAGNOSIS))
    ann = combine(0.7 * 0.9, 0.4 * 0.5)  # 0.63 + 0.2 - 0.126 = 0.704
    bob = 0.4 * 0.8  # min(0.6, 0.15) is below the threshold: only the fatigue rule fires
    cid = 0.7 * 0.25  # min(0.3, 0.25) > 0.2 fires; Fatigue(cid) = -1 does not
    np.testing.assert_allclose(cf["Infection"], [0.704, bob, cid])
    assert float(ann) == pytest.approx(0.704)
    assert report.converged and report.strata == [["Infection"], ["Bacterial"]]


def test_threshold_is_a_parameter():
    kb = loads(DIAGNOSIS)
    low, _ = infer_cf(kb, threshold=0.1)  # now Cough(bob) = 0.15 lets the first rule fire
    assert low["Infection"][1] == pytest.approx(combine(0.7 * 0.15, 0.32))
    high, _ = infer_cf(kb, threshold=0.5)  # Fatigue(ann) = 0.5 no longer fires
    np.testing.assert_allclose(high["Infection"], [0.63, 0.32, 0.0])
    with pytest.raises(ValueError, match="threshold"):
        infer_cf(kb, threshold=1.0)


def test_negated_premise():
    cf, _ = infer_cf(loads(DIAGNOSIS))
    # ann: not Viral = -(-1) = 1, min(0.704, 1) = 0.704; bob: -0.5 blocks; cid: -0 = 0 blocks
    np.testing.assert_allclose(cf["Bacterial"], [0.8 * 0.704, 0.0, 0.0])


def test_chain_of_two_rules():
    kb = loads("0.5 :: A(a). A(b). 0.9 :: B(x) :- A(x). 0.8 :: C(x) :- B(x).")
    cf, report = infer_cf(kb)
    np.testing.assert_allclose(cf["B"], [0.45, 0.9])
    np.testing.assert_allclose(cf["C"], [0.36, 0.72])
    assert report.strata == [["B", "C"]] and report.converged  # one stratum, Gauss-Seidel


def test_groundings_of_a_body_variable_combine():
    kb = loads(
        "domain P = {ann, bob, cid}. predicate Contact(P, P). predicate Sick(P)."
        "Contact(ann, bob). Contact(ann, cid). 0.6 :: Sick(bob). 0.8 :: Sick(cid)."
        "0.5 :: Risk(p) :- Contact(p, q), Sick(q)."
    )
    cf, _ = infer_cf(kb)
    np.testing.assert_allclose(cf["Risk"], [combine(0.3, 0.4), 0.0, 0.0])  # 0.58


def test_recursion_reaches_fixpoint():
    kb = loads(
        "0.5 :: Edge(a, b). 0.8 :: Edge(b, c). Path(x, y) :- Edge(x, y)."
        "0.9 :: Path(x, z) :- Edge(x, y), Path(y, z)."
    )
    cf, report = infer_cf(kb)
    # domain order a, b, c: Path(a, c) = 0.9 * min(0.5, 0.8)
    expected = np.zeros((3, 3))
    expected[0, 1], expected[1, 2], expected[0, 2] = 0.5, 0.8, 0.45
    np.testing.assert_allclose(cf["Path"], expected)
    assert report.converged and report.iterations[0] >= 2


def test_fact_on_a_derived_atom_combines_with_rules():
    kb = loads("not B(a). 0.5 :: B(b). A(a). A(b). 0.6 :: B(x) :- A(x).")
    cf, _ = infer_cf(kb)
    np.testing.assert_allclose(cf["B"], [-1.0, combine(0.5, 0.6)])  # certain denial wins

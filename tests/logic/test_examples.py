"""The example rule files in rules/: every one checks, and the digits task reaches its targets."""

import glob
import os

import pytest

import nesy
from nesy.examples import digits_addition, rules_dir

RULES = sorted(glob.glob(os.path.join(rules_dir(), "*.nesy")))


def test_rules_folder_has_the_examples():
    names = {os.path.basename(p) for p in RULES}
    assert {"smokers.nesy", "digits_addition.nesy"} <= names


@pytest.mark.parametrize("path", RULES, ids=os.path.basename)
def test_every_example_checks_and_loads(path):
    kb = nesy.logic.load(path)
    if os.path.basename(path) != "digits.nesy":  # declarations only, imported by others
        assert kb.rules, f"{path} defines no rule to satisfy"


def test_smokers_has_the_twelve_ltn_axioms_in_order():
    kb = nesy.logic.load(os.path.join(rules_dir(), "smokers.nesy"))
    assert list(kb.rules) == [
        "facts(Friends)", "facts(not Friends)", "facts(Smokes)", "facts(not Smokes)",
        "facts(Cancer)", "facts(not Cancer)", "anti_reflexive", "symmetric", "has_friend",
        "smoking_spreads", "smoking_causes_cancer", "no_smoking_no_cancer",
    ]
    assert len(kb.rules["facts(not Friends)"].facts) == 31


@pytest.mark.parametrize("digits, target", [(1, 0.90), (2, 0.80)])
def test_digits_addition_learns_digits_from_sums(digits, target):
    pytest.importorskip("sklearn")
    result = digits_addition.run(digits=digits)
    assert result["sum_accuracy"] >= target, result
    assert result["digit_accuracy"] >= 0.9, result


def test_every_example_file_ships_with_the_package():
    import fnmatch
    import tomllib

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(os.path.join(root, "pyproject.toml"), "rb") as f:
        patterns = tomllib.load(f)["tool"]["setuptools"]["package-data"]["nesy"]
    for name in os.listdir(os.path.join(root, "rules")):
        assert any(fnmatch.fnmatch(f"rules/{name}", p) for p in patterns), name


def test_family_tree_derivations():
    kb = nesy.logic.load(os.path.join(rules_dir(), "family.nesy"))
    report = kb.infer()
    assert report.converged and len(report.strata) == 3  # Cousin/Father, then Unrelated
    cousins = kb.atoms("Cousin", min_truth=0.5)
    assert cousins[("gus", "hal")] == 1.0 and cousins[("kim", "fay")] == pytest.approx(0.6)
    assert ("gus", "fay") not in cousins  # siblings, not cousins
    assert kb.atoms("Father", min_truth=1) == {
        (p, c): 1.0 for p, c in [("bob", "cid"), ("bob", "dan"), ("bob", "eve"),
                                 ("cid", "gus"), ("cid", "fay"), ("dan", "hal"),
                                 ("dan", "ivy"), ("gus", "lea")]}
    assert kb.truth("Ancestor(ann, lea)").item() == 1.0
    assert kb.truth("Ancestor(ann, kim)").item() == pytest.approx(0.6)  # the weakest link
    assert kb.rule_truths() == {"no_one_is_their_own_ancestor": 1.0}
    unrelated = kb.atoms("Unrelated", min_truth=0.5)
    assert ("lea", "hal") in unrelated and ("lea", "gus") not in unrelated


def test_diagnosis_with_certainty_factors_matches_mycin_by_hand():
    kb = nesy.logic.load(os.path.join(rules_dir(), "diagnosis.nesy"), semantics="certainty")
    kb.infer()
    flu = 0.5 * min(0.8, 1.0)  # t(0.5) rules start at 0.5
    assert kb.truth("Flu(ann)").item() == pytest.approx(flu)
    assert kb.truth("Flu(bob)").item() == pytest.approx(0.5 * 0.4)  # 0.4 > 0.2: it fires
    assert kb.truth("Measles(cal)").item() == pytest.approx(0.8 * 0.9)
    assert kb.truth("Measles(dee)").item() == 0.0  # vaccinated: not Vaccinated is -1
    assert kb.truth("Contagious(cal)").item() == pytest.approx(0.9 * 0.72)
    assert kb.truth("StayHome(ann)").item() == pytest.approx(0.9 * 0.8 * flu)
    assert kb.truth("StayHome(bob)").item() == 0.0  # 0.8 * 0.2 = 0.16 is below 0.2
    tb = 0.6 * 0.7
    assert kb.truth("SeeDoctor(eli)").item() == pytest.approx(0.9 * tb)
    fuzzy = nesy.logic.load(os.path.join(rules_dir(), "diagnosis.nesy"))
    assert sorted(dict(fuzzy.named_parameters())) == [
        "learned_confidences.Flu_1", "learned_confidences.Flu_2"]

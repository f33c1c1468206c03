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

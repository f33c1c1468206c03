"""``nesy explain``: the proof tree of a derived atom, as text or JSON, and clear errors."""

import json

import pytest

from . import nesy

GRAPH = """semantics godel.
0.8 :: Edge(a, b). 0.6 :: Edge(b, c). 0.3 :: Edge(a, c).
Path(x, y) :- Edge(x, y).
Path(x, z) :- Edge(x, y), Path(y, z).
"""


@pytest.fixture
def rules(tmp_path):
    (tmp_path / "graph.nesy").write_text(GRAPH)
    return tmp_path


def test_text_proof_tree(rules):
    result = nesy("explain", "graph.nesy", "Path(a, c)", cwd=rules)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Path(a, c) = 0.6"
    assert lines[1] == ("  [rule Path#2 at graph.nesy:4: Path(x, z) :- Edge(x, y), Path(y, z).  "
                        "x=a, z=c, y=b  contributes 0.6]")
    assert "    Edge(a, b) = 0.8  [fact, degree 0.8]" in lines
    assert ("      [rule Path#1 at graph.nesy:3: Path(x, y) :- Edge(x, y).  x=b, y=c  "
            "contributes 0.6]") in lines
    assert "contributes 0.3" in result.stdout


def test_k_and_depth(rules):
    result = nesy("explain", "graph.nesy", "Path(a, c)", "--k", "1", "--depth", "1", cwd=rules)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("[rule ") == 1
    assert "Path(b, c) = 0.6  [depth limit reached]" in result.stdout


def test_json(rules):
    result = nesy("explain", "graph.nesy", "Path(a, c)", "--format", "json", cwd=rules)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["atom"] == "Path(a, c)" and data["kind"] == "derived"
    contributions = [d["contribution"] for d in data["derivations"]]
    assert contributions == sorted(contributions, reverse=True)
    assert contributions[0] == pytest.approx(0.6)
    assert data["derivations"][0]["bindings"] == {"x": "a", "z": "c", "y": "b"}


def test_a_non_derived_atom_prints_a_leaf(rules):
    result = nesy("explain", "graph.nesy", "Edge(a, c)", cwd=rules)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Edge(a, c) = 0.3  [fact, degree 0.3]"


@pytest.mark.parametrize("atom, message", [
    ("Path(a,", "cannot read atom"),
    ("Pth(a, b)", "unknown predicate 'Pth'"),
    ("Path(a, b, c)", "Path takes 2 arguments, got 3"),
    ("Path(a, zz)", "unknown individual 'zz'"),
])
def test_errors_exit_1_without_traceback(rules, atom, message):
    result = nesy("explain", "graph.nesy", atom, cwd=rules)
    assert result.returncode == 1
    assert message in result.stderr and result.stdout == ""


def test_missing_files_and_usage(rules):
    assert nesy("explain", "nope.nesy", "Path(a, b)", cwd=rules).returncode == 1
    missing = nesy("explain", "graph.nesy", "Path(a, b)", "--checkpoint", "x.npz", cwd=rules)
    assert missing.returncode == 1 and "no such checkpoint" in missing.stderr
    assert nesy("explain", "graph.nesy", "Path(a, b)", "--k", "0", cwd=rules).returncode == 2
    helped = nesy("explain", "--help")
    assert helped.returncode == 0 and "examples:" in helped.stdout


def test_debug_shows_the_traceback(rules):
    result = nesy("--debug", "explain", "graph.nesy", "Pth(a, b)", cwd=rules, debug=True)
    assert result.returncode == 1 and "Traceback" in result.stderr


def test_why_and_dot(rules):
    result = nesy("explain", "graph.nesy", "Path(b, c)", "--why", cwd=rules)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "Path(b, c) supports:"
    assert "Path(a, c) = 0.6  <- rule Path#2" in result.stdout
    result = nesy("explain", "graph.nesy", "Edge(a, b)", "--why", "--format", "json", cwd=rules)
    assert {s["conclusion"] for s in json.loads(result.stdout)} == {"Path(a, b)", "Path(a, c)"}
    result = nesy("explain", "graph.nesy", "Path(a, c)", "--format", "dot", cwd=rules)
    assert result.stdout.startswith("digraph proof {") and '"Edge(a, b) = 0.8' in result.stdout


def test_semantics_override_to_certainty_factors(rules):
    (rules / "cf.nesy").write_text("0.9 :: Fever(ann). Cough(ann).\n"
                                   "0.7 :: Flu(p) :- Fever(p), Cough(p).\n")
    result = nesy("explain", "cf.nesy", "Flu(ann)", "--semantics", "certainty", cwd=rules)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "Flu(ann) = 0.63"

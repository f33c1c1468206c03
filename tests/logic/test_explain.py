"""Explanations of derived atoms: proof trees read from the inferred tables."""

import json

import pytest

import nesy
from nesy.logic.explain import Explanation, explain

FAMILY = """semantics godel.
Parent(ann, bob). Parent(bob, cal). Parent(cal, dan).
Ancestor(x, y) :- Parent(x, y).
Ancestor(x, z) :- Parent(x, y), Ancestor(y, z).
"""

# two alternative paths from a to d: via b (0.9 * 0.7 = 0.63) and via c (0.5 * 0.8 = 0.4)
FUZZY = """semantics product.
0.9 :: Edge(a, b). 0.7 :: Edge(b, d). 0.5 :: Edge(a, c). 0.8 :: Edge(c, d).
Path(x, y) :- Edge(x, y).
Path(x, z) :- Edge(x, y), Path(y, z).
"""

CYCLE = """semantics godel.
Edge(a, b). Edge(b, a).
Path(x, y) :- Edge(x, y).
Path(x, z) :- Edge(x, y), Path(y, z).
"""

BIRDS = """semantics godel.
Bird(tweety). Bird(polly). Penguin(polly).
Flies(x) :- Bird(x), not Penguin(x).
"""


def nodes(tree):
    """Every explanation node of the tree, with the atoms on its path."""
    out, stack = [], [(tree, ())]
    while stack:
        node, path = stack.pop()
        out.append((node, path))
        for d in node.derivations:
            for lit in d.body:
                if lit.explanation is not None:
                    stack.append((lit.explanation, path + (node.atom,)))
    return out


def test_family_chain_is_listed_under_godel():
    kb = nesy.logic.loads(FAMILY, filename="family.nesy")
    tree = explain(kb, "Ancestor(ann, dan)")
    assert (tree.truth, tree.kind, tree.fact_degree) == (1.0, "derived", None)
    chain, node = [], tree
    while node.derivations:
        (d,) = node.derivations  # crisp facts: one grounding contributes at each step
        chain.append((d.label, d.bindings, [lit.text for lit in d.body]))
        node = d.body[-1].explanation
    assert chain == [
        ("Ancestor#2", {"x": "ann", "z": "dan", "y": "bob"},
         ["Parent(ann, bob)", "Ancestor(bob, dan)"]),
        ("Ancestor#2", {"x": "bob", "z": "dan", "y": "cal"},
         ["Parent(bob, cal)", "Ancestor(cal, dan)"]),
        ("Ancestor#1", {"x": "cal", "y": "dan"}, ["Parent(cal, dan)"]),
    ]
    assert (node.atom, node.kind, node.fact_degree) == ("Parent(cal, dan)", "fact", 1.0)
    first = tree.derivations[0]
    assert first.location == "family.nesy:4"
    assert first.rule == "Ancestor(x, z) :- Parent(x, y), Ancestor(y, z)."
    assert first.contribution == 1.0


def test_explain_runs_infer_when_needed_and_renders_text():
    kb = nesy.logic.loads(FAMILY, filename="family.nesy")
    text = explain(kb, "Ancestor(ann, cal)").render()
    lines = text.splitlines()
    assert lines[0] == "Ancestor(ann, cal) = 1"
    assert lines[1].startswith("  [rule Ancestor#2 at family.nesy:4: Ancestor(x, z) :- ")
    assert "x=ann, z=cal, y=bob  contributes 1]" in lines[1]
    assert "    Parent(ann, bob) = 1  [fact, degree 1]" in lines


def test_top_k_ranks_groundings_by_contribution():
    kb = nesy.logic.loads(FUZZY, filename="fuzzy.nesy")
    kb.infer()
    tree = explain(kb, "Path(a, d)")
    assert tree.truth == pytest.approx(1 - (1 - 0.63) * (1 - 0.4), abs=1e-6)
    got = [(d.bindings["y"], d.contribution) for d in tree.derivations]
    assert [y for y, _ in got] == ["b", "c"]
    assert [c for _, c in got] == pytest.approx([0.63, 0.4], abs=1e-6)
    via_b = tree.derivations[0].body
    assert [(lit.text, round(lit.truth, 6)) for lit in via_b] == [
        ("Edge(a, b)", 0.9), ("Path(b, d)", 0.7)]
    (best,) = explain(kb, "Path(a, d)", k=1).derivations
    assert best.bindings["y"] == "b"


def test_depth_limits_expansion():
    kb = nesy.logic.loads(FAMILY)
    assert explain(kb, "Ancestor(ann, dan)", depth=0).status == "depth"
    tree = explain(kb, "Ancestor(ann, dan)", depth=1)
    child = tree.derivations[0].body[1].explanation
    assert (child.atom, child.status, child.derivations) == ("Ancestor(bob, dan)", "depth", [])


def test_cycles_are_never_expanded_again_on_a_path():
    kb = nesy.logic.loads(CYCLE)
    tree = explain(kb, "Path(a, a)", k=5)
    seen = nodes(tree)
    assert any(n.status == "cycle" for n, _ in seen)
    for node, path in seen:
        if node.derivations:
            assert node.atom not in path
        if node.status == "cycle":
            assert node.atom in path and not node.derivations


def test_negated_literal_is_a_leaf_with_the_atoms_truth():
    kb = nesy.logic.loads(BIRDS)
    tree = explain(kb, "Flies(tweety)")
    (d,) = tree.derivations
    bird, neg = d.body
    assert (bird.text, bird.kind, bird.explanation.kind) == ("Bird(tweety)", "atom", "fact")
    assert (neg.text, neg.kind) == ("not Penguin(tweety)", "not")
    assert (neg.truth, neg.atom_truth) == (1.0, 0.0)
    assert neg.explanation is None
    assert "not Penguin(tweety) = 1  [Penguin(tweety) = 0]" in tree.render()
    polly = explain(kb, "Flies(polly)")
    assert (polly.truth, polly.derivations) == (0.0, [])


def test_comparison_is_a_leaf():
    kb = nesy.logic.loads("Edge(a, b). Edge(b, a). Edge(b, c).\n"
                          "Link(x, y) :- Edge(x, y), Edge(y, z), x != z.")
    (d,) = explain(kb, "Link(a, b)").derivations
    assert d.bindings == {"x": "a", "y": "b", "z": "c"}
    assert (d.body[-1].text, d.body[-1].kind, d.body[-1].truth) == ("a != c", "compare", 1.0)


def test_fact_only_atom_is_a_leaf():
    kb = nesy.logic.loads(FUZZY)
    leaf = explain(kb, "Edge(a, c)")
    assert (leaf.kind, leaf.fact_degree, leaf.status, leaf.derivations) == ("fact", 0.5, "leaf", [])
    assert leaf.truth == pytest.approx(0.5)
    assert leaf.render() == "Edge(a, c) = 0.5  [fact, degree 0.5]"
    zero = explain(kb, "Edge(d, a)")
    assert (zero.kind, zero.truth, zero.fact_degree) == ("table", 0.0, None)


def test_a_derived_atom_that_is_also_a_fact():
    kb = nesy.logic.loads(FUZZY + "0.2 :: Path(d, a).\n")
    tree = explain(kb, "Path(d, a)")
    assert (tree.kind, tree.derivations) == ("derived", [])
    assert tree.fact_degree == pytest.approx(0.2) and tree.truth == pytest.approx(0.2)


def test_json_round_trip():
    kb = nesy.logic.loads(FUZZY + BIRDS.replace("semantics godel.\n", ""))
    for atom in ("Path(a, d)", "Flies(tweety)", "Edge(a, b)"):
        tree = explain(kb, atom)
        data = json.loads(json.dumps(tree.to_dict()))
        assert data == tree.to_dict()
        assert Explanation.from_dict(data) == tree


@pytest.mark.parametrize("atom, message", [
    ("Pth(a, b)", "unknown predicate 'Pth'"),
    ("Path(a)", "Path takes 2 arguments, got 1"),
    ("Path(a, zz)", "unknown individual 'zz'"),
    ("Path(a,", "cannot read atom"),
    ("Path(x, y) :- Edge(x, y)", "cannot read atom"),
    ("0.5 :: Path(a, b)", "cannot read atom"),
])
def test_bad_atoms_are_clear_errors(atom, message):
    kb = nesy.logic.loads(FUZZY)
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        explain(kb, atom)


# --- why, and the notebook and Graphviz renderings ---------------------------------------------
def test_why_lists_the_conclusions_an_atom_supports():
    kb = nesy.logic.loads(FUZZY)
    (edge,) = kb.why("Edge(b, d)")  # direct support only: Path(a, d) uses Path(b, d)
    assert (edge.conclusion, edge.label, edge.contribution) == (
        "Path(b, d)", "Path#1", pytest.approx(0.7))
    (path,) = kb.why("Path(b, d)")
    assert (path.conclusion, path.label) == ("Path(a, d)", "Path#2")
    assert path.contribution == pytest.approx(0.9 * 0.7)  # Edge(a, b) and Path(b, d)
    assert path.bindings == {"y": "b", "z": "d", "x": "a"}
    assert path.truth == pytest.approx(1 - (1 - 0.63) * (1 - 0.4))
    assert [s.conclusion for s in kb.why("Edge(a, b)")] == ["Path(a, b)", "Path(a, d)"]
    assert len(kb.why("Edge(a, b)", k=1)) == 1
    assert "Edge(b, d) supports:" in str(kb.why("Edge(b, d)"))
    assert str(kb.why("Path(a, d)")) == "Path(a, d) supports no conclusion"


def test_why_through_a_negated_literal():
    kb = nesy.logic.loads(BIRDS)
    (support,) = kb.why("Penguin(tweety)")  # absent: not Penguin(tweety) = 1 supports Flies
    assert support.negated and support.conclusion == "Flies(tweety)"
    assert kb.why("Penguin(polly)") == []  # present: not Penguin(polly) = 0 supports nothing


def test_html_and_dot_renderings_show_every_atom():
    kb = nesy.logic.loads(FAMILY)
    tree = kb.explain("Ancestor(ann, dan)")
    html = tree._repr_html_()
    for atom in ("Ancestor(ann, dan)", "Parent(ann, bob)", "Ancestor(cal, dan)",
                 "Parent(cal, dan)"):
        assert atom in html and atom in tree.to_dot()
    assert html.count("<ul>") == html.count("</ul>") and html.count("<li>") == html.count(
        "</li>")
    dot = tree.to_dot()
    assert dot.startswith("digraph proof {") and dot.endswith("}")
    assert dot.count("->") == 3 * 2 + 2  # three groundings, their literals, three levels
    assert "<table>" in kb.why("Parent(bob, cal)")._repr_html_()

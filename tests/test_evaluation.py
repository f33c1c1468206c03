"""The engine behind ``nesy eval``: cases, the template, per-case copies, results, resume."""

import json
import os
import pickle
import random
import shutil

import numpy as np
import pytest

import nesy
from nesy import evaluation as ev

RULES = """
domain Person = {ann, bob, cat}.
features Person = embedding(4).
predicate Smokes(Person) = mlp(hidden = [8]).
predicate Friends(Person, Person).
Friends(ann, bob).
Smokes(ann).
rule spread: forall x, y: Friends(x, y) and Smokes(x) -> Smokes(y).
rule some_friends: exists x, y: Friends(x, y).
query smokers: Smokes(x).
query everyone: forall x: Smokes(x).
"""

OPEN = """
domain Patient.
predicate Sick(Patient) = mlp(hidden = [4]).
predicate Knows(Patient, Patient).
function age(Patient) -> 1.
rule spread: forall x, y where Knows(x, y): Sick(x) -> Sick(y).
rule old: forall x where age(x) > 60: Sick(x).
query sick: Sick(x).
"""


@pytest.fixture
def rules(tmp_path):
    path = tmp_path / "people.nesy"
    path.write_text(RULES)
    return path


@pytest.fixture
def template(rules):
    return ev.Template.load(rules)


def source(data, where="cases.jsonl:1", default_id=1):
    text = data if isinstance(data, str) else json.dumps(data)
    return ev.CaseSource(text, "json", where, default_id)


def evaluate(template, *cases):
    return ev.evaluate_chunk(template, [(i, source(c, f"x:{i + 1}", i + 1))
                                        for i, c in enumerate(cases)])


def random_case(rng, i):
    facts = []
    for _ in range(rng.randint(0, 4)):
        a, b = rng.choice("abc"), rng.choice("abc")
        a, b = {"a": "ann", "b": "bob", "c": "cat"}[a], {"a": "ann", "b": "bob", "c": "cat"}[b]
        fact = rng.choice([f"Smokes({a}).", f"not Smokes({a}).", f"Friends({a}, {b}).",
                           f"0.5 :: Friends({b}, {a}).", f"0.25 :: Smokes({b})."])
        facts.append(fact)
    return {"id": f"c{i}", "facts": " ".join(facts)}


# --- reading cases -----------------------------------------------------------------------


def test_a_case_has_facts_features_truths_functions_and_an_id():
    case = ev.parse_case(source({"id": "c1", "facts": "Smokes(ann). 0.5 :: Friends(ann, bob). "
                                 "not Smokes(cat).", "features": {"P": [[1.0]]}}))
    assert case.id == "c1"
    assert [(p, n, d) for p, n, d, _ in case.facts] == [
        ("Smokes", ("ann",), 1.0), ("Friends", ("ann", "bob"), 0.5), ("Smokes", ("cat",), 0.0)]
    assert case.features == {"P": [[1.0]]} and case.truths == {} and case.functions == {}


def test_every_key_is_optional_and_the_id_defaults_to_the_line():
    case = ev.parse_case(source("{}", default_id=7))
    assert case.id == 7 and case.facts == []
    listed = ev.parse_case(source({"facts": ["Smokes(ann).", ""]}))
    assert [f[0] for f in listed.facts] == ["Smokes"]


def test_a_nesy_case_file_holds_facts():
    case = ev.parse_case(ev.CaseSource("# evidence\nSmokes(ann).\n", "nesy", "d/a.nesy", "a.nesy"))
    assert case.id == "a.nesy" and case.facts[0][:2] == ("Smokes", ("ann",))


@pytest.mark.parametrize("text, reason", [
    ("{not json", "bad JSON"),
    ("[1, 2]", "a case is a JSON object, got list"),
    ('{"fact": "Smokes(ann)."}', "unknown key 'fact'"),
    ('{"id": [1]}', "'id' must be a string or an integer"),
    ('{"facts": 3}', "'facts' must be a string or a list of strings"),
    ('{"facts": "Smokes(ann"}', "facts 1:11: syntax error"),
    ('{"facts": "rule r: forall x: Smokes(x)."}', "facts 1:1: a case holds only facts, got a "
                                                  "constraint rule"),
    ('{"facts": ["Smokes(ann).", "P(x) :- Q(x)."]}', "facts[1] 1:1: a case holds only facts"),
    ('{"features": [1]}', "'features' must be an object"),
])
def test_malformed_cases_say_why(text, reason):
    with pytest.raises(ValueError, match=None) as info:
        ev.parse_case(source(text))
    assert reason in str(info.value)


def test_jsonl_cases_skip_blank_lines_and_keep_line_numbers(tmp_path):
    path = tmp_path / "cases.jsonl"
    path.write_text('{"id": "a"}\n\n{"id": "b"}\r\n  \n{}\n')
    cases = list(ev.iter_cases(str(path)))
    assert [i for i, _ in cases] == [0, 1, 2]
    assert [s.where for _, s in cases] == [f"{path}:1", f"{path}:3", f"{path}:5"]
    assert [s.default_id for _, s in cases] == [1, 3, 5]
    assert ev.count_cases(str(path)) == 3


def test_a_case_folder_is_read_in_sorted_name_order(tmp_path):
    for name, text in [("b.json", "{}"), ("a.nesy", "Smokes(ann)."), ("c.json", "{}"),
                       ("notes.txt", "ignored"), (".hidden.json", "{}")]:
        (tmp_path / name).write_text(text)
    cases = list(ev.iter_cases(str(tmp_path)))
    assert [s.default_id for _, s in cases] == ["a.nesy", "b.json", "c.json"]
    assert [s.kind for _, s in cases] == ["nesy", "json", "json"]
    assert ev.count_cases(str(tmp_path)) == 3


# --- evaluating ----------------------------------------------------------------------------


def test_rows_come_in_chunk_order_with_rules_and_queries(template):
    results = evaluate(template, {"id": "x"}, {"facts": "Smokes(bob)."})
    assert [i for i, _ in results] == [0, 1]
    row = results[0][1]
    assert list(row) == ["id", "satisfaction", "rules", "queries"]
    assert row["id"] == "x" and results[1][1]["id"] == 2
    assert list(row["rules"]) == ["facts(Smokes)", "spread", "some_friends"]
    assert isinstance(row["queries"]["everyone"], float)
    assert len(row["queries"]["smokers"]) == 3  # an open query: a list over x


def test_the_satisfaction_is_the_knowledge_bases(template):
    rows = evaluate(template, {"facts": "Smokes(bob). not Smokes(cat). Friends(bob, cat)."})
    kb = template.fresh()
    with nesy.no_grad():
        ev.apply_case(kb, ev.parse_case(source({"facts": "Smokes(bob). not Smokes(cat). "
                                                          "Friends(bob, cat)."})), template)
        expected = float(kb.satisfaction().item())
    assert rows[0][1]["satisfaction"] == pytest.approx(expected, abs=1e-7)
    assert rows[0][1]["satisfaction"] == float(str(np.float32(expected)))


def test_case_facts_add_to_the_rule_files_facts(template):
    plain, more = (r for _, r in evaluate(template, {}, {"facts": "Friends(bob, cat)."}))
    assert more["rules"]["some_friends"] > plain["rules"]["some_friends"]
    assert more["rules"]["spread"] != plain["rules"]["spread"]
    assert more["rules"]["facts(Smokes)"] == plain["rules"]["facts(Smokes)"]
    group = template.kb.rules["facts(Smokes)"]
    assert len(group.facts) == 1  # the template keeps only the file's own fact


def test_facts_do_not_leak_between_cases(template):
    cases = [{"facts": "Friends(bob, cat). Friends(cat, ann). Smokes(cat). not Smokes(bob)."},
             {}]
    first = evaluate(template, {})[0][1]
    after = evaluate(template, *cases)[1][1]
    assert after == {**first, "id": 2}
    assert float(template.kb._tables["Friends"].numpy().sum()) == 1.0


def test_every_copy_strategy_and_reuse_give_the_same_rows(rules):
    rng = random.Random(3)
    cases = [random_case(rng, i) for i in range(25)]
    reference = evaluate(ev.Template.load(rules, strategy="rebuild", reuse=False), *cases)
    for strategy in ev.STRATEGIES:
        for reuse in (True, False):
            template = ev.Template.load(rules, strategy=strategy, reuse=reuse)
            assert evaluate(template, *cases) == reference, (strategy, reuse)


def test_bad_cases_become_errors_that_name_the_case(template):
    results = evaluate(template, {"facts": "Smoke(ann)."}, {"facts": "Smokes(zed)."},
                       {"facts": "Smokes(ann, bob)."}, "oops", {"facts": "2 :: Smokes(ann)."},
                       {"truths": {"Smokes": [1, 0, 1]}}, {"facts": "Smokes(ann)."})
    errors = [r for _, r in results[:-1]]
    assert all(isinstance(e, ev.CaseError) for e in errors)
    assert [e.where for e in errors] == [f"x:{i}" for i in range(1, 7)]
    assert "unknown predicate 'Smoke'" in errors[0].reason
    assert "unknown individual 'zed' of domain Person" in errors[1].reason
    assert "Smokes takes 1 argument" in errors[2].reason
    assert "bad JSON" in errors[3].reason
    assert "outside [0, 1]" in errors[4].reason
    assert "truths of Smokes" in errors[5].reason
    assert str(errors[1]).startswith("x:2: error: facts 1:1: unknown individual")
    assert isinstance(results[-1][1], dict)  # later cases are unaffected


def test_cases_give_features_truths_and_functions(tmp_path):
    path = tmp_path / "open.nesy"
    path.write_text(OPEN)
    template = ev.Template.load(path)
    case = {"features": {"Patient": [[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]]},
            "truths": {"Knows": [[0, 1, 0], [0, 0, 1], [0, 0, 0]]},
            "functions": {"age": [30, 70, 65]}, "facts": "Sick(0). not Sick(2)."}
    small = {**case, "features": {"Patient": [[0.1, 0.2]]}, "truths": {"Knows": [[0]]},
             "functions": {"age": [61]}, "facts": ""}
    bad = {**case, "truths": {"Knows": [[0, 1], [1, 0]]}}
    rows = evaluate(template, case, small, bad, case)
    assert len(rows[0][1]["queries"]["sick"]) == 3 and len(rows[1][1]["queries"]["sick"]) == 1
    assert rows[1][1]["queries"]["sick"][0] == rows[0][1]["queries"]["sick"][0]  # same model
    assert "truths of Knows" in rows[2][1].reason
    assert rows[3][1] == {**rows[0][1], "id": 4}


def test_queries_can_be_chosen_and_unknown_ones_fail_early(rules):
    template = ev.Template.load(rules, queries=["everyone"])
    assert list(evaluate(template, {})[0][1]["queries"]) == ["everyone"]
    with pytest.raises(ev.UnknownQuery, match="unknown query 'nobody'; the rule file has "
                                               "smokers, everyone"):
        ev.Template.load(rules, queries=["nobody"])


def test_a_checkpoint_sets_the_parameters(rules, tmp_path):
    nesy.manual_seed(42)
    kb = nesy.logic.load(rules)
    with nesy.no_grad():
        expected = float(kb.satisfaction().item())
    nesy.save(kb.state_dict(), tmp_path / "plain.npz")
    nesy.save({"model": kb.state_dict(), "semantics": None}, tmp_path / "train.npz")
    for name in ("plain.npz", "train.npz"):
        template = ev.Template.load(rules, checkpoint=tmp_path / name)
        row = evaluate(template, {})[0][1]
        assert row["satisfaction"] == pytest.approx(expected, abs=1e-6)
    other = dict(kb.state_dict())
    other["embeddings.Person"] = nesy.zeros(3, 5)
    nesy.save(other, tmp_path / "other.npz")
    with pytest.raises(ev.CheckpointMismatch, match=r"embeddings.Person has shape \(3, 5\)"):
        ev.Template.load(rules, checkpoint=tmp_path / "other.npz")


def test_the_template_is_picklable_and_works_where_unpickled(template):
    copy = pickle.loads(pickle.dumps(template))
    cases = [{"facts": "Smokes(bob)."}, {"facts": "Friends(cat, cat)."}]
    assert evaluate(copy, *cases) == evaluate(template, *cases)


# --- results, the journal and resuming -----------------------------------------------------


def write_cases(path, cases):
    path.write_text("".join(json.dumps(c) + "\n" for c in cases))
    return str(path)


def interrupted(template, cases, out, after, **options):
    def stop(done, total, sat):
        if done == after:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ev.Run(template, cases, out, on_progress=stop, **options).run()


@pytest.mark.parametrize("suffix", ["jsonl", "csv"])
def test_interrupted_then_resumed_equals_one_full_run(template, tmp_path, suffix):
    rng = random.Random(5)
    cases = write_cases(tmp_path / "cases.jsonl",
                        [random_case(rng, i) for i in range(30)] + ["not a case"])
    full, out = tmp_path / f"full.{suffix}", tmp_path / f"out.{suffix}"
    summary = ev.Run(template, cases, str(full), chunk_size=4).run()
    assert (summary.ok, summary.failed) == (30, 1)
    interrupted(template, cases, str(out), 9, chunk_size=4)
    assert not out.exists() and (tmp_path / f"out.{suffix}.partial").exists()
    interrupted(template, cases, str(out), 21, chunk_size=3, resume=True)
    summary = ev.Run(template, cases, str(out), resume=True).run()
    assert out.read_bytes() == full.read_bytes()
    assert not (tmp_path / f"out.{suffix}.partial").exists()
    assert (summary.ok, summary.failed, summary.reused) == (30, 1, 21)


def test_a_torn_last_journal_line_is_dropped(template, tmp_path):
    cases = write_cases(tmp_path / "cases.jsonl", [{"facts": "Smokes(bob)."}] * 6)
    ev.Run(template, cases, str(tmp_path / "full.jsonl")).run()
    out = tmp_path / "out.jsonl"
    interrupted(template, cases, str(out), 4, chunk_size=1)
    journal = tmp_path / "out.jsonl.partial"
    journal.write_bytes(journal.read_bytes()[:-25])  # killed in the middle of a line
    summary = ev.Run(template, cases, str(out), resume=True).run()
    assert summary.reused == 3
    assert out.read_bytes() == (tmp_path / "full.jsonl").read_bytes()


def test_a_journal_of_other_rules_is_refused(template, rules, tmp_path):
    cases = write_cases(tmp_path / "cases.jsonl", [{}] * 4)
    out = str(tmp_path / "out.jsonl")
    interrupted(template, cases, out, 2, chunk_size=1)
    other = ev.Template.load(rules, queries=["everyone"])
    with pytest.raises(ValueError, match="comes from a run with other rules"):
        ev.Run(other, cases, out, resume=True).run()


def test_changed_cases_are_evaluated_again_on_resume(template, tmp_path):
    path = tmp_path / "cases.jsonl"
    cases = write_cases(path, [{"id": i} for i in range(4)])
    out = str(tmp_path / "out.jsonl")
    interrupted(template, cases, out, 3, chunk_size=1)
    write_cases(path, [{"id": 0}, {"id": 1, "facts": "Smokes(bob)."}, {"id": 2}, {"id": 3}])
    summary = ev.Run(template, cases, out, resume=True).run()
    ev.Run(template, cases, str(tmp_path / "full.jsonl")).run()
    assert summary.reused == 2
    assert open(out).read() == (tmp_path / "full.jsonl").read_text()


@pytest.mark.parametrize("suffix", ["jsonl", "csv"])
def test_resume_reuses_a_complete_results_file_by_case_id(template, tmp_path, suffix):
    path = tmp_path / "cases.jsonl"
    first = [{"id": f"c{i}", "facts": "Smokes(cat)." * (i % 2)} for i in range(5)]
    out = str(tmp_path / f"out.{suffix}")
    ev.Run(template, write_cases(path, first), out).run()
    more = first + [{"id": "new", "facts": "Friends(cat, bob)."}]
    summary = ev.Run(template, write_cases(path, more), out, resume=True).run()
    ev.Run(template, str(path), str(tmp_path / f"full.{suffix}")).run()
    assert summary.reused == 5 and summary.ok == 6
    assert open(out).read() == (tmp_path / f"full.{suffix}").read_text()


def test_strict_stops_at_the_first_bad_case_and_keeps_the_results(template, tmp_path):
    cases = write_cases(tmp_path / "cases.jsonl", [{}, {"facts": "Nope(a)."}, {}])
    out = tmp_path / "out.jsonl"
    out.write_text("earlier\n")
    with pytest.raises(ev.CaseFailed, match="cases.jsonl:2: error: facts 1:1: unknown pred"):
        ev.Run(template, cases, str(out), strict=True).run()
    assert out.read_text() == "earlier\n"


def test_csv_rows_hold_every_rule_and_open_queries_as_json(template, tmp_path):
    cases = write_cases(tmp_path / "cases.jsonl", [{"id": "a"}, {"facts": "not Smokes(cat)."}])
    out = tmp_path / "out.csv"
    ev.Run(template, cases, str(out)).run()
    header, *rows = out.read_text().splitlines()
    assert header == ("id,satisfaction,rule:facts(Smokes),rule:spread,rule:some_friends,"
                      "rule:facts(not Smokes),query:smokers,query:everyone")
    first = rows[0].split(",")
    assert first[0] == "a" and first[5] == ""  # no negated facts in case a
    assert rows[1].split(",")[5] != ""
    assert json.loads(rows[0].split('"')[1]) == evaluate(template, {})[0][1]["queries"]["smokers"]


def test_results_need_a_known_extension(template, tmp_path):
    with pytest.raises(ValueError, match="must end in .jsonl or .csv"):
        ev.Output(tmp_path / "out.txt", template)


def test_a_file_without_constraints_has_no_satisfaction(tmp_path):
    path = tmp_path / "queries.nesy"
    path.write_text("domain D = {a, b}.\npredicate P(D).\nP(a).\nquery any: exists x: P(x).\n")
    template = ev.Template.load(path)
    cases = write_cases(tmp_path / "cases.jsonl", [{"facts": "P(b)."}, {}])
    ev.Run(template, cases, str(tmp_path / "out.csv")).run()
    summary = ev.Run(template, cases, str(tmp_path / "out.jsonl")).run()
    assert [r["satisfaction"] for r in map(json.loads, open(tmp_path / "out.jsonl"))] == [None] * 2
    assert (tmp_path / "out.csv").read_text().splitlines()[1].startswith("1,,")
    assert summary.ok == 2 and summary.satisfaction == []


def test_an_unreadable_case_file_fails_only_that_case(template, tmp_path):
    folder = tmp_path / "cases"
    folder.mkdir()
    (folder / "a.json").write_text("{}")
    (folder / "b.json").mkdir()  # not a file: not a case
    (folder / "c.json").write_bytes(b'\xef\xbb\xbf{"id": "bom"}')
    os_error = ev.CaseSource("Permission denied", "unreadable", "d/x.json", "x.json")
    results = ev.evaluate_chunk(template, list(ev.iter_cases(str(folder))) + [(2, os_error)])
    assert [r["id"] for _, r in results[:2]] == ["a.json", "bom"]
    assert results[2][1] == ev.CaseError("d/x.json", "cannot read: Permission denied")


def test_fork_deep_copies_attributes_it_does_not_know(template):
    kb = template.kb
    kb.notes = ["template"]
    try:
        copy = ev.fork(kb)
        copy.notes.append("case")
        copy.weights["spread"] = 0.0
        assert kb.notes == ["template"] and kb.weights["spread"] == 1.0
        assert copy.models is not kb.models and copy.embeddings is kb.embeddings
    finally:
        del kb.notes


def test_a_journal_is_refused_when_a_data_file_the_rules_name_changed(tmp_path):
    # the rows so far were computed from the old features: resuming would mix two datasets
    rules = tmp_path / "items.nesy"
    rules.write_text('domain Item.\nfeatures Item = "items.npy".\n'
                     "predicate Cheap(Item) = mlp(hidden = [3]).\nquery cheap: Cheap(x).\n")
    np.save(tmp_path / "items.npy", np.zeros((3, 2), np.float32))
    cases = write_cases(tmp_path / "cases.jsonl", [{}] * 4)
    out = str(tmp_path / "out.jsonl")
    interrupted(ev.Template.load(rules), cases, out, 2, chunk_size=1)
    same = ev.Template.load(rules)
    assert os.path.abspath(tmp_path / "items.npy") in same.kb.data_files
    np.save(tmp_path / "items.npy", np.ones((3, 2), np.float32))
    with pytest.raises(ValueError, match="comes from a run with other rules"):
        ev.Run(ev.Template.load(rules), cases, out, resume=True).run()
    np.save(tmp_path / "items.npy", np.zeros((3, 2), np.float32))  # as it was: resumable
    summary = ev.Run(ev.Template.load(rules), cases, out, resume=True).run()
    assert summary.reused == 2 and summary.ok == 4


def test_an_interrupted_run_resumes_in_a_moved_copy_of_its_folder(tmp_path):
    first, moved = tmp_path / "first", tmp_path / "moved"
    first.mkdir()
    (first / "items.nesy").write_text('domain Item.\nfeatures Item = "items.npy".\n'
                                      "predicate Cheap(Item) = mlp(hidden = [3]).\n"
                                      "query cheap: Cheap(x).\n")
    np.save(first / "items.npy", np.zeros((3, 2), np.float32))
    write_cases(first / "cases.jsonl", [{}] * 4)
    interrupted(ev.Template.load(first / "items.nesy"), str(first / "cases.jsonl"),
                str(first / "out.jsonl"), 2, chunk_size=1)
    shutil.copytree(first, moved)
    summary = ev.Run(ev.Template.load(moved / "items.nesy"), str(moved / "cases.jsonl"),
                     str(moved / "out.jsonl"), resume=True).run()
    assert summary.reused == 2 and summary.ok == 4

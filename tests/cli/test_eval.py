"""``nesy eval``: cases in, one row each out, as a user runs it (a subprocess)."""

import csv
import json
import os
import subprocess
import sys

import pytest

import nesy

from . import SMOKERS
from . import nesy as run_nesy

PEOPLE = """
domain Person = {ann, bob, cat}.
features Person = embedding(4).
predicate Smokes(Person) = mlp(hidden = [8]).
predicate Friends(Person, Person).
Friends(ann, bob).
Smokes(ann).
rule spread: forall x, y: Friends(x, y) and Smokes(x) -> Smokes(y).
query smokers: Smokes(x).
query everyone: forall x: Smokes(x).
"""

BAD_RULES = """domain Person = {ann, bob}.
predicate Smokes(Person).
rule typo: forall x in Person: Smoke(x).
"""


@pytest.fixture
def work(tmp_path):
    (tmp_path / "people.nesy").write_text(PEOPLE)
    (tmp_path / "bad.nesy").write_text(BAD_RULES)
    lines = [{"id": "first"}, {"facts": "Smokes(bob). Friends(bob, cat)."},
             {"id": "third", "facts": ["not Smokes(cat).", "0.5 :: Friends(cat, ann)."]}]
    write(tmp_path / "cases.jsonl", lines)
    return tmp_path


def write(path, lines):
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))


def nesy_eval(work, *args, env=None):
    if env is None:
        return run_nesy("eval", *args, cwd=work)
    result = subprocess.run([sys.executable, "-m", "nesy", "eval", *map(str, args)],
                            capture_output=True, text=True, timeout=300, cwd=work,
                            env={**os.environ, **env})
    assert "Traceback" not in result.stderr, result.stderr
    return result


def rows(path):
    return [json.loads(line) for line in open(path)]


def test_jsonl_results_have_a_row_per_case_in_order_and_a_summary(work):
    result = nesy_eval(work, "people.nesy", "--data", "cases.jsonl", "--out", "out.jsonl")
    assert result.returncode == 0, result.stderr
    out = rows(work / "out.jsonl")
    assert [r["id"] for r in out] == ["first", 2, "third"]
    assert set(out[0]) == {"id", "satisfaction", "rules", "queries"}
    assert list(out[0]["rules"]) == ["facts(Smokes)", "spread"]
    assert list(out[2]["rules"]) == ["facts(Smokes)", "spread", "facts(not Smokes)"]
    assert len(out[0]["queries"]["smokers"]) == 3
    assert "3 cases: 3 ok, 0 failed" in result.stderr
    assert "satisfaction  mean" in result.stderr and "spread" in result.stderr
    assert "\r" not in result.stderr  # no progress bar when stderr is not a terminal
    assert sorted(os.listdir(work)) == ["bad.nesy", "cases.jsonl", "out.jsonl", "people.nesy"]


def test_csv_results_have_one_column_per_rule_and_query(work):
    result = nesy_eval(work, "people.nesy", "--data", "cases.jsonl", "--out", "out.csv",
                       "--query", "smokers", "--quiet")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    table = list(csv.reader(open(work / "out.csv")))
    assert table[0] == ["id", "satisfaction", "rule:facts(Smokes)", "rule:spread",
                        "rule:facts(not Smokes)", "query:smokers"]
    assert [r[0] for r in table[1:]] == ["first", "2", "third"]
    assert table[1][4] == "" and table[3][4] != ""
    assert len(json.loads(table[1][5])) == 3
    as_jsonl = nesy_eval(work, "people.nesy", "--data", "cases.jsonl", "--out", "out.jsonl",
                         "--query", "smokers")
    assert as_jsonl.returncode == 0
    assert [float(r[1]) for r in table[1:]] == [r["satisfaction"] for r in rows(work / "out.jsonl")]


def test_a_folder_of_cases_is_read_in_name_order(work):
    folder = work / "cases"
    folder.mkdir()
    (folder / "b.json").write_text('{"facts": "Smokes(bob)."}')
    (folder / "a.nesy").write_text("# evidence\nSmokes(cat).\nnot Smokes(bob).\n")
    (folder / "c.json").write_text('{"id": "named"}')
    (folder / "notes.md").write_text("not a case")
    result = nesy_eval(work, "people.nesy", "--data", "cases", "--out", "out.jsonl")
    assert result.returncode == 0, result.stderr
    assert [r["id"] for r in rows(work / "out.jsonl")] == ["a.nesy", "b.json", "named"]


def test_malformed_cases_are_reported_with_their_line_and_skipped(work):
    write(work / "cases.jsonl", [{"id": "ok"}, "{not json", {"facts": "Smokes(zed)."},
                                 "", {"facts": "Smokes(ann"}, {"features": {"Person": [[1]]}},
                                 {"id": "last"}])
    result = nesy_eval(work, "people.nesy", "--data", "cases.jsonl", "--out", "out.jsonl")
    assert result.returncode == 1
    assert [r["id"] for r in rows(work / "out.jsonl")] == ["ok", "last"]
    err = result.stderr
    assert "cases.jsonl:2: error: bad JSON" in err
    assert "cases.jsonl:3: error: facts 1:1: unknown individual 'zed' of domain Person" in err
    assert "cases.jsonl:5: error: facts 1:11: syntax error" in err
    assert "cases.jsonl:6: error: features of Person:" in err
    assert err.count("case skipped") == 4
    assert "7 cases: 3 ok, 4 failed" not in err and "6 cases: 2 ok, 4 failed" in err


def test_strict_stops_at_a_bad_case_and_leaves_earlier_results(work):
    (work / "out.jsonl").write_text("earlier\n")
    write(work / "cases.jsonl", [{"id": "ok"}, {"facts": "Smoke(ann)."}, {"id": "never"}])
    result = nesy_eval(work, "people.nesy", "--data", "cases.jsonl", "--out", "out.jsonl",
                       "--strict")
    assert result.returncode == 1
    assert "cases.jsonl:2: error: facts 1:1: unknown predicate 'Smoke'; stopping" in result.stderr
    assert (work / "out.jsonl").read_text() == "earlier\n"


@pytest.mark.parametrize("args, message", [
    (["missing.nesy", "--data", "cases.jsonl", "--out", "o.jsonl"], "no such rule file"),
    (["people.nesy", "--data", "missing.jsonl", "--out", "o.jsonl"], "no such cases file"),
    (["people.nesy", "--data", "cases.jsonl", "--out", "o.jsonl", "--checkpoint", "no.npz"],
     "no such checkpoint"),
    (["people.nesy", "--data", "cases.jsonl", "--out", "o.txt"], "must end in .jsonl or .csv"),
    (["people.nesy", "--data", "cases.jsonl", "--out", "nofolder/o.jsonl"], "no folder"),
    (["people.nesy", "--data", "cases.jsonl", "--out", "o.jsonl", "--query", "nobody"],
     "unknown query 'nobody'; the rule file has smokers, everyone"),
    (["people.nesy", "--data", "cases.jsonl", "--out", "o.jsonl", "--chunk-size", "0"],
     "expected a positive integer"),
    (["people.nesy", "--data", "cases.jsonl"], "required: --out"),
    (["people.nesy", "--data", "cases.jsonl", "--out", "o.jsonl", "--scheduler", "local:x"],
     "bad scheduler 'local:x'"),
])
def test_usage_errors_exit_2_before_any_case_runs(work, args, message):
    result = nesy_eval(work, *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert sorted(os.listdir(work)) == ["bad.nesy", "cases.jsonl", "people.nesy"]


def test_an_unwritable_output_leaves_no_partial_file_and_earlier_output_intact(work):
    (work / "out.jsonl").write_text("earlier\n")
    (work / "out.jsonl.partial").mkdir()  # the journal cannot be created
    result = nesy_eval(work, "people.nesy", "--data", "cases.jsonl", "--out", "out.jsonl")
    assert result.returncode == 1
    assert "cannot write" in result.stderr and "out.jsonl.partial" in result.stderr
    assert (work / "out.jsonl").read_text() == "earlier\n"
    assert sorted(os.listdir(work)) == ["bad.nesy", "cases.jsonl", "out.jsonl",
                                        "out.jsonl.partial", "people.nesy"]
    assert os.listdir(work / "out.jsonl.partial") == []


def test_rule_errors_print_the_checkers_diagnostics(work):
    result = nesy_eval(work, "bad.nesy", "--data", "cases.jsonl", "--out", "out.jsonl")
    assert result.returncode == 1
    assert "bad.nesy:3:32: error: undefined predicate 'Smoke'" in result.stderr
    assert not (work / "out.jsonl").exists()


def test_a_checkpoint_is_loaded_and_a_mismatch_is_an_error(work):
    nesy.manual_seed(7)
    kb = nesy.logic.load(work / "people.nesy")
    with nesy.no_grad():
        expected = float(kb.satisfaction().item())
    nesy.save({"model": kb.state_dict(), "semantics": None}, work / "trained.npz")
    nesy.save({"embeddings.Person": nesy.zeros(3, 4)}, work / "partial.npz")
    result = nesy_eval(work, "people.nesy", "--data", "cases.jsonl", "--out", "out.jsonl",
                       "--checkpoint", "trained.npz")
    assert result.returncode == 0, result.stderr
    assert rows(work / "out.jsonl")[0]["satisfaction"] == pytest.approx(expected, abs=1e-6)
    result = nesy_eval(work, "people.nesy", "--data", "cases.jsonl", "--out", "out.jsonl",
                       "--checkpoint", "partial.npz")
    assert result.returncode == 1
    assert "checkpoint partial.npz does not fit people.nesy: missing models.Smokes" in \
        result.stderr


def test_interrupted_runs_resume_to_exactly_the_full_output(work):
    people = ["ann", "bob", "cat"]
    write(work / "cases.jsonl", [{"id": i, "facts": f"Smokes({people[i % 3]}). "
                                  f"Friends({people[i % 2]}, {people[i % 3]})."}
                                 for i in range(12)] + ["broken"])
    args = ["people.nesy", "--data", "cases.jsonl", "--chunk-size", "2"]
    full = nesy_eval(work, *args, "--out", "full.jsonl")
    assert full.returncode == 1 and "cases.jsonl:13: error: bad JSON" in full.stderr
    (work / "out.jsonl").write_text("earlier\n")
    first = nesy_eval(work, *args, "--out", "out.jsonl",
                      env={"NESY_EVAL_TEST_SIGNAL": "5:SIGTERM"})
    assert first.returncode == 130
    assert "interrupted after 5 of 13 cases" in first.stderr and "--resume" in first.stderr
    assert (work / "out.jsonl").read_text() == "earlier\n"
    assert len((work / "out.jsonl.partial").read_text().splitlines()) == 1 + 5
    second = nesy_eval(work, *args, "--out", "out.jsonl", "--resume",
                       env={"NESY_EVAL_TEST_SIGNAL": "9:SIGTERM"})
    assert second.returncode == 130
    assert (work / "out.jsonl").read_text() == "earlier\n"
    last = nesy_eval(work, *args, "--out", "out.jsonl", "--resume")
    assert last.returncode == 1  # the broken line fails again
    assert "13 cases: 12 ok, 1 failed (9 from an earlier run)" in last.stderr
    assert (work / "out.jsonl").read_bytes() == (work / "full.jsonl").read_bytes()
    assert sorted(os.listdir(work)) == ["bad.nesy", "cases.jsonl", "full.jsonl", "out.jsonl",
                                        "people.nesy"]


def test_a_dask_scheduler_gives_the_same_results(work):
    pytest.importorskip("distributed")
    write(work / "cases.jsonl", [{"id": i, "facts": "Smokes(bob)." * (i % 2)} for i in range(9)]
          + ["broken"])
    args = ["people.nesy", "--data", "cases.jsonl", "--chunk-size", "2"]
    alone = nesy_eval(work, *args, "--out", "alone.csv")
    dask = nesy_eval(work, *args, "--out", "dask.csv", "--scheduler", "local:2")
    assert (alone.returncode, dask.returncode) == (1, 1), dask.stderr
    assert "cases.jsonl:10: error: bad JSON" in dask.stderr
    assert (work / "dask.csv").read_bytes() == (work / "alone.csv").read_bytes()


def test_the_smokers_example_runs(work):
    cases = os.path.join(os.path.dirname(SMOKERS), "smokers_cases.jsonl")
    if not os.path.exists(cases):
        pytest.skip("rules/smokers_cases.jsonl is not there")
    result = nesy_eval(work, SMOKERS, "--data", cases, "--out", "out.csv")
    assert result.returncode == 0, result.stderr
    assert len(list(csv.reader(open(work / "out.csv")))) == 1 + sum(1 for _ in open(cases))


def test_help_documents_every_option_with_examples():
    result = run_nesy("eval", "--help")
    assert result.returncode == 0
    for option in ("--data", "--out", "--checkpoint", "--query", "--resume", "--strict",
                   "--quiet", "--chunk-size", "--scheduler", "examples:", "exit status"):
        assert option in result.stdout

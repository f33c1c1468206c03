"""``nesy check``: problems as file:line:col with a caret, JSON for tools, exit status."""

import dataclasses
import json

import pytest

from nesy.logic import RuleError, parse

from . import SMOKERS, nesy

BAD = """domain Person = {ann, bob}.
predicate Smokes(Person).
predicate Friends(Person, Person).

rule spread: forall x, y: Friends(x, y) and Smokes(x) -> Smokes(y, x).
rule typo: forall x in Person: Smoke(x).
"""

WARNINGS = """semantics godel.
domain Person = {ann, bob}.
domain Pet = {rex}.
predicate Smokes(Person).
predicate Cancer(Person).
function age(Person) -> 1.
semantics product.
rule r: forall x, y in Person: Smokes(x).
"""

SYNTAX = """domain Person = {ann, bob}
predicate Smokes(Person).
"""


@pytest.fixture
def files(tmp_path):
    for name, text in [("bad.nesy", BAD), ("warn.nesy", WARNINGS), ("syntax.nesy", SYNTAX)]:
        (tmp_path / name).write_text(text)
    return tmp_path


def test_a_good_file_passes_quietly():
    result = nesy("check", SMOKERS)
    assert result.returncode == 0, result.stdout
    assert result.stdout == ""
    assert result.stderr.strip() == "1 file checked: 0 errors, 0 warnings"


def test_errors_show_position_source_line_and_caret(files):
    result = nesy("check", "bad.nesy", cwd=files)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0] == "bad.nesy:5:58: error: Smokes takes 1 argument, got 2"
    assert lines[1].strip() == BAD.splitlines()[4].strip()
    assert lines[2].index("^") == lines[1].index("Smokes(y, x)")
    assert "bad.nesy:6:32: error: undefined predicate 'Smoke'" in result.stdout
    assert result.stderr.strip() == "1 file checked: 2 errors, 0 warnings"


def test_json_lists_every_diagnostic(files):
    result = nesy("check", "--format", "json", "bad.nesy", "warn.nesy", cwd=files)
    assert result.returncode == 1
    doc = json.loads(result.stdout)
    assert (doc["errors"], doc["warnings"]) == (2, 5)
    bad, warn = doc["files"]
    assert (bad["file"], bad["ok"], warn["ok"]) == ("bad.nesy", False, True)
    assert bad["diagnostics"][0] == {
        "severity": "error", "message": "Smokes takes 1 argument, got 2",
        "file": "bad.nesy", "line": 5, "column": 58,
    }
    assert {d["severity"] for d in warn["diagnostics"]} == {"warning"}
    assert result.stderr == ""  # no summary: stdout is the whole answer


def test_warnings_alone_pass(files):
    result = nesy("check", "warn.nesy", cwd=files)
    assert result.returncode == 0
    out = result.stdout
    assert "warn.nesy:3:1: warning: domain Pet is declared but" in out
    assert "warn.nesy:5:1: warning: predicate Cancer is declared but" in out
    assert "warn.nesy:6:1: warning: function age is declared but" in out
    assert "warn.nesy:7:1: warning: semantics given again" in out
    assert "replaces the one at warn.nesy:1:1" in out
    assert "warn.nesy:8:19: warning: variable y is bound by forall" in out
    assert "error" not in out
    assert result.stderr.strip() == "1 file checked: 0 errors, 5 warnings"


def test_strict_fails_on_warnings(files):
    assert nesy("check", "--strict", "warn.nesy", cwd=files).returncode == 1
    assert nesy("check", "--strict", SMOKERS).returncode == 0


def test_a_missing_file_is_an_error_of_that_file(files):
    result = nesy("check", "missing.nesy", cwd=files)
    assert result.returncode == 1
    assert result.stdout.startswith("missing.nesy:1:1: error: cannot read file: No such file")
    folder = json.loads(nesy("check", "--format", "json", ".", cwd=files).stdout)
    assert folder["files"][0]["ok"] is False and folder["errors"] == 1


def test_several_files_are_each_checked(files):
    result = nesy("check", "syntax.nesy", "bad.nesy", "warn.nesy", SMOKERS, cwd=files)
    assert result.returncode == 1
    out = result.stdout
    assert "syntax.nesy:2:1: error: syntax error" in out
    assert "bad.nesy:5:58: error:" in out and "bad.nesy:6:32: error:" in out
    assert "warn.nesy:8:19: warning:" in out
    assert out.index("syntax.nesy") < out.index("bad.nesy") < out.index("warn.nesy")
    assert result.stderr.strip() == "4 files checked: 3 errors, 5 warnings"


def test_help_documents_the_commands_and_options():
    top = nesy("--help").stdout
    assert "check" in top and "train" in top
    text = nesy("check", "--help").stdout
    for word in ("--format", "--strict", "examples:", "nesy check --format json"):
        assert word in text


# --- the checker's warnings, in Python -----------------------------------------------------


def test_parse_returns_the_warnings_with_the_program():
    program = parse(WARNINGS)
    shown = [(d.severity, d.line, d.column) for d in program.warnings]
    assert shown == [("warning", 3, 1), ("warning", 5, 1), ("warning", 6, 1),
                     ("warning", 7, 1), ("warning", 8, 19)]
    assert program == dataclasses.replace(program, warnings=())  # not compared


def test_a_rule_error_carries_the_warnings_too():
    with pytest.raises(RuleError) as info:
        parse(WARNINGS + "rule bad: forall x: Smoke(x).\n")
    assert [d.severity for d in info.value.diagnostics] == ["error"]
    assert len(info.value.warnings) == 5
    assert "warning" not in str(info.value)


def test_used_declarations_and_variables_give_no_warnings():
    program = parse("""
        domain Person = {ann, bob}.  domain Pet = {rex}.
        predicate Owns(Person, Pet).  function age(Person) -> 1.
        rule r: forall x: exists p in Pet: Owns(x, p) or age(x) > 3.
        query q: forall y in Person: exists z where z != y: Owns(z, rex).
    """)
    assert program.warnings == ()

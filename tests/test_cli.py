"""The ``nesy`` command line, run as a user would: in a subprocess."""

import subprocess
import sys


def nesy(*args):
    return subprocess.run(
        [sys.executable, "-m", "nesy", *args], capture_output=True, text=True, timeout=300
    )


def test_demo_trains_and_evaluates_the_bundled_rules():
    result = nesy("demo", "--epochs", "100")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any(line.startswith("satisfaction: ") for line in lines)
    table = lines[lines.index(next(x for x in lines if x.startswith("case "))) + 1:]
    ids = [row.split()[0] for row in table]
    assert ids[0] == "as_trained" and "c_has_cancer" in ids and len(ids) == 8
    cancer = next(row for row in table if row.startswith("c_has_cancer"))
    assert float(cancer.split()[2]) < 0  # new evidence against what was learned
    assert "facts(Cancer)" in cancer


def test_engine_demo_learns_the_bundled_data():
    result = nesy("demo", "--engine", "--epochs", "150", "--seed", "1")
    assert result.returncode == 0, result.stderr
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith("test accuracy: ")
    assert float(last.split(": ")[1]) >= 0.9
    assert "epoch" in result.stdout.splitlines()[0]


def test_help_lists_the_commands():
    result = nesy("--help")
    assert result.returncode == 0
    assert "demo" in result.stdout


def test_bad_option_value_is_a_usage_error_without_traceback():
    result = nesy("demo", "--epochs", "0")
    assert result.returncode == 2
    assert "positive integer" in result.stderr
    assert "Traceback" not in result.stderr


def test_no_command_prints_help_and_fails():
    result = nesy()
    assert result.returncode == 2
    assert "usage: nesy" in result.stdout

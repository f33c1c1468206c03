"""The ``nesy`` command line, run as a user would: in a subprocess."""

import subprocess
import sys


def nesy(*args):
    return subprocess.run(
        [sys.executable, "-m", "nesy", *args], capture_output=True, text=True, timeout=300
    )


def test_demo_learns_the_bundled_data():
    result = nesy("demo", "--epochs", "150", "--seed", "1")
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

"""The installed ``nesy`` executable (the console script) runs every command."""

import os
import shutil
import subprocess
import sys

import pytest

from . import SMOKERS


def console_script():
    here = os.path.join(os.path.dirname(sys.executable), "nesy")
    path = here if os.path.exists(here) else shutil.which("nesy")
    if path is None:
        pytest.skip("the nesy console script is not installed (pip install .)")
    return path


@pytest.mark.parametrize("command", ["check", "train", "eval", "explain", "demo"])
def test_every_command_has_help_with_examples(command):
    result = subprocess.run([console_script(), command, "--help"], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert f"usage: nesy {command}" in result.stdout
    assert "xample" in result.stdout  # "Example:" or "Examples:"


def test_the_console_script_checks_a_rule_file(tmp_path):
    bad = tmp_path / "bad.nesy"
    bad.write_text("domain P = {a}.\npredicate S(P).\nS(b).\n")
    good = subprocess.run([console_script(), "check", SMOKERS], capture_output=True, text=True,
                          timeout=120)
    assert good.returncode == 0, good.stdout + good.stderr
    result = subprocess.run([console_script(), "check", str(bad)], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 1
    assert f"{bad}:3:3: error: unknown individual 'b' of domain P" in result.stdout
    assert "Traceback" not in result.stderr

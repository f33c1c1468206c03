"""The ``nesy`` subcommands, run as a user would: in a subprocess of the console entry."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SMOKERS = str(ROOT / "rules" / "smokers.nesy")


def nesy(*args, cwd=None, debug=False):
    """``python -m nesy ARGS`` in ``cwd``; without ``debug``, no traceback may appear."""
    result = subprocess.run(
        [sys.executable, "-m", "nesy", *map(str, args)],
        capture_output=True, text=True, timeout=300, cwd=cwd,
    )
    if not debug:
        assert "Traceback" not in result.stderr + result.stdout, result.stderr
    return result

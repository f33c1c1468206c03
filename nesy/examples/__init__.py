"""Runnable examples that go with the rule files in the repository's ``rules/`` folder."""

from __future__ import annotations

import os


def rules_dir():
    """The folder of example rule files: ``$NESY_RULES``, else the copy installed with the
    package (``nesy/rules``, in a source checkout a link to the repository's ``rules/``)."""
    candidates = [os.environ.get("NESY_RULES")]
    here = os.path.dirname(os.path.abspath(__file__))
    candidates.append(os.path.join(here, "..", "rules"))
    for path in candidates:
        if path and os.path.isfile(os.path.join(path, "smokers.nesy")):
            return os.path.normpath(path)
    raise FileNotFoundError(
        "cannot find the example rule files (nesy/rules): reinstall nesy or set NESY_RULES "
        "to the folder holding smokers.nesy"
    )

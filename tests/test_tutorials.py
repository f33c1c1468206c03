"""The tutorials: each runs from a clean kernel, stores its outputs, and the README lists it.

The notebooks are found by name (``tutorials/NN_name.ipynb``), so a new one is tested without
touching this file. Running them is ``tutorials/build.py``'s ``execute``, the same code that
refreshes their stored outputs.
"""

import importlib.util
import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_BYTES = 300 * 1024


def _load_build():
    path = ROOT / "tutorials" / "build.py"
    spec = importlib.util.spec_from_file_location("tutorials_build", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build = _load_build()
NOTEBOOKS = build.notebooks()
each_notebook = pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])


def test_there_are_tutorials():
    assert NOTEBOOKS


@each_notebook
def test_tutorial_runs_from_a_clean_kernel(path):
    build.execute(path)  # a failing cell raises CellExecutionError with its traceback


@each_notebook
def test_tutorial_has_its_outputs_stored(path):
    cells = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
    rebuild = f"run: python tutorials/build.py {path.name[:2]}"
    assert cells, f"{path.name} has no code"
    counts = [c.execution_count for c in cells]
    assert counts == list(range(1, len(cells) + 1)), (
        f"{path.name}: not every cell ran once, in order, from a clean kernel ({rebuild})")
    assert any(c.outputs for c in cells), f"{path.name} has no stored outputs ({rebuild})"
    errors = [c.execution_count for c in cells if any(o.output_type == "error" for o in c.outputs)]
    assert not errors, f"{path.name}: cells {errors} stored an error"


@each_notebook
def test_tutorial_stays_small(path):
    size = path.stat().st_size
    assert size < MAX_BYTES, (
        f"{path.name} is {size // 1024} KiB; keep figures small (figure.dpi 72, fewer points)")


def readme_tutorial_items():
    """{link target: the text after the link} for each list item of the README's Tutorials."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "\n## Tutorials\n" in text, "the README has no '## Tutorials' section"
    section = text.split("\n## Tutorials\n", 1)[1].split("\n## ", 1)[0]
    items = re.split(r"\n(?=- )", section)
    found = {}
    for item in items:
        match = re.match(r"- \[[^\]]+\]\(([^)]+)\)(.*)", item, re.S)
        if match:
            found[match.group(1)] = " ".join(match.group(2).split()).lstrip(":—- ")
    return found


def test_readme_lists_every_tutorial_with_a_description():
    items = readme_tutorial_items()
    for path in NOTEBOOKS:
        link = f"tutorials/{path.name}"
        assert link in items, f"the README's Tutorials section does not link {link}"
        assert len(items[link]) >= 20, f"the README gives {link} no one-line description"


def test_readme_links_only_existing_tutorials():
    for link in readme_tutorial_items():
        assert (ROOT / link).is_file(), f"the README's Tutorials section links {link}, absent"


def test_the_kernel_runs_this_python_and_this_checkout(tmp_path):
    path = tmp_path / "probe.ipynb"
    probe = "import sys, nesy\nprint(sys.executable)\nprint(nesy.__file__)"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(probe)]), path)
    executable, module = build.execute(path).cells[0].outputs[0].text.split()
    assert executable == sys.executable
    assert Path(module).resolve() == (ROOT / "nesy" / "__init__.py").resolve()

"""docs/language.md must not drift from the language it documents.

The info string of a fenced block in the doc says what the block is:

- ```` ```nesy ````: a rule file that must parse and check;
- ```` ```nesy error ````: a rule file the parser or checker must reject with ``RuleError``;
- ``file=NAME`` after either: the block is also the file ``NAME`` in a scratch folder (so that
  other blocks can import it) and is checked as that file, with ``parse_path``;
- ```` ```text output ````: the exact text of the error of the nearest ``nesy error`` block
  above it.
"""

import re
from pathlib import Path
from typing import NamedTuple

import pytest

import nesy
from nesy.logic import RuleError
from nesy.logic.semantics import KINDS, operator_names

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "language.md"
GRAMMAR = ROOT / "nesy" / "logic" / "grammar.lark"
FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.S | re.M)


class Block(NamedTuple):
    line: int
    text: str
    error: bool
    file: str | None
    output: str | None  # the expected error text, for error blocks


def fences(text):
    """(line, info words, body) of every fenced block of ``text``."""
    return [
        (text.count("\n", 0, m.start()) + 1, m.group(1).split(), m.group(2))
        for m in FENCE.finditer(text)
    ]


def nesy_blocks():
    blocks = []
    for line, info, body in fences(DOC.read_text(encoding="utf-8")):
        if info == ["text", "output"]:
            assert blocks and blocks[-1].error, f"line {line}: output without a nesy error block"
            assert blocks[-1].output is None, f"line {line}: a second output for one block"
            blocks[-1] = blocks[-1]._replace(output=body.rstrip("\n"))
        if not info or info[0] != "nesy":
            continue
        flags = info[1:]
        files = [f.removeprefix("file=") for f in flags if f.startswith("file=")]
        unknown = [f for f in flags if f != "error" and not f.startswith("file=")]
        assert not unknown and len(files) <= 1, f"line {line}: bad info string {info}"
        blocks.append(Block(line, body, "error" in flags, files[0] if files else None, None))
    return blocks


BLOCKS = nesy_blocks()


@pytest.fixture
def scratch(tmp_path, monkeypatch):
    """A folder holding every ``file=`` block, as the current folder."""
    for block in BLOCKS:
        if block.file:
            (tmp_path / block.file).write_text(block.text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def check(block):
    if block.file:
        return nesy.logic.parse_path(block.file)
    return nesy.logic.parse(block.text)


def test_the_doc_has_its_blocks():
    files = [b.file for b in BLOCKS if b.file]
    assert len(BLOCKS) >= 30
    assert sum(b.error for b in BLOCKS) >= 5
    assert sum(b.output is not None for b in BLOCKS) >= 3
    assert len(files) == len(set(files)), "two blocks write the same file"


@pytest.mark.parametrize("block", [b for b in BLOCKS if not b.error], ids=lambda b: f"line{b.line}")
def test_block_parses_and_checks(block, scratch):
    program = check(block)
    assert program.statements


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.error], ids=lambda b: f"line{b.line}")
def test_error_block_is_rejected(block, scratch):
    with pytest.raises(RuleError) as info:
        check(block)
    if block.output is not None:
        assert str(info.value) == block.output


def test_every_registered_operator_is_named():
    text = DOC.read_text(encoding="utf-8")
    missing = [
        f"{kind} {name}"
        for kind in KINDS
        for name in operator_names(kind)
        if f"`{name}`" not in text
    ]
    assert not missing, f"operators missing from docs/language.md: {missing}"


def test_grammar_summary_has_every_literal_of_the_grammar():
    grammar = re.sub(r"^\s*//.*$", "", GRAMMAR.read_text(encoding="utf-8"), flags=re.M)
    literals = set(re.findall(r'"((?:[^"\\]|\\.)+)"', grammar))
    summary = DOC.read_text(encoding="utf-8").split("## Grammar summary", 1)[1]
    missing = sorted(lit for lit in literals if f'"{lit}"' not in summary)
    assert not missing, f"grammar literals missing from the grammar summary: {missing}"

"""Syntax errors: position, message, expected tokens and the caret under the column."""

import pytest

from nesy.logic import RuleError, parse, parse_path
from nesy.logic.parser import parse_text


def error_of(text, **kwargs):
    with pytest.raises(RuleError) as info:
        parse(text, **kwargs)
    return info.value


def assert_caret(err, source_line, column):
    """``str(err)`` is ``file:line:col: error: ...``, the source line and a caret."""
    head, shown, caret = str(err).splitlines()[:3]
    assert head.startswith(f"{err.filename}:{err.line}:{column}: error: ")
    assert shown == "    " + source_line.rstrip()
    assert caret == "    " + " " * (column - 1) + "^"


# (text, line, column, unexpected, part of the expected list); columns counted by hand
SYNTAX_ERRORS = [
    # the '.' is missing at the end of the file: just after ')'
    ("Edge(a, b)", 1, 11, "unexpected end of file", "expected '.' or ':-'"),
    # ... and after the last token, not after a trailing comment
    ("Edge(a, b)\n\n# done\n", 1, 11, "unexpected end of file", "'.'"),
    # ... or before the next statement
    ("Edge(a, b)\nEdge(b, c).\n", 2, 1, "unexpected 'Edge'", "'.'"),
    ("Edge(a b).", 1, 8, "unexpected 'b'", "')' or ','"),
    ("rule r forall x: A(x).", 1, 8, "unexpected 'forall'", "'(' or ':'"),
    ("forall x A(x).", 1, 10, "unexpected 'A'", "':'"),
    ("domain P = {a}.\n\n  P(x) :- Q(x) R(x).\n", 3, 16, "unexpected 'R'", "','"),
    ("A(x) :- .", 1, 9, "unexpected '.'", "'not', a name"),
    ("domain P = {a, }.", 1, 16, "unexpected '}'", "a name, a number or a quoted string"),
    ("Edge(a, b) @.", 1, 12, "unexpected character '@'", "'.'"),
    ("P(x) and.", 1, 9, "unexpected '.'", "'forall'"),
    ("Edge(a, b) :- ", 1, 14, "unexpected end of file", "a name"),
    ("predicate P(Person) = .", 1, 23, "unexpected '.'", "a name or a quoted string"),
    ("semantics godel", 1, 16, "unexpected end of file", "'.'"),
    # a body is a list of literals, not a formula
    ("P(x) :- Q(x) or R(x).", 1, 14, "unexpected 'or'", "expected ',' or '.'"),
    # no negative numbers
    ("rule r (weight = -1): forall x: P(x).", 1, 18, "unexpected '-'", "a number"),
]


@pytest.mark.parametrize("text, line, column, unexpected, expected", SYNTAX_ERRORS)
def test_syntax_error_position_and_message(text, line, column, unexpected, expected):
    err = error_of(text)
    assert len(err.diagnostics) == 1
    assert (err.filename, err.line, err.column) == ("<string>", line, column)
    assert err.message.startswith("syntax error: ")
    assert unexpected in err.message
    assert expected in err.message
    assert_caret(err, text.splitlines()[line - 1], column)


def test_missing_dot_before_a_statement_gets_a_hint():
    err = error_of("Edge(a, b)\nEdge(b, c).")
    assert "is the '.' missing at the end of the statement before?" in err.message


def test_no_hint_in_the_middle_of_a_line():
    assert "missing" not in error_of("Edge(a b).").message


def test_expected_list_leaves_out_unicode_synonyms():
    err = error_of("P(x) and.")
    assert "'exists'" in err.message and "'∃'" not in err.message and "'¬'" not in err.message


def test_error_names_the_given_file():
    err = error_of("Edge(a, b)\n", filename="graph.nesy")
    assert err.filename == "graph.nesy"
    assert str(err).startswith("graph.nesy:1:11: error: syntax error")


def test_formula_syntax_error():
    with pytest.raises(RuleError) as info:
        parse_text("forall x: P(x) and", "<formula>", start="formula")
    err = info.value
    assert (err.filename, err.line, err.column) == ("<formula>", 1, 19)
    assert "unexpected end of file" in err.message


def test_diagnostic_fields():
    (diag,) = error_of("x\ny z.").diagnostics
    # 'x' then 'y' on the next line: two names cannot follow each other
    assert (diag.line, diag.column, diag.severity) == (2, 1, "error")
    assert diag.source_line == "y z."
    assert diag.to_dict() == {
        "message": diag.message,
        "filename": "<string>",
        "line": 2,
        "column": 1,
        "severity": "error",
    }


def test_syntax_error_in_an_imported_file_names_that_file(tmp_path):
    (tmp_path / "lib.nesy").write_text("E(a, b).\nE(b c).\n", encoding="utf-8")
    main = tmp_path / "main.nesy"
    main.write_text('import "lib.nesy".\nP(x) :- E(x, y).\n', encoding="utf-8")
    with pytest.raises(RuleError) as info:
        parse_path(main)
    err = info.value
    assert err.filename.endswith("lib.nesy") and not err.filename.endswith("main.nesy")
    # E1 (2 b3 space4 c5
    assert (err.line, err.column) == (2, 5)
    assert "unexpected 'c'" in err.message
    assert_caret(err, "E(b c).", 5)


# --- errors the parser reports while building the tree ----------------------------------------

BUILD_ERRORS = [
    ("P(x) or Q(x) :- R(x).", 1, 1, "the head of a rule must be an atom"),
    ("P(x) :- (Q(x) or R(x)).", 1, 10, "a rule body holds atoms, 'not' atoms and comparisons"),
    ("P(x) :- Q(x), forall y: R(y).", 1, 15, "a rule body holds atoms"),
    ("0.5 :: forall x: P(x).", 1, 1, "'DEGREE ::' applies to a fact or a Horn rule"),
    ("0.5 :: not P(a).", 1, 1, "a negated fact has degree 0"),
    ("rule r (wait = 2): forall x: P(x).", 1, 9, "unknown rule option 'wait'"),
    ("rule r (weight = big): forall x: P(x).", 1, 9, "rule weight must be a number"),
    ("rule r: forall[q = 2] x: P(x).", 1, 16, "unknown quantifier option 'q'"),
    ("rule r: exists[p = 0] x: P(x).", 1, 16, "p must be a positive number"),
    ("rule r: forall diag(x): P(x).", 1, 16, "diag(...) pairs at least two variables"),
    ("domain N = 5..1.", 1, 12, "empty range 5..1 for domain N"),
]


@pytest.mark.parametrize("text, line, column, message", BUILD_ERRORS)
def test_build_errors(text, line, column, message):
    err = error_of(text)
    assert (err.line, err.column) == (line, column)
    assert message in err.message
    assert_caret(err, text, column)


def test_build_error_on_a_later_line():
    text = "Edge(a, b).\n\n   P(x) or Q(x) :- R(x).\n"
    err = error_of(text)
    assert (err.line, err.column) == (3, 4)
    assert_caret(err, "   P(x) or Q(x) :- R(x).", 4)

"""``nesy check FILE...``: parse and check rule files, report every error and warning.

Text output is one ``file:line:col: severity: message`` line per problem with the source line
and a caret under the column (stdout), then a one-line summary (stderr). ``--format json``
prints one document for editors and CI instead::

    {"files": [{"file": "a.nesy", "ok": false, "errors": 1, "warnings": 0,
                "diagnostics": [{"severity": "error", "message": "...", "file": "a.nesy",
                                 "line": 3, "column": 7}]}],
     "errors": 1, "warnings": 0}

The exit status is 1 when any file has an error (with ``--strict``, also a warning), else 0.
Each file is checked on its own: a syntax error or a missing file stops only that file.
"""

from __future__ import annotations

import argparse
import json
import sys

EXAMPLES = """\
examples:
  nesy check rules/smokers.nesy            check one file
  nesy check rules/*.nesy                  several files; each one is checked on its own
  nesy check --format json rules/*.nesy    one JSON document on stdout, for editors and CI
  nesy check --strict rules/smokers.nesy   warnings fail the check too

output (text):
  FILE:LINE:COL: error: MESSAGE            and ': warning:' for warnings,
      the source line                      each followed by its line and a caret
      ^
  2 files checked: 1 error, 0 warnings     the summary, on stderr

exit status: 0 when no file has an error, 1 when one has (or, with --strict, a warning),
2 for a usage error.
"""


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "check",
        help="parse and check rule files; report errors and warnings",
        description="Parse and check each rule file (syntax, names, arities, types, variables,\n"
        "stratification) and report every problem with its file, line and column.\n"
        "Warnings point at what is legal but probably a mistake: a second 'semantics'\n"
        "statement, a declaration nothing uses, a quantified variable its formula never uses.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="rule files (*.nesy) to check")
    parser.add_argument(
        "--format", choices=("text", "json"), default="text",
        help="text: problems with source line and caret, summary on stderr (default); "
        "json: one JSON document on stdout",
    )
    parser.add_argument(
        "--strict", action="store_true", help="exit with status 1 on warnings too"
    )
    parser.set_defaults(handler=run)
    return parser


def run(args):
    reports = [(path, check_file(path, debug=args.debug)) for path in args.files]
    errors = sum(_count(ds, "error") for _, ds in reports)
    warnings = sum(_count(ds, "warning") for _, ds in reports)
    if args.format == "json":
        print(json.dumps(_document(reports, errors, warnings), indent=2))
    else:
        for _, diagnostics in reports:
            for d in diagnostics:
                print(d.format())
        n = len(reports)
        print(
            f"{n} file{'s' * (n != 1)} checked: {errors} error{'s' * (errors != 1)}, "
            f"{warnings} warning{'s' * (warnings != 1)}",
            file=sys.stderr,
        )
    return 1 if errors or (args.strict and warnings) else 0


def check_file(path, debug=False):
    """The diagnostics of the rule file at ``path`` (errors and warnings, by position)."""
    from nesy.logic import Diagnostic, RuleError, parse_path

    try:
        program = parse_path(path)
    except RuleError as e:
        return _by_position(e.diagnostics + e.warnings)
    except OSError as e:
        return [Diagnostic(f"cannot read file: {e.strerror or e}", path, 1, 1)]
    except UnicodeDecodeError as e:
        return [Diagnostic(f"cannot read file: not UTF-8 text ({e.reason})", path, 1, 1)]
    except Exception as e:  # a bug in nesy: report it, and go on with the other files
        if debug:
            raise
        return [Diagnostic(f"internal error: {type(e).__name__}: {e} (run with --debug "
                           "for the traceback)", path, 1, 1)]
    return list(program.warnings)


def _by_position(diagnostics):
    return sorted(diagnostics, key=lambda d: (d.filename, d.line, d.column))


def _count(diagnostics, severity):
    return sum(d.severity == severity for d in diagnostics)


def _document(reports, errors, warnings):
    files = []
    for path, diagnostics in reports:
        files.append({
            "file": path,
            "ok": _count(diagnostics, "error") == 0,
            "errors": _count(diagnostics, "error"),
            "warnings": _count(diagnostics, "warning"),
            "diagnostics": [
                {"severity": d.severity, "message": d.message, "file": d.filename,
                 "line": d.line, "column": d.column}
                for d in diagnostics
            ],
        })
    return {"files": files, "errors": errors, "warnings": warnings}

"""Errors in rule files: ``file:line:col: error: message``, the source line and a caret.

The checker collects every problem it finds into one ``RuleError`` (so a user fixes a file
in one pass); each problem is a ``Diagnostic`` that the command line can also print as JSON.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Diagnostic:
    """One problem at one place. ``severity`` is ``"error"`` or ``"warning"``."""

    message: str
    filename: str
    line: int
    column: int
    severity: str = "error"
    source_line: str | None = None

    def format(self):
        head = f"{self.filename}:{self.line}:{self.column}: {self.severity}: {self.message}"
        if self.source_line is None:
            return head
        caret = " " * (self.column - 1) + "^"
        return f"{head}\n    {self.source_line.rstrip()}\n    {caret}"

    def to_dict(self):
        return {k: v for k, v in asdict(self).items() if k != "source_line"}


class RuleError(ValueError):
    """A rule file (or a formula given in Python) is wrong; ``diagnostics`` lists each
    problem, the attributes ``filename``, ``line``, ``column`` and ``message`` are those of
    the first. ``warnings`` holds the warnings found next to the errors (not in the text)."""

    def __init__(self, diagnostics, warnings=()):
        self.diagnostics = tuple(diagnostics)
        self.warnings = tuple(warnings)
        first = self.diagnostics[0]
        self.filename, self.line, self.column = first.filename, first.line, first.column
        self.message = first.message
        super().__init__("\n".join(d.format() for d in self.diagnostics))


class Reporter:
    """Collects diagnostics with the source line of each, then raises them together."""

    def __init__(self, sources=()):
        self.sources = {name: text.splitlines() for name, text in sources}
        self.diagnostics = []

    def add_source(self, filename, text):
        self.sources[filename] = text.splitlines()

    def error(self, span, message):
        self._add(span, message, "error")

    def warning(self, span, message):
        self._add(span, message, "warning")

    def _add(self, span, message, severity):
        lines = self.sources.get(span.filename)
        source_line = None
        if lines is not None and 1 <= span.line <= len(lines):
            source_line = lines[span.line - 1]
        self.diagnostics.append(
            Diagnostic(message, span.filename, span.line, span.column, severity, source_line)
        )

    @property
    def errors(self):
        return [d for d in self.diagnostics if d.severity == "error"]

    @property
    def warnings(self):
        """The warnings, sorted by position, except those where an error is reported (the
        error says more)."""
        taken = {_where(d) for d in self.errors}
        return sorted((d for d in self.diagnostics
                       if d.severity == "warning" and _where(d) not in taken), key=_where)

    def raise_if_errors(self):
        errors = self.errors
        if errors:
            raise RuleError(sorted(errors, key=_where), self.warnings)


def _where(diagnostic):
    return (diagnostic.filename, diagnostic.line, diagnostic.column)


def error_at(span, message, source=None):
    """A ``RuleError`` for one place; ``source`` is the file's text for the caret line."""
    reporter = Reporter()
    if source is not None:
        reporter.add_source(span.filename, source)
    reporter.error(span, message)
    return RuleError(reporter.diagnostics)

"""A one-line progress bar on stderr: done/total, rate, ETA and a few named numbers.

Shown only when the stream is a terminal (or when asked), redrawn at most ten times a
second, so piping a command's output or running it in a batch job prints nothing extra.
"""

from __future__ import annotations

import sys
import time


def wants_progress(stream, requested=None):
    """``requested`` if given, else whether ``stream`` is an interactive terminal."""
    if requested is not None:
        return bool(requested)
    return bool(getattr(stream, "isatty", None) and stream.isatty())


class Progress:
    """``update(done, **numbers)`` redraws ``[=====   ] 12/100 sat 0.8123 9.5 it/s eta 9s``."""

    def __init__(self, total, stream=None, enabled=None, unit="it", width=24):
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = wants_progress(self.stream, enabled)
        self.unit = unit
        self.width = width
        self.start = time.perf_counter()
        self.last = 0.0
        self.drawn = False

    def update(self, done, **numbers):
        if not self.enabled:
            return
        now = time.perf_counter()
        if done < self.total and now - self.last < 0.1:
            return
        self.last = now
        elapsed = now - self.start
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - done) / rate if rate > 0 else 0.0
        filled = int(self.width * done / max(self.total, 1))
        shown = " ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
                         for k, v in numbers.items())
        self.stream.write(
            f"\r[{'=' * filled}{' ' * (self.width - filled)}] {done}/{self.total} "
            f"{shown + ' ' if shown else ''}{rate:.1f} {self.unit}/s eta {eta:.0f}s "
        )
        self.stream.flush()
        self.drawn = True

    def close(self):
        if self.enabled and self.drawn:
            self.stream.write("\n")
            self.stream.flush()

"""``nesy.train``: the training loop most knowledge bases need, with progress and history.

It is the plain PyTorch-style loop (``zero_grad``, ``loss``, ``backward``, ``step``) with a
progress line on stderr and a record of satisfaction per epoch; writing that loop by hand
works just as well.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field


@dataclass
class History:
    """Per-epoch ``satisfaction`` and ``loss`` (floats), and the wall time in seconds."""

    satisfaction: list = field(default_factory=list)
    loss: list = field(default_factory=list)
    seconds: float = 0.0

    @property
    def epochs(self):
        return len(self.loss)

    def __repr__(self):
        if not self.loss:
            return "History(no epochs)"
        return (f"History({self.epochs} epochs, satisfaction {self.satisfaction[0]:.4f} -> "
                f"{self.satisfaction[-1]:.4f}, {self.seconds:.1f} s)")


def train(kb, optimizer=None, epochs=100, *, lr=0.01, loss=None, progress=None,
          callback=None, stream=None):
    """Minimise ``kb.loss()`` for ``epochs`` steps; returns a ``History``.

    ``optimizer``: any ``nesy.optim`` optimizer (default ``Adam(kb.parameters(), lr)``).
    ``loss``: a callable returning the loss to minimise instead of ``kb.loss()`` (for
    example one that adds a supervised term); the recorded satisfaction is then
    ``1 - loss``. ``progress``: show a progress line on ``stream`` (default stderr); by
    default only when it is a terminal. ``callback(epoch, history)`` runs after each epoch;
    returning ``True`` stops training early.

    >>> import nesy
    >>> kb = nesy.logic.loads('''
    ...     domain P = {a, b}.  features P = embedding(2).
    ...     predicate Q(P) = mlp(hidden = [4]).
    ...     Q(a).  not Q(b).
    ... ''')
    >>> h = nesy.train(kb, epochs=50, lr=0.05, progress=False)
    >>> h.satisfaction[-1] > h.satisfaction[0]
    True
    """
    import nesy

    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"epochs must be a non-negative integer, got {epochs!r}")
    if optimizer is None:
        optimizer = nesy.optim.Adam(kb.parameters(), lr=lr)
    compute = loss if loss is not None else kb.loss
    stream = stream if stream is not None else sys.stderr
    if progress is None:
        progress = hasattr(stream, "isatty") and stream.isatty()
    bar = _Progress(epochs, stream) if progress else None
    history = History()
    start = time.perf_counter()
    if hasattr(kb, "train"):
        kb.train()
    for epoch in range(epochs):
        optimizer.zero_grad()
        value = compute()
        value.backward()
        optimizer.step()
        current = float(value.item())
        if not math.isfinite(current):
            raise FloatingPointError(f"the loss became {current} at epoch {epoch + 1}")
        history.loss.append(current)
        history.satisfaction.append(1.0 - current)
        history.seconds = time.perf_counter() - start
        if bar is not None:
            bar.update(epoch + 1, history)
        if callback is not None and callback(epoch + 1, history) is True:
            break
    if bar is not None:
        bar.close()
    return history


class _Progress:
    """A one-line progress bar redrawn at most ten times a second."""

    def __init__(self, total, stream):
        self.total, self.stream = total, stream
        self.last = 0.0

    def update(self, done, history):
        now = time.perf_counter()
        if done < self.total and now - self.last < 0.1:
            return
        self.last = now
        width = 24
        filled = int(width * done / max(self.total, 1))
        rate = done / history.seconds if history.seconds > 0 else 0.0
        eta = (self.total - done) / rate if rate > 0 else 0.0
        self.stream.write(
            f"\r[{'=' * filled}{' ' * (width - filled)}] {done}/{self.total} "
            f"sat {history.satisfaction[-1]:.4f} loss {history.loss[-1]:.4f} "
            f"{rate:.1f} it/s eta {eta:.0f}s "
        )
        self.stream.flush()

    def close(self):
        self.stream.write("\n")
        self.stream.flush()

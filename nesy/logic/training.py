"""``nesy.train``: the training loop most knowledge bases need, with progress and history.

It is the plain PyTorch-style loop (``zero_grad``, ``loss``, ``backward``, ``step``) with a
progress line on stderr and a record of satisfaction per epoch; writing that loop by hand
works just as well.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from nesy.progress import Progress


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
    bar = Progress(epochs, stream, progress, unit="epochs")
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
        bar.update(epoch + 1, sat=history.satisfaction[-1], loss=current)
        if callback is not None and callback(epoch + 1, history) is True:
            break
    bar.close()
    return history

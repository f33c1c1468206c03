"""Whether operations record a graph for backward: ``no_grad`` / ``enable_grad``.

The flag is thread-local, as in PyTorch, so a worker thread evaluating rules under
``no_grad`` never switches gradients off for the training thread beside it.
"""

from __future__ import annotations

import functools
import threading


class _State(threading.local):
    enabled = True  # class-level default: a fresh thread records graphs


_state = _State()


def is_grad_enabled() -> bool:
    """True when new operations are recorded for ``backward``."""
    return _state.enabled


def set_grad_enabled(mode: bool) -> None:
    """Turn graph recording on or off for this thread."""
    _state.enabled = bool(mode)


class _GradMode:
    """Context manager and decorator that sets the grad mode and restores it on exit."""

    mode = True

    def __enter__(self):
        self._prev = is_grad_enabled()
        set_grad_enabled(self.mode)
        return self

    def __exit__(self, *exc):
        set_grad_enabled(self._prev)
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with type(self)():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradMode):
    """Disable graph recording, e.g. for evaluation::

        >>> import nesy
        >>> x = nesy.ones(2, requires_grad=True)
        >>> with nesy.no_grad():
        ...     y = x * 2
        >>> y.requires_grad
        False
    """

    mode = False


class enable_grad(_GradMode):
    """Re-enable graph recording inside a ``no_grad`` block."""

    mode = True

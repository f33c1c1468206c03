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


class _GradMode:
    """Context manager and decorator that sets the grad mode and restores it on exit."""

    mode = True

    def __enter__(self):
        self._prev = _state.enabled
        _state.enabled = self.mode
        return self

    def __exit__(self, *exc):
        _state.enabled = self._prev
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self._clone():
                return fn(*args, **kwargs)

        return wrapper

    def _clone(self):
        # a fresh instance per call: one decorated function may run re-entrantly or in threads
        return type(self)()


class set_grad_enabled(_GradMode):
    """Turn graph recording on or off: as a call, a context manager or a decorator.

    As in PyTorch, calling it sets the mode at once (``nesy.set_grad_enabled(False)``); used
    with ``with`` or as ``@nesy.set_grad_enabled(False)``, the previous mode comes back after.

        >>> import nesy
        >>> x = nesy.ones(2, requires_grad=True)
        >>> with nesy.set_grad_enabled(False):
        ...     y = x * 2
        >>> y.requires_grad, nesy.is_grad_enabled()
        (False, True)
    """

    def __init__(self, mode: bool):
        self.mode = bool(mode)
        self._prev = _state.enabled
        _state.enabled = self.mode

    def __enter__(self):
        return self  # the mode was set by __init__; __exit__ restores what was there before

    def __call__(self, fn):
        _state.enabled = self._prev  # as a decorator, only calls of fn change the mode
        return super().__call__(fn)

    def _clone(self):
        return set_grad_enabled(self.mode)


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

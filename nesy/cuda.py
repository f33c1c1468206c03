"""``nesy.cuda``: is a GPU usable, and waiting for it.

>>> import nesy
>>> nesy.cuda.is_available() in (True, False)
True

Tensors move with ``t.to("cuda")``, modules with ``m.to("cuda")``. With
``NUMBA_ENABLE_CUDASIM=1`` set before nesy is imported, numba's CUDA simulator stands in for a
GPU (slow: each GPU thread is a Python thread), which is how the test-suite runs the CUDA
backend on machines without one.
"""

from __future__ import annotations

import os


def is_simulator() -> bool:
    """True when numba's CUDA simulator stands in for a GPU (``NUMBA_ENABLE_CUDASIM=1``)."""
    try:
        from numba import config
    except ImportError:
        return False
    return bool(config.ENABLE_CUDASIM) or os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"


def is_available() -> bool:
    """True when ``device="cuda"`` works: an NVIDIA GPU with a driver, or the simulator."""
    if is_simulator():
        return True
    try:
        from numba import cuda
    except ImportError:
        return False
    try:
        return bool(cuda.is_available())
    except Exception:  # a broken driver install reports through many exception types
        return False


def device_count() -> int:
    """How many GPUs numba sees (1 under the simulator, 0 without any)."""
    if not is_available():
        return 0
    if is_simulator():
        return 1
    from numba import cuda

    return len(cuda.gpus)


def synchronize() -> None:
    """Wait for every kernel launched so far to finish (for timing)."""
    if is_available():
        from numba import cuda

        cuda.synchronize()


__all__ = ["is_available", "is_simulator", "device_count", "synchronize"]
